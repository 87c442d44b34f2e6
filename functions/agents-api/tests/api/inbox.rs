//! The team's inbox of visitors' conversations: listed by status with the longest waiting first, a
//! person's reply (authored, taking the conversation), and status moves the handoff state machine allows
//! — for the roles and credentials that may, in their own workspace only. Visitors' conversations are
//! made here through the repository, as the public routes store them (those routes' own tests drive the
//! whole flow from the visitor's side).

use crate::support::visitor_conversation;
use http::{Method, StatusCode};
use serde_json::json;
use studio::Role;
use studio::agent::ConversationStatus;
use studio::knowledge::Embedder;
use studio_testing::{
    TestApp, TestResponse, TestUser, assert_error, knowledge_app, local_queue, secret_key,
};
use uuid::Uuid;

async fn setup() -> (TestApp, TestUser) {
    let (app, _k) = knowledge_app(Embedder::offline(), local_queue().0, agents_api::routes()).await;
    let ada = app.user("Ada").await;
    (app, ada)
}

async fn reply(app: &TestApp, token: &str, ws: &str, conv: &str, text: &str) -> TestResponse {
    app.send_with(
        Method::POST,
        &format!("/api/v1/agents/conversations/{conv}/messages"),
        Some(token),
        Some(json!({"message": text})),
        &[("x-workspace-id", ws)],
    )
    .await
}

async fn set_status(app: &TestApp, token: &str, conv: &str, status: &str) -> TestResponse {
    app.post(
        &format!("/api/v1/agents/conversations/{conv}/status"),
        Some(token),
        json!({"status": status}),
    )
    .await
}

