//! Plan quotas: at the limit a request still passes, past it the answer is 402 `quota_exceeded` naming the
//! limit, and nothing is consumed.

use http::StatusCode;
use serde_json::json;
use studio::billing::Plan;
use studio::knowledge::Embedder;
use studio_testing::{assert_error, knowledge_app, local_queue, set_plan};

#[tokio::test]
async fn when_chat_turns_or_tokens_reach_the_plan_limit_the_next_turn_is_402() {
    let (queue, _rx) = local_queue();
    let (app, _k) = knowledge_app(Embedder::offline(), queue, agents_api::routes()).await;
    let ada = app.user("Ada").await;
    let ask = || {
        app.post(
            "/api/v1/agents/customer-service/run",
            Some(&ada.access_token),
            json!({"message": "hi"}),
        )
    };
    let first = ask().await;
    let conv: uuid::Uuid = first.str("/convId").parse().unwrap();
    let db = app.sql().await;
    // The free plan allows 200 chat turns (assistant answers) a month: bring usage to 199.
    db.execute(
        "INSERT INTO messages (id, workspace_id, conversation_id, role, content)
         SELECT gen_random_uuid(), $1, $2, 'assistant', 'x' FROM generate_series(1, 198)",
        &[&ada.workspace_id, &conv],
    )
    .await
    .unwrap();
    assert_eq!(
        ask().await.status,
        StatusCode::OK,
        "the 200th turn is within the limit"
    );
    let past = ask().await;
    assert_error(&past, StatusCode::PAYMENT_REQUIRED, "quota_exceeded");
    assert_eq!(
        past.body["error"]["details"],
        json!({"limit": "chatTurnsPerMonth", "max": 200, "used": 200, "plan": "free"})
    );
    assert_eq!(
        past.body["error"]["message"],
        "The free plan allows 200 chat turns a month; 200 are used. Upgrade the plan to continue."
    );
    let messages: i64 = db
        .query_one(
            "SELECT count(*) FROM messages WHERE role = 'assistant'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(messages, 200, "the refused turn wrote nothing");

    // Upgrading lifts it; tokens are a limit of their own.
    set_plan(&app, ada.workspace_id, Plan::Pro).await;
    assert_eq!(ask().await.status, StatusCode::OK);
    db.execute(
        "UPDATE messages SET prompt_tokens = 2000000 WHERE id = (SELECT id FROM messages LIMIT 1)",
        &[],
    )
    .await
    .unwrap();
    let tokens = ask().await;
    assert_eq!(
        (
            tokens.status,
            tokens.body["error"]["details"]["limit"].as_str()
        ),
        (StatusCode::PAYMENT_REQUIRED, Some("llmTokensPerMonth"))
    );
}

#[tokio::test]
async fn when_documents_would_pass_the_plan_limit_the_ingest_is_402_and_nothing_is_stored() {
    let (queue, _rx) = local_queue();
    let (app, _k) = knowledge_app(Embedder::offline(), queue, agents_api::routes()).await;
    let ada = app.user("Ada").await;
    let db = app.sql().await;
    db.execute(
        "INSERT INTO kb_documents (id, workspace_id, title, content, content_hash)
         SELECT gen_random_uuid(), $1, 'd', 'x' || g, sha256(convert_to('x' || g, 'UTF8')) FROM generate_series(1, 995) g",
        &[&ada.workspace_id],
    )
    .await
    .unwrap();
    let docs = |n: usize| json!({"documents": (0..n).map(|i| json!({"title": format!("t{i}"), "content": format!("text {i}")})).collect::<Vec<_>>()});
    let over = app
        .post("/api/v1/agents/ingest", Some(&ada.access_token), docs(6))
        .await;
    assert_error(&over, StatusCode::PAYMENT_REQUIRED, "quota_exceeded");
    assert_eq!(over.body["error"]["details"]["limit"], "documents");
    assert_eq!(
        app.post("/api/v1/agents/ingest", Some(&ada.access_token), docs(5))
            .await
            .status,
        StatusCode::ACCEPTED,
        "exactly at the limit"
    );
    let stored: i64 = db
        .query_one("SELECT count(*) FROM kb_documents", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(stored, 1000);
    let new = json!({"documents": [{"title": "new", "content": "new text"}]});
    assert_eq!(
        app.post("/api/v1/agents/ingest", Some(&ada.access_token), new)
            .await
            .status,
        StatusCode::PAYMENT_REQUIRED
    );
    // A duplicate stores nothing, so it consumes nothing.
    let duplicate = app
        .post("/api/v1/agents/ingest", Some(&ada.access_token), docs(1))
        .await;
    assert_eq!(duplicate.status, StatusCode::ACCEPTED, "{}", duplicate.body);
    assert_eq!(duplicate.body["skipped"][0]["reason"], "duplicate");
}
