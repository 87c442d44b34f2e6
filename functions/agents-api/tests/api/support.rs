//! What several of the agents tests set up or look at: the LLM over the OpenAI double, a conversation as
//! its members see it, how many conversations and messages are stored, and visitors' conversations as the
//! public routes store them.

use studio::WorkspaceId;
use studio::agent::{ConversationStatus, MessageRole};
use studio::auth::Caller;
use studio::knowledge::Llm;
use studio::repo::conversations::{self, NewMessage};
use studio_testing::{TestApp, TestResponse, TestUser, openai_llm};
use uuid::Uuid;
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

/// A visitor's conversation in `owner`'s workspace, with one question, in `status`, whose status changed
/// `minutes_ago`.
pub async fn visitor_conversation(
    app: &TestApp,
    owner: &TestUser,
    status: ConversationStatus,
    minutes_ago: i32,
) -> String {
    let db = app.sql().await;
    let ws = WorkspaceId::from_trusted_source(owner.workspace_id);
    let visitor = Uuid::now_v7();
    studio::repo::visitors::insert_anonymous(&db, ws, visitor, visitor.as_bytes())
        .await
        .unwrap();
    let conv = Uuid::now_v7();
    conversations::insert(&db, ws, conv, Caller::Visitor(visitor), "A question")
        .await
        .unwrap();
    conversations::insert_message(
        &db,
        ws,
        &NewMessage {
            id: Uuid::now_v7(),
            conversation: conv,
            role: MessageRole::User,
            content: "Where is my parcel?",
            sources: None,
            usage: None,
            author: None,
        },
    )
    .await
    .unwrap();
    conversations::set_status(&db, ws, conv, status)
        .await
        .unwrap();
    app.execute(
        "UPDATE conversations SET status_changed_at = now() - make_interval(mins => $2) WHERE id = $1",
        &[&conv, &minutes_ago],
    )
    .await;
    conv.to_string()
}

/// The visitor whose conversation `conv` is.
pub async fn visitor_of(app: &TestApp, conv: &str) -> String {
    let id: Uuid = app
        .value(
            "SELECT visitor_id FROM conversations WHERE id = $1::text::uuid",
            &[&conv],
        )
        .await;
    id.to_string()
}
