//! What several of the agents tests set up or look at: the LLM over the OpenAI double, a conversation as
//! its members see it, and how many conversations and messages are stored.

use studio::knowledge::Llm;
use studio_testing::{TestApp, TestResponse, TestUser, openai_llm};
use wiremock::MockServer;

/// The OpenAI chat API doubled at `server`, giving up after `timeout_secs`.
pub fn llm_at(server: &MockServer, timeout_secs: u64) -> Llm {
    openai_llm(&format!("{}/v1", server.uri()), timeout_secs)
}

/// `GET /api/v1/agents/conversations/{conv}` as `user`.
pub async fn conversation_view(app: &TestApp, user: &TestUser, conv: &str) -> TestResponse {
    app.get(
        &format!("/api/v1/agents/conversations/{conv}"),
        Some(&user.access_token),
    )
    .await
}

/// How many conversations and messages are stored, in every workspace.
pub async fn counts(app: &TestApp) -> (i64, i64) {
    (
        app.value("SELECT count(*) FROM conversations", &[]).await,
        app.value("SELECT count(*) FROM messages", &[]).await,
    )
}
