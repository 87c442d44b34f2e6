//! Shared set-up of the devserver's tests: the merged router over a fresh database and the embedded store.

pub fn knowledge_for(
    state: &studio::AppState,
) -> (studio::state::KnowledgeState, studio_testing::TempDir) {
    let (queue, _rx) = studio_testing::local_queue();
    studio_testing::knowledge(state, studio::knowledge::Embedder::offline(), queue)
}

pub async fn dev_app() -> studio_testing::TestApp {
    let db = studio_testing::TestDb::new().await;
    let state = studio_testing::state(&db.url);
    let (k, dir) = knowledge_for(&state);
    studio_testing::TestApp::with_state(devserver::routes(k).unwrap(), state, db.url).keeping(dir)
}
