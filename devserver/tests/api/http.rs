//! Cross-cutting behaviour every route group shares: CORS from configuration, request ids, JSON answers
//! for unknown routes and methods.

use crate::common::{dev_app, knowledge_for};

use axum::body::Body;
use http::{Method, Request, StatusCode};
use studio_testing::{TestApp, TestDb, assert_error, state_with};

async fn app_with_origins(origins: &str) -> TestApp {
    let db = TestDb::new().await;
    let state = state_with(&db.url, &[("CORS_ALLOWED_ORIGINS", origins)]);
    {
        let (k, dir) = knowledge_for(&state);
        TestApp::with_state(devserver::routes(k).unwrap(), state, db.url).keeping(dir)
    }
}

fn preflight(origin: &str) -> Request<Body> {
    Request::builder()
        .method(Method::OPTIONS)
        .uri("/api/v1/auth/login")
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "content-type,authorization",
        )
        .body(Body::empty())
        .unwrap()
}

#[tokio::test]
async fn when_an_origin_is_configured_only_it_is_allowed_and_by_default_none_is() {
    let app = app_with_origins("https://app.example.com").await;
    let allowed = app.call(preflight("https://app.example.com")).await;
    assert_eq!(
        allowed.headers.get("access-control-allow-origin").unwrap(),
        "https://app.example.com"
    );
    let methods = allowed
        .headers
        .get("access-control-allow-methods")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(methods.contains("POST"), "{methods}");
    let other = app.call(preflight("https://evil.example.com")).await;
    assert!(other.headers.get("access-control-allow-origin").is_none());

    let default = dev_app().await;
    let res = default.call(preflight("https://app.example.com")).await;
    assert!(
        res.headers.get("access-control-allow-origin").is_none(),
        "nothing is allowed by default"
    );
}

#[tokio::test]
async fn when_a_client_sends_a_request_id_it_is_echoed_and_errors_carry_it() {
    let app = dev_app().await;
    let res = app
        .send_with(
            Method::GET,
            "/api/v1/auth/me",
            None,
            None,
            &[("x-request-id", "client-chosen-id-42")],
        )
        .await;
    assert_eq!(
        res.headers.get("x-request-id").unwrap(),
        "client-chosen-id-42"
    );
    assert_eq!(res.body["error"]["requestId"], "client-chosen-id-42");
    // Without one, a fresh id is made.
    let res = app.get("/api/v1/auth/me", None).await;
    assert_eq!(
        res.headers.get("x-request-id").unwrap().to_str().unwrap(),
        res.str("/error/requestId")
    );
}

#[tokio::test]
async fn when_a_route_or_method_does_not_exist_the_answer_is_the_json_error_model() {
    let app = dev_app().await;
    let missing = app.get("/api/v1/nothing-here", None).await;
    assert_error(&missing, StatusCode::NOT_FOUND, "not_found");
    let wrong_method = app
        .send(Method::PUT, "/api/v1/auth/login", None, None)
        .await;
    assert_error(
        &wrong_method,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    );
}
