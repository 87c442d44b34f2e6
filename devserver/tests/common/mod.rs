//! Shared set-up of the devserver's tests: the merged router over a fresh database and the embedded store.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub fn knowledge_for(
    state: &studio::AppState,
) -> (studio::state::KnowledgeState, studio::testing::TempDir) {
    let (queue, _rx) = studio::testing::local_queue();
    studio::testing::knowledge(state, studio::knowledge::Embedder::offline(), queue)
}

pub async fn dev_app() -> studio::testing::TestApp {
    let db = studio::testing::TestDb::new().await;
    let state = studio::testing::state(&db.url);
    let (k, dir) = knowledge_for(&state);
    studio::testing::TestApp::with_state(devserver::routes(k).unwrap(), state, db.url).keeping(dir)
}
