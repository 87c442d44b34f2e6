//! The rate-limit layer as a client meets it, with the limiter in memory and behind Upstash (the machine's
//! Redis behind an Upstash-REST-compatible endpoint).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::knowledge_for;

use http::{Method, StatusCode};
use serde_json::json;
use studio::testing::{TestApp, TestDb, UpstashDouble, state_with};

async fn app(extra: &[(&str, &str)]) -> TestApp {
    let db = TestDb::new().await;
    let state = state_with(&db.url, extra);
    let (k, dir) = knowledge_for(&state);
    TestApp::with_state(devserver::routes(k), state, db.url).keeping(dir)
}

async fn login_from(app: &TestApp, ip: &str) -> studio::testing::TestResponse {
    app.send_with(
        Method::POST,
        "/api/v1/auth/login",
        None,
        Some(json!({"email": "x@example.com", "password": "wrong password"})),
        &[("x-forwarded-for", ip)],
    )
    .await
}

#[tokio::test]
async fn when_an_ip_passes_the_auth_limit_it_gets_429_with_headers_and_other_ips_do_not() {
    let upstash = UpstashDouble::start().await;
    let app = app(&[
        ("RATE_LIMIT_AUTH_PER_MINUTE", "3"),
        ("UPSTASH_REDIS_REST_URL", &upstash.url),
        ("UPSTASH_REDIS_REST_TOKEN", &upstash.token),
    ])
    .await;
    let ip = format!("198.51.100.{}", rand_octet());
    for remaining in [2, 1, 0] {
        let res = login_from(&app, &ip).await;
        assert_eq!(
            res.status,
            StatusCode::UNAUTHORIZED,
            "within the limit, the login itself answers"
        );
        assert_eq!(res.headers["ratelimit-limit"], "3");
        assert_eq!(
            res.headers["ratelimit-remaining"],
            remaining.to_string().as_str()
        );
    }
    let limited = login_from(&app, &ip).await;
    assert_eq!(
        (limited.status, limited.code()),
        (StatusCode::TOO_MANY_REQUESTS, "rate_limited")
    );
    let retry: u64 = limited.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry));
    assert_eq!(limited.headers["ratelimit-remaining"], "0");
    assert_eq!(
        login_from(&app, "203.0.113.77").await.status,
        StatusCode::UNAUTHORIZED,
        "another IP has its own window"
    );
    assert_eq!(
        app.get("/api/v1/auth/health", None).await.status,
        StatusCode::OK,
        "health is not limited"
    );
}

fn rand_octet() -> u8 {
    (uuid::Uuid::new_v4().as_u128() % 250) as u8
}

#[tokio::test]
async fn when_the_limiter_is_down_auth_fails_closed_and_other_routes_stay_open() {
    let app = app(&[
        ("UPSTASH_REDIS_REST_URL", "http://127.0.0.1:9"),
        ("UPSTASH_REDIS_REST_TOKEN", "t"),
        ("UPSTASH_TIMEOUT_MS", "200"),
    ])
    .await;
    let auth = login_from(&app, "192.0.2.1").await;
    assert_eq!(
        (auth.status, auth.code()),
        (StatusCode::SERVICE_UNAVAILABLE, "service_unavailable")
    );
    let user = app.user("Ada").await;
    let open = app
        .get("/api/v1/workspaces", Some(&user.access_token))
        .await;
    assert_eq!(open.status, StatusCode::OK, "fails open outside auth");
    assert!(!open.headers.contains_key("ratelimit-limit"));
}

#[tokio::test]
async fn when_a_tenant_passes_its_limit_its_requests_are_refused_whatever_the_ip() {
    let app = app(&[("RATE_LIMIT_API_PER_TENANT_PER_MINUTE", "2")]).await;
    let user = app.user("Ada").await;
    for ip in ["192.0.2.10", "192.0.2.11"] {
        let res = app
            .send_with(
                Method::GET,
                "/api/v1/workspaces",
                Some(&user.access_token),
                None,
                &[("x-forwarded-for", ip)],
            )
            .await;
        assert_eq!(res.status, StatusCode::OK);
    }
    let refused = app
        .send_with(
            Method::GET,
            "/api/v1/workspaces",
            Some(&user.access_token),
            None,
            &[("x-forwarded-for", "192.0.2.12")],
        )
        .await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    let other = app.user("Bob").await;
    assert_eq!(
        app.get("/api/v1/workspaces", Some(&other.access_token))
            .await
            .status,
        StatusCode::OK,
        "another tenant's budget is its own"
    );
}

#[tokio::test]
async fn when_configured_to_fail_open_auth_passes_while_the_limiter_is_down_and_api_can_fail_closed()
 {
    let app = app(&[
        ("UPSTASH_REDIS_REST_URL", "http://127.0.0.1:9"),
        ("UPSTASH_REDIS_REST_TOKEN", "t"),
        ("UPSTASH_TIMEOUT_MS", "200"),
        ("RATE_LIMIT_AUTH_FAIL_OPEN", "true"),
        ("RATE_LIMIT_API_FAIL_OPEN", "false"),
    ])
    .await;
    assert_eq!(
        login_from(&app, "192.0.2.2").await.status,
        StatusCode::UNAUTHORIZED,
        "auth passes to the handler"
    );
    let user = app.user("Ada").await;
    let closed = app
        .get("/api/v1/workspaces", Some(&user.access_token))
        .await;
    assert_eq!(
        (closed.status, closed.code()),
        (StatusCode::SERVICE_UNAVAILABLE, "service_unavailable")
    );
}
