//! The same handlers reached through the API Gateway events in `events/`, as Lambda delivers them.

use http::StatusCode;
use studio_testing::{TestApp, event_text, lambda_event};

#[tokio::test]
async fn when_the_register_event_arrives_through_api_gateway_the_user_is_created() {
    let app = TestApp::new(auth_api::routes()).await;
    let res = app.call(lambda_event("auth-register.json", "")).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    assert_eq!(res.body["user"]["email"], "ada@example.com");
    // API Gateway's request id is the one echoed to the client.
    assert_eq!(
        res.headers
            .get("x-request-id")
            .and_then(|v| v.to_str().ok()),
        Some(event_request_id("auth-register.json").as_str())
    );

    let res = app.call(lambda_event("auth-login.json", "")).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);

    let res = app.call(lambda_event("auth-health.json", "")).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(res.body["database"], "up");
}

fn event_request_id(name: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(&event_text(name, "")).unwrap();
    v["requestContext"]["requestId"]
        .as_str()
        .unwrap()
        .to_owned()
}
