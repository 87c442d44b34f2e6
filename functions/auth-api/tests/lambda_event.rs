//! The same handlers reached through the API Gateway events in `events/`, as Lambda delivers them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use http::StatusCode;
use studio_testing::TestApp;

fn event(name: &str) -> String {
    let path = format!("{}/../../events/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"))
}

#[tokio::test]
async fn when_the_register_event_arrives_through_api_gateway_the_user_is_created() {
    let app = TestApp::new(auth_api::routes()).await;
    let request = lambda_http::request::from_str(&event("auth-register.json"))
        .expect("an API Gateway v2 event");
    let res = app
        .call(request.map(|b| axum::body::Body::from(b.to_vec())))
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    assert_eq!(res.body["user"]["email"], "ada@example.com");
    // API Gateway's request id is the one echoed to the client.
    assert_eq!(
        res.headers
            .get("x-request-id")
            .and_then(|v| v.to_str().ok()),
        Some(event_request_id("auth-register.json").as_str())
    );

    let login = lambda_http::request::from_str(&event("auth-login.json")).expect("event");
    let res = app
        .call(login.map(|b| axum::body::Body::from(b.to_vec())))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);

    let health = lambda_http::request::from_str(&event("auth-health.json")).expect("event");
    let res = app
        .call(health.map(|b| axum::body::Body::from(b.to_vec())))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(res.body["database"], "up");
}

fn event_request_id(name: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(&event(name)).unwrap();
    v["requestContext"]["requestId"]
        .as_str()
        .unwrap()
        .to_owned()
}
