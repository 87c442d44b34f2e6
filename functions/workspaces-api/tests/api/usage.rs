//! `/api/v1/workspaces/{workspaceId}/usage`: the per-day and per-month sums of what a workspace used —
//! messages, answers, tokens by model, documents — and their cost with the price table; admins only,
//! one tenant's only, bad ranges refused.

use http::StatusCode;
use serde_json::{Value, json};
use studio::Role;
use studio_testing::{TestApp, TestDb, assert_error, state_with};
use uuid::Uuid;

async fn usage(app: &TestApp, token: &str, ws: Uuid, query: &str) -> studio_testing::TestResponse {
    app.get(
        &format!("/api/v1/workspaces/{ws}/usage{query}"),
        Some(token),
    )
    .await
}

/// Arranges a model's use on `day` (as the recording does, one row per day, kind and model).
async fn used(app: &TestApp, ws: Uuid, day: &str, kind: &str, model: &str, tokens: (i64, i64)) {
    app.execute(
        "INSERT INTO usage_daily (workspace_id, day, kind, model, calls, prompt_tokens, completion_tokens)
         VALUES ($1, $2::text::date, $3, $4, 1, $5, $6)",
        &[&ws, &day, &kind, &model, &tokens.0, &tokens.1],
    )
    .await;
}

async fn message(app: &TestApp, ws: Uuid, conversation: Uuid, at: &str, role: &str) {
    app.execute(
        "INSERT INTO messages (id, workspace_id, conversation_id, role, content, created_at)
         VALUES ($1, $2, $3, $4, 'hi', $5::text::timestamptz)",
        &[&Uuid::now_v7(), &ws, &conversation, &role, &at],
    )
    .await;
}

fn amount(v: &Value) -> f64 {
    v["amount"]
        .as_f64()
        .unwrap_or_else(|| panic!("an amount: {v}"))
}