fn ids(res: &TestResponse) -> Vec<String> {
    res.items()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn when_visitors_wait_the_inbox_lists_them_longest_waiting_first_by_status() {
    let (app, ada) = setup().await;
    let newest = visitor_conversation(&app, &ada, ConversationStatus::WaitingForHuman, 1).await;
    let oldest = visitor_conversation(&app, &ada, ConversationStatus::WaitingForHuman, 30).await;
    let middle = visitor_conversation(&app, &ada, ConversationStatus::WaitingForHuman, 10).await;
    let with_bot = visitor_conversation(&app, &ada, ConversationStatus::Bot, 5).await;
    // A member's own conversation is never in the inbox.
    app.post(
        "/api/v1/agents/customer-service/run",
        Some(&ada.access_token),
        json!({"message": "Hi"}),
    )
    .await;

    let waiting = app
        .get("/api/v1/agents/inbox", Some(&ada.access_token))
        .await;
    assert_eq!(
        ids(&waiting),
        [oldest.clone(), middle.clone(), newest.clone()]
    );
    assert_eq!(waiting.items()[0]["status"], "waiting_for_human");
    assert!(waiting.items()[0]["startedBy"]["visitorId"].is_string());

    let first = app
        .get("/api/v1/agents/inbox?limit=2", Some(&ada.access_token))
        .await;
    assert_eq!(ids(&first), [oldest, middle]);
    let cursor = first.str("/nextCursor");
    let second = app
        .get(
            &format!("/api/v1/agents/inbox?limit=2&cursor={cursor}"),
            Some(&ada.access_token),
        )
        .await;
    assert_eq!(ids(&second), [newest]);
    assert!(second.body["nextCursor"].is_null());

    let bots = app
        .get("/api/v1/agents/inbox?status=bot", Some(&ada.access_token))
        .await;
    assert_eq!(ids(&bots), [with_bot]);
    let bad = app
        .get(
            "/api/v1/agents/inbox?status=closed",
            Some(&ada.access_token),
        )
        .await;
    assert_eq!(bad.invalid_fields(), ["status"]);
}

#[tokio::test]
async fn when_a_member_replies_the_conversation_becomes_theirs_and_the_reply_is_authored() {
    let (app, ada) = setup().await;
    let ws = ada.workspace_id.to_string();
    let conv = visitor_conversation(&app, &ada, ConversationStatus::WaitingForHuman, 3).await;
    let res = reply(&app, &ada.access_token, &ws, &conv, "  Hello, Ada here.  ").await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    assert_eq!(res.body["status"], "human");
    assert_eq!(res.body["message"]["role"], "human");
    assert_eq!(res.body["message"]["content"], "Hello, Ada here.");
    assert_eq!(res.body["mailed"], false);
    let author: Uuid = app
        .value(
            "SELECT author_user_id FROM messages WHERE id = $1::text::uuid",
            &[&res.str("/message/id")],
        )
        .await;
    assert_eq!(author, ada.id);
    let waiting = app
        .get("/api/v1/agents/inbox", Some(&ada.access_token))
        .await;
    assert!(waiting.items().is_empty());
    let human = app
        .get("/api/v1/agents/inbox?status=human", Some(&ada.access_token))
        .await;
    assert_eq!(ids(&human), std::slice::from_ref(&conv));
    // The member view shows the reply as a person's.
    let view = app
        .get(
            &format!("/api/v1/agents/conversations/{conv}"),
            Some(&ada.access_token),
        )
        .await;
    assert_eq!(view.body["status"], "human");
    assert_eq!(view.body["messages"][1]["role"], "human");
}

#[tokio::test]
async fn when_the_caller_may_not_reply_or_it_is_not_a_visitors_conversation_it_is_refused() {
    let (app, ada) = setup().await;
    let ws = ada.workspace_id.to_string();
    let conv = visitor_conversation(&app, &ada, ConversationStatus::WaitingForHuman, 3).await;
    let viewer = app.member("Vic", &ada, Role::Viewer).await;
    assert_error(
        &reply(&app, &viewer.access_token, &ws, &conv, "Hi").await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    let (_, key) = secret_key(&app, &ada, &["chat"]).await;
    assert_error(
        &reply(&app, &key, &ws, &conv, "Hi").await,
        StatusCode::FORBIDDEN,
        "person_required",
    );
    let bob = app.user("Bob").await;
    assert_error(
        &reply(
            &app,
            &bob.access_token,
            &bob.workspace_id.to_string(),
            &conv,
            "Hi",
        )
        .await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    let own = app
        .post(
            "/api/v1/agents/customer-service/run",
            Some(&ada.access_token),
            json!({"message": "Hi"}),
        )
        .await
        .str("/convId");
    assert_error(
        &reply(&app, &ada.access_token, &ws, &own, "Hi").await,
        StatusCode::CONFLICT,
        "conflict",
    );
    assert_eq!(
        reply(&app, &ada.access_token, &ws, &conv, " ")
            .await
            .invalid_fields(),
        ["message"]
    );
    let stored: i64 = app
        .value("SELECT count(*) FROM messages WHERE role = 'human'", &[])
        .await;
    assert_eq!(stored, 0);
}

#[tokio::test]
async fn when_a_status_move_is_not_in_the_machine_it_is_409_and_a_key_may_resolve() {
    let (app, ada) = setup().await;
    let conv = visitor_conversation(&app, &ada, ConversationStatus::WaitingForHuman, 3).await;
    let (_, key) = secret_key(&app, &ada, &["chat"]).await;
    let resolved = set_status(&app, &key, &conv, "resolved").await;
    assert_eq!(resolved.status, StatusCode::OK, "{}", resolved.body);
    assert_eq!(resolved.body["status"], "resolved");
    let back = set_status(&app, &ada.access_token, &conv, "waiting_for_human").await;
    assert_error(&back, StatusCode::CONFLICT, "conflict");
    assert!(
        back.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("resolved")
    );
    assert_eq!(
        set_status(&app, &ada.access_token, &conv, "closed")
            .await
            .invalid_fields(),
        ["status"]
    );
    let taken = set_status(&app, &ada.access_token, &conv, "human").await;
    assert_eq!(taken.body["status"], "human");
    let (_, read_only) = secret_key(&app, &ada, &["read"]).await;
    assert_error(
        &set_status(&app, &read_only, &conv, "bot").await,
        StatusCode::FORBIDDEN,
        "insufficient_scope",
    );
}
