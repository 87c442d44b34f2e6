//! The knowledge state and routes over a fresh database, with an in-process queue.

use crate::*;
use axum::Router;
use studio::AppState;

/// The knowledge state for tests: the given embedder and queue, the embedded vector store in a temporary
/// directory (the same engine as Qdrant's server).
pub fn knowledge(
    app: &AppState,
    embedder: studio::knowledge::Embedder,
    queue: studio::knowledge::Queue,
) -> (studio::state::KnowledgeState, TempDir) {
    let dir = TempDir::new("studio-vectors");
    let dense = embedder.dense().map(|(_, d)| d);
    let vectors =
        studio::knowledge::VectorStore::embedded(dir.path_str(), dense).expect("embedded store");
    // The configured bucket (moto's, through AWS_ENDPOINT_URL) or a directory of the temporary one.
    let files = match &app.config.uploads.bucket {
        Some(_) => studio::storage::FileStore::from_config(&app.config.uploads, false),
        None => Some(studio::storage::FileStore::Local(
            studio::storage::LocalFiles::new(
                std::path::Path::new(dir.path_str()).join("uploads"),
                app.config.uploads.local_url.clone(),
            ),
        )),
    };
    // One store for both states, as in the functions (locally: one signing key).
    let mut app = app.clone();
    app.files = files.clone();
    (
        studio::state::KnowledgeState {
            app: app.clone(),
            embedder,
            llm: studio::knowledge::Llm::offline(),
            vectors,
            queue,
            files,
            crawl: app
                .config
                .crawl
                .queue_url
                .clone()
                .map(studio::queue::Queue::sqs),
            previous: None,
        },
        dir,
    )
}

/// An in-process queue and the receiving end the test reads from.
pub fn local_queue() -> (
    studio::knowledge::Queue,
    tokio::sync::mpsc::UnboundedReceiver<String>,
) {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    (studio::knowledge::Queue::Local(tx), rx)
}

/// The knowledge routes over a fresh database, the given embedder and queue, and the offline LLM.
pub async fn knowledge_app(
    embedder: studio::knowledge::Embedder,
    queue: studio::knowledge::Queue,
    routes: Router<studio::state::KnowledgeState>,
) -> (TestApp, studio::state::KnowledgeState) {
    knowledge_app_with(
        embedder,
        studio::knowledge::Llm::offline(),
        queue,
        routes,
        &[],
    )
    .await
}

/// The same, with an LLM and extra configuration values.
pub async fn knowledge_app_with(
    embedder: studio::knowledge::Embedder,
    llm: studio::knowledge::Llm,
    queue: studio::knowledge::Queue,
    routes: Router<studio::state::KnowledgeState>,
    extra: &[(&str, &str)],
) -> (TestApp, studio::state::KnowledgeState) {
    let db = TestDb::new().await;
    let app_state = state_with(&db.url, extra);
    let (mut k, dir) = knowledge(&app_state, embedder, queue);
    k.llm = llm;
    let app =
        TestApp::with_router(studio::http::app(routes, k.clone()), app_state, db.url).keeping(dir);
    (app, k)
}