#[tokio::test]
async fn when_an_admin_reads_usage_per_day_and_month_the_sums_and_costs_are_the_recorded_ones() {
    let db = TestDb::new().await;
    // A deployment's own price for its own model, beside the default table.
    let state = state_with(
        &db.url,
        &[(
            "MODEL_PRICES",
            r#"{"house-model": {"input": 1.0, "output": 2.0}}"#,
        )],
    );
    let app = TestApp::with_state(workspaces_api::routes(), state, db.url);
    let ada = app.user("Ada").await;
    let admin = app.member("Bob", &ada, Role::Admin).await;
    let member = app.member("Cy", &ada, Role::Member).await;
    let eve = app.user("Eve").await;
    let ws = ada.workspace_id;

    // 3 Nov: two chat calls of gpt-4o-mini (1M prompt + 100k completion tokens in all), an embedding.
    used(
        &app,
        ws,
        "2026-11-03",
        "chat",
        "gpt-4o-mini",
        (1_000_000, 100_000),
    )
    .await;
    used(
        &app,
        ws,
        "2026-11-03",
        "embedding",
        "text-embedding-3-small",
        (500_000, 0),
    )
    .await;
    // 4 Nov: the house model, and a model the table does not price.
    used(
        &app,
        ws,
        "2026-11-04",
        "chat",
        "house-model",
        (2_000_000, 1_000_000),
    )
    .await;
    used(&app, ws, "2026-11-04", "chat", "mystery-model", (10, 10)).await;
    // 2 Dec, another month; and Eve's workspace, which is not Ada's.
    used(
        &app,
        ws,
        "2026-12-02",
        "chat",
        "gpt-4o-mini",
        (2_000_000, 0),
    )
    .await;
    used(
        &app,
        eve.workspace_id,
        "2026-11-03",
        "chat",
        "gpt-4o-mini",
        (9_000_000, 0),
    )
    .await;
    let conversation = Uuid::now_v7();
    app.execute(
        "INSERT INTO conversations (id, workspace_id, title) VALUES ($1, $2, 'q')",
        &[&conversation, &ws],
    )
    .await;
    message(&app, ws, conversation, "2026-11-03T10:00:00Z", "user").await;
    message(&app, ws, conversation, "2026-11-03T10:00:01Z", "assistant").await;
    message(&app, ws, conversation, "2026-11-04T23:59:59Z", "assistant").await;
    app.execute(
        "INSERT INTO kb_documents (id, workspace_id, title, content, content_hash, status, version, created_at)
         VALUES ($1, $2, 'Doc', 'twelve bytes', '\\x00', 'ready', 1, '2026-11-04T08:00:00Z')",
        &[&Uuid::now_v7(), &ws],
    )
    .await;

    let days = usage(
        &app,
        &admin.access_token,
        ws,
        "?from=2026-11-02&to=2026-11-05",
    )
    .await;
    assert_eq!(days.status, StatusCode::OK, "{}", days.body);
    let items = days.body["items"].as_array().unwrap();
    let periods: Vec<&str> = items
        .iter()
        .map(|i| i["period"].as_str().unwrap())
        .collect();
    assert_eq!(
        periods,
        ["2026-11-02", "2026-11-03", "2026-11-04", "2026-11-05"]
    );
    let (nov2, nov3, nov4) = (&items[0], &items[1], &items[2]);
    assert_eq!(nov2["messages"], 0);
    assert_eq!(amount(&nov2["estimatedCost"]), 0.0);
    assert_eq!(
        (
            &nov3["messages"],
            &nov3["turns"],
            &nov3["promptTokens"],
            &nov3["completionTokens"],
            &nov3["embeddingTokens"]
        ),
        (
            &json!(2),
            &json!(1),
            &json!(1_000_000),
            &json!(100_000),
            &json!(500_000)
        )
    );
    // gpt-4o-mini: 0.15 + 0.1 × 0.60; text-embedding-3-small: 0.5 × 0.02.
    assert!(
        (amount(&nov3["estimatedCost"]) - (0.15 + 0.06 + 0.01)).abs() < 1e-9,
        "{nov3}"
    );
    assert_eq!(nov3["estimatedCost"]["currency"], "USD");
    assert_eq!(nov4["turns"], 1);
    assert_eq!(nov4["documents"], 1);
    assert_eq!(nov4["storageBytes"], 12);
    // The house model at its configured price (2 × 1.0 + 1 × 2.0); the mystery model uncounted.
    assert!(
        (amount(&nov4["estimatedCost"]) - 4.0).abs() < 1e-9,
        "{nov4}"
    );
    let mystery = nov4["models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["model"] == "mystery-model")
        .unwrap();
    assert_eq!(mystery["estimatedCost"], Value::Null);
    assert_eq!(days.body["unpricedModels"], json!(["mystery-model"]));
    assert!((amount(&days.body["totalEstimatedCost"]) - 4.22).abs() < 1e-9);

    // Per month: November's sums; Eve's 9M tokens are nowhere.
    let months = usage(
        &app,
        &ada.access_token,
        ws,
        "?granularity=month&from=2026-11-01&to=2026-12-31",
    )
    .await;
    assert_eq!(months.status, StatusCode::OK, "{}", months.body);
    let items = months.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["period"], "2026-11");
    assert_eq!(items[0]["promptTokens"], 3_000_010);
    assert_eq!(items[0]["messages"], 3);
    assert_eq!(items[1]["period"], "2026-12");
    assert_eq!(items[1]["promptTokens"], 2_000_000);
    assert!((amount(&items[1]["estimatedCost"]) - 0.30).abs() < 1e-9);

    // Admins only; another tenant's workspace does not exist for Eve; bad ranges say why.
    assert_error(
        &usage(&app, &member.access_token, ws, "").await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    assert_error(
        &usage(&app, &eve.access_token, ws, "").await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    for bad in [
        "?from=2026-11-05&to=2026-11-01",
        "?from=2024-01-01&to=2026-01-01",
        "?from=yesterday",
        "?granularity=week",
        "?granularity=month&from=2020-01-01&to=2026-01-01",
        "?other=1",
    ] {
        let res = usage(&app, &ada.access_token, ws, bad).await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{bad}: {}", res.body);
    }
    // Without a range: the last 30 days, today's included.
    let recent = usage(&app, &ada.access_token, ws, "").await;
    assert_eq!(recent.body["items"].as_array().unwrap().len(), 30);
    assert_eq!(recent.body["granularity"], "day");
}
