//! Checkout and portal against Stripe's API doubled with wiremock: what is sent, who may ask, and Stripe down.

use http::{Method, StatusCode};
use serde_json::json;
use studio::AppState;
use studio::Role;
use studio::state::BillingState;
use studio_testing::{TestApp, TestDb, TestResponse, assert_error, state_with};
use uuid::Uuid;
use wiremock::matchers::{body_string_contains, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// The Stripe route group over `state`, its Stripe client built as at a cold start.
fn stripe_app(state: AppState, db_url: String) -> TestApp {
    let billing = BillingState::new(state.clone()).expect("Stripe client");
    TestApp::with_state(stripe_webhook::routes().with_state(billing), state, db_url)
}

async fn app(stripe: &MockServer) -> TestApp {
    let db = TestDb::new().await;
    let base = stripe.uri();
    let state = state_with(
        &db.url,
        &[
            ("STRIPE_SECRET_KEY", "sk_test_123"),
            ("STRIPE_API_BASE", &base),
            ("STRIPE_PRICE_PRO", "price_pro"),
            ("APP_URL", "https://app.example.com"),
        ],
    );
    stripe_app(state, db.url)
}

/// `POST /api/v1/stripe/checkout` for `plan`, as the holder of `token`.
async fn checkout(app: &TestApp, token: &str, plan: &str) -> TestResponse {
    app.post(
        "/api/v1/stripe/checkout",
        Some(token),
        json!({"plan": plan}),
    )
    .await
}

/// `POST /api/v1/stripe/portal`, as the holder of `token`.
async fn portal(app: &TestApp, token: &str) -> TestResponse {
    app.send(Method::POST, "/api/v1/stripe/portal", Some(token), None)
        .await
}

/// Gives the workspace the Stripe customer `cus_42`, as a first checkout would.
async fn give_customer(app: &TestApp, workspace: Uuid) {
    app.sql()
        .await
        .execute(
            "UPDATE workspaces SET stripe_customer_id = 'cus_42' WHERE id = $1",
            &[&workspace],
        )
        .await
        .unwrap();
}

/// Asserts that `res` says billing is not configured, naming the missing `variable` to set.
#[track_caller]
fn assert_not_configured(res: &TestResponse, variable: &str) {
    assert_error(
        res,
        StatusCode::SERVICE_UNAVAILABLE,
        "billing_not_configured",
    );
    assert!(
        res.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains(&format!("set {variable}")),
        "{}",
        res.body
    );
    assert_eq!(res.body["error"]["details"]["variable"], variable);
}

fn form(body: &[u8]) -> Vec<(String, String)> {
    serde_urlencoded::from_bytes(body).expect("form-encoded body")
}

#[tokio::test]
async fn when_an_owner_starts_checkout_stripe_gets_the_workspace_price_and_return_urls() {
    let stripe = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/checkout/sessions"))
        .and(header("authorization", "Bearer sk_test_123"))
        .and(body_string_contains("mode=subscription"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"id": "cs_1", "url": "https://checkout.stripe.com/c/cs_1"})),
        )
        .mount(&stripe)
        .await;
    let app = app(&stripe).await;
    let owner = app.user("Owner").await;
    let res = checkout(&app, &owner.access_token, "pro").await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(res.body["url"], "https://checkout.stripe.com/c/cs_1");
    let sent = form(&stripe.received_requests().await.unwrap()[0].body);
    let get = |k: &str| {
        sent.iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
    };
    let ws = owner.workspace_id.to_string();
    assert_eq!(get("line_items[0][price]").as_deref(), Some("price_pro"));
    assert_eq!(get("client_reference_id").as_deref(), Some(ws.as_str()));
    assert_eq!(get("metadata[workspaceId]").as_deref(), Some(ws.as_str()));
    assert_eq!(
        get("subscription_data[metadata][workspaceId]").as_deref(),
        Some(ws.as_str())
    );
    assert_eq!(
        get("success_url").as_deref(),
        Some("https://app.example.com/billing?checkout=success")
    );
    assert!(get("customer").is_none(), "no customer yet");
}

#[tokio::test]
async fn when_the_caller_is_not_the_owner_or_the_plan_is_wrong_or_stripe_is_down_the_error_is_clear()
 {
    let stripe = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500).set_body_string("oops"))
        .mount(&stripe)
        .await;
    let app = app(&stripe).await;
    let owner = app.user("Owner").await;
    let admin = app.user("Admin").await;
    app.add_member(owner.workspace_id, admin.id, Role::Admin)
        .await;
    let ws = owner.workspace_id.to_string();
    let by_admin = app
        .send_with(
            Method::POST,
            "/api/v1/stripe/checkout",
            Some(&admin.access_token),
            Some(json!({"plan": "pro"})),
            &[("x-workspace-id", &ws)],
        )
        .await;
    assert_eq!(by_admin.status, StatusCode::FORBIDDEN);
    let bad = checkout(&app, &owner.access_token, "platinum").await;
    assert_error(&bad, StatusCode::BAD_REQUEST, "validation_failed");
    let no_price = checkout(&app, &owner.access_token, "business").await;
    // A missing price is the operator's configuration, not an outage: no retry will help.
    assert_not_configured(&no_price, "STRIPE_PRICE_BUSINESS");
    assert!(no_price.headers.get("retry-after").is_none());
    let down = checkout(&app, &owner.access_token, "pro").await;
    assert_error(
        &down,
        StatusCode::SERVICE_UNAVAILABLE,
        "service_unavailable",
    );
    let no_customer = portal(&app, &owner.access_token).await;
    assert_error(&no_customer, StatusCode::CONFLICT, "conflict");
}

#[tokio::test]
async fn when_the_workspace_has_a_customer_the_portal_opens_for_it() {
    let stripe = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/billing_portal/sessions"))
        .and(body_string_contains("customer=cus_42"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"url": "https://billing.stripe.com/p/session_1"})),
        )
        .mount(&stripe)
        .await;
    let app = app(&stripe).await;
    let owner = app.user("Owner").await;
    give_customer(&app, owner.workspace_id).await;
    let res = portal(&app, &owner.access_token).await;
    assert_eq!(
        (res.status, res.body["url"].as_str()),
        (
            StatusCode::OK,
            Some("https://billing.stripe.com/p/session_1")
        ),
        "{}",
        res.body
    );
    let sent = form(&stripe.received_requests().await.unwrap()[0].body);
    assert!(sent.contains(&(
        "return_url".to_owned(),
        "https://app.example.com/billing".to_owned()
    )));
}

#[tokio::test]
async fn when_the_stripe_secret_key_is_missing_checkout_and_portal_say_billing_is_not_configured() {
    let db = TestDb::new().await;
    let state = state_with(&db.url, &[("STRIPE_PRICE_PRO", "price_pro")]);
    let app = stripe_app(state, db.url);
    let owner = app.user("Owner").await;
    give_customer(&app, owner.workspace_id).await;
    let checkout = checkout(&app, &owner.access_token, "pro").await;
    let portal = portal(&app, &owner.access_token).await;
    for res in [checkout, portal] {
        assert_not_configured(&res, "STRIPE_SECRET_KEY");
    }
}
