//! The Stripe webhook as Stripe calls it, against a real PostgreSQL.

use axum::body::Body;
use hmac::{Hmac, Mac};
use http::{Request, StatusCode};
use serde_json::{Value, json};
use sha2::Sha256;
use studio::AppState;
use studio::state::BillingState;
use studio_testing::{TestApp, TestDb, TestResponse, assert_error, state_with};

const SECRET: &str = "whsec_test_secret";

/// The Stripe route group over `state`, its Stripe client built as at a cold start.
fn stripe_app(state: AppState, db_url: String) -> TestApp {
    let billing = BillingState::new(state.clone()).expect("Stripe client");
    TestApp::with_state(stripe_webhook::routes().with_state(billing), state, db_url)
}

async fn app() -> TestApp {
    let db = TestDb::new().await;
    let state = state_with(
        &db.url,
        &[
            ("STRIPE_WEBHOOK_SECRET", SECRET),
            ("STRIPE_PRICE_PRO", "price_pro"),
            ("STRIPE_PRICE_BUSINESS", "price_biz"),
        ],
    );
    stripe_app(state, db.url)
}

fn sign(secret: &str, t: i64, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.{body}").as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

async fn deliver_with(app: &TestApp, body: &str, header: String) -> TestResponse {
    app.call(
        Request::post("/api/v1/stripe/webhook")
            .header("content-type", "application/json")
            .header("stripe-signature", header)
            .body(Body::from(body.to_owned()))
            .unwrap(),
    )
    .await
}

async fn deliver(app: &TestApp, event: &Value) -> TestResponse {
    let body = event.to_string();
    let now = chrono::Utc::now().timestamp();
    deliver_with(
        app,
        &body,
        format!("t={now},v1={}", sign(SECRET, now, &body)),
    )
    .await
}

fn subscription_event(
    id: &str,
    kind: &str,
    created: i64,
    workspace: uuid::Uuid,
    status: &str,
    price: &str,
) -> Value {
    json!({"id": id, "type": kind, "created": created, "data": {"object": {
        "id": "sub_1", "customer": "cus_1", "status": status, "metadata": {"workspaceId": workspace},
        "current_period_end": created + 2_592_000, "items": {"data": [{"price": {"id": price}}]}}}})
}

/// A subscription to Pro, created (at 1000) and active: the event `id` Stripe sends for it.
fn subscribed(id: &str, workspace: uuid::Uuid) -> Value {
    subscription_event(
        id,
        "customer.subscription.created",
        1_000,
        workspace,
        "active",
        "price_pro",
    )
}

async fn billing_state(app: &TestApp, ws: uuid::Uuid) -> (String, String) {
    let row = app
        .sql()
        .await
        .query_one(
            "SELECT plan, billing_status FROM workspaces WHERE id = $1",
            &[&ws],
        )
        .await
        .unwrap();
    (row.get(0), row.get(1))
}

#[tokio::test]
async fn when_a_signed_subscription_event_arrives_the_plan_follows_and_duplicates_change_nothing() {
    let app = app().await;
    let ada = app.user("Ada").await;
    let event = subscribed("evt_1", ada.workspace_id);
    let res = deliver(&app, &event).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(res.body["outcome"], "applied");
    assert_eq!(
        billing_state(&app, ada.workspace_id).await,
        ("pro".into(), "active".into())
    );

    // The same event again: acknowledged, nothing changes (even after a later change).
    let upgrade = subscription_event(
        "evt_2",
        "customer.subscription.updated",
        2_000,
        ada.workspace_id,
        "active",
        "price_biz",
    );
    assert_eq!(deliver(&app, &upgrade).await.body["outcome"], "applied");
    let again = deliver(&app, &event).await;
    assert_eq!(
        (again.status, again.body["outcome"].as_str()),
        (StatusCode::OK, Some("duplicate"))
    );
    assert_eq!(
        billing_state(&app, ada.workspace_id).await,
        ("business".into(), "active".into())
    );
}

#[tokio::test]
async fn when_events_arrive_out_of_order_the_latest_state_wins() {
    let app = app().await;
    let ada = app.user("Ada").await;
    let ws = ada.workspace_id;
    deliver(
        &app,
        &subscription_event(
            "evt_b",
            "customer.subscription.updated",
            2_000,
            ws,
            "active",
            "price_pro",
        ),
    )
    .await;
    let late = deliver(
        &app,
        &subscription_event(
            "evt_a",
            "customer.subscription.created",
            1_000,
            ws,
            "incomplete",
            "price_pro",
        ),
    )
    .await;
    assert_eq!(late.body["outcome"], "stale");
    assert_eq!(
        billing_state(&app, ws).await,
        ("pro".into(), "active".into())
    );
    let failed = json!({"id": "evt_c", "type": "invoice.payment_failed", "created": 3_000, "data": {"object": {"customer": "cus_1", "subscription": "sub_1"}}});
    assert_eq!(deliver(&app, &failed).await.body["outcome"], "applied");
    assert_eq!(billing_state(&app, ws).await.1, "past_due");
    let old_paid = json!({"id": "evt_d", "type": "invoice.paid", "created": 2_500, "data": {"object": {"customer": "cus_1"}}});
    assert_eq!(deliver(&app, &old_paid).await.body["outcome"], "stale");
    let deleted = subscription_event(
        "evt_e",
        "customer.subscription.deleted",
        4_000,
        ws,
        "canceled",
        "price_pro",
    );
    deliver(&app, &deleted).await;
    assert_eq!(
        billing_state(&app, ws).await,
        ("free".into(), "canceled".into())
    );
}

#[tokio::test]
async fn when_a_checkout_completes_the_customer_is_linked_and_unknown_types_are_acknowledged() {
    let app = app().await;
    let ada = app.user("Ada").await;
    let checkout = json!({"id": "evt_co", "type": "checkout.session.completed", "created": 10, "data": {"object": {
        "client_reference_id": ada.workspace_id, "customer": "cus_9", "subscription": "sub_9", "metadata": {"workspaceId": ada.workspace_id}}}});
    assert_eq!(deliver(&app, &checkout).await.body["outcome"], "applied");
    let linked: Option<String> = app
        .sql()
        .await
        .query_one(
            "SELECT stripe_customer_id FROM workspaces WHERE id = $1",
            &[&ada.workspace_id],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(linked.as_deref(), Some("cus_9"));
    let unknown = json!({"id": "evt_x", "type": "charge.refunded", "created": 20, "data": {"object": {"customer": "cus_9"}}});
    let res = deliver(&app, &unknown).await;
    assert_eq!(
        (res.status, res.body["outcome"].as_str()),
        (StatusCode::OK, Some("ignored"))
    );
    let stray = json!({"id": "evt_y", "type": "invoice.paid", "created": 30, "data": {"object": {"customer": "cus_unknown"}}});
    assert_eq!(deliver(&app, &stray).await.body["outcome"], "ignored");
}

#[tokio::test]
async fn when_the_signature_is_wrong_stale_missing_or_the_body_tampered_the_webhook_refuses_and_changes_nothing()
 {
    let app = app().await;
    let ada = app.user("Ada").await;
    let event = subscribed("evt_sig", ada.workspace_id);
    let body = event.to_string();
    let now = chrono::Utc::now().timestamp();
    let good = sign(SECRET, now, &body);
    let tampered = body.replace("price_pro", "price_biz");
    for (name, b, header) in [
        (
            "tampered body",
            tampered.as_str(),
            format!("t={now},v1={good}"),
        ),
        (
            "wrong secret",
            body.as_str(),
            format!("t={now},v1={}", sign("whsec_other", now, &body)),
        ),
        (
            "too old",
            body.as_str(),
            format!("t={},v1={}", now - 400, sign(SECRET, now - 400, &body)),
        ),
        ("garbage header", body.as_str(), "v1=zz".to_owned()),
    ] {
        let res = deliver_with(&app, b, header).await;
        assert_eq!(
            (res.status, res.code()),
            (StatusCode::BAD_REQUEST, "invalid_signature"),
            "{name}"
        );
    }
    let missing = app
        .call(
            Request::post("/api/v1/stripe/webhook")
                .body(Body::from(body.clone()))
                .unwrap(),
        )
        .await;
    assert_eq!(missing.code(), "invalid_signature");
    assert_eq!(
        billing_state(&app, ada.workspace_id).await,
        ("free".into(), "none".into())
    );
    let events: i64 = app
        .sql()
        .await
        .query_one("SELECT count(*) FROM stripe_events", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(events, 0);
    // Several v1 values, one of them right: accepted.
    let ok = deliver_with(
        &app,
        &body,
        format!(
            "t={now},v1={},v1={good}",
            sign("whsec_rotated_out", now, &body)
        ),
    )
    .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
}

#[tokio::test]
async fn when_the_sample_api_gateway_event_is_signed_and_replayed_the_plan_changes() {
    let db = TestDb::new().await;
    let state = state_with(
        &db.url,
        &[
            ("STRIPE_WEBHOOK_SECRET", SECRET),
            ("STRIPE_PRICE_PRO", "price_pro_sample"),
        ],
    );
    let app = stripe_app(state, db.url);
    let ada = app.user("Ada").await;
    let text = std::fs::read_to_string(format!(
        "{}/../../events/stripe-webhook.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let mut event: Value = serde_json::from_str(&text).unwrap();
    let body = event["body"]
        .as_str()
        .unwrap()
        .replace("REPLACE_WITH_WORKSPACE_ID", &ada.workspace_id.to_string());
    let now = chrono::Utc::now().timestamp();
    event["headers"]["stripe-signature"] =
        json!(format!("t={now},v1={}", sign(SECRET, now, &body)));
    event["body"] = json!(body);
    let request = lambda_http::request::from_str(&event.to_string()).unwrap();
    let res = app.call(request.map(|b| Body::from(b.to_vec()))).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(
        billing_state(&app, ada.workspace_id).await,
        ("pro".into(), "active".into())
    );
}

#[tokio::test]
async fn when_no_webhook_secret_is_configured_the_event_is_refused_with_503_naming_it() {
    let db = TestDb::new().await;
    let app = stripe_app(state_with(&db.url, &[]), db.url);
    let body = json!({"id": "evt_x", "type": "invoice.paid", "created": 1, "data": {"object": {}}});
    let res = deliver(&app, &body).await;
    // A 503 (Stripe retries the event) that says what to set, not an outage to wait out.
    assert_error(
        &res,
        StatusCode::SERVICE_UNAVAILABLE,
        "billing_not_configured",
    );
    assert_eq!(
        res.body["error"]["details"]["variable"],
        "STRIPE_WEBHOOK_SECRET"
    );
}
