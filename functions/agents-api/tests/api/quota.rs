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

#[tokio::test]
async fn when_a_plan_caps_monthly_cost_a_turn_past_the_cap_is_402_and_no_model_is_called() {
    let (queue, _rx) = local_queue();
    // The free plan's model calls may cost 0.10 USD a month; pro has no cap.
    let (app, _k) = studio_testing::knowledge_app_with(
        Embedder::offline(),
        studio::knowledge::Llm::offline(),
        queue,
        agents_api::routes(),
        &[("PLAN_MONTHLY_COST_CAPS", r#"{"free": 0.10}"#)],
    )
    .await;
    let ada = app.user("Ada").await;
    let ask = || {
        app.post(
            "/api/v1/agents/customer-service/run",
            Some(&ada.access_token),
            json!({"message": "hi"}),
        )
    };
    let spent = |prompt_tokens: i64| {
        let app = &app;
        async move {
            app.execute(
                "INSERT INTO usage_daily (workspace_id, day, kind, model, calls, prompt_tokens)
                 VALUES ($1, (now() AT TIME ZONE 'UTC')::date, 'chat', 'gpt-4o-mini', 1, $2)
                 ON CONFLICT (workspace_id, day, kind, model)
                 DO UPDATE SET prompt_tokens = usage_daily.prompt_tokens + EXCLUDED.prompt_tokens",
                &[&ada.workspace_id, &prompt_tokens],
            )
            .await;
        }
    };
    // Last month's calls do not count against this month's cap.
    app.execute(
        "INSERT INTO usage_daily (workspace_id, day, kind, model, calls, prompt_tokens)
         VALUES ($1, date_trunc('month', now() AT TIME ZONE 'UTC')::date - 1, 'chat', 'gpt-4o', 1, 100000000)",
        &[&ada.workspace_id],
    )
    .await;
    // 0.09 USD so far: under the cap.
    spent(600_000).await;
    assert_eq!(ask().await.status, StatusCode::OK);
    // 0.105 USD: at the cap, the next turn is refused before any model is called.
    spent(100_000).await;
    let (turns_before, _, _) = app.usage_today(ada.workspace_id, "chat").await;
    let past = ask().await;
    assert_error(&past, StatusCode::PAYMENT_REQUIRED, "quota_exceeded");
    assert_eq!(past.body["error"]["details"]["limit"], "costPerMonth");
    assert_eq!(past.body["error"]["details"]["max"], 0.1);
    assert_eq!(past.body["error"]["details"]["plan"], "free");
    assert_eq!(
        app.usage_today(ada.workspace_id, "chat").await.0,
        turns_before,
        "no model call recorded"
    );
    // A plan without a cap answers.
    set_plan(&app, ada.workspace_id, Plan::Pro).await;
    assert_eq!(ask().await.status, StatusCode::OK);
}
