//! The rate-limit layer as a client meets it, with the limiter in memory and behind Upstash (the machine's
//! Redis behind an Upstash-REST-compatible endpoint).

use crate::common::knowledge_for;

use http::{Method, StatusCode};
use serde_json::json;
use studio_testing::{TestApp, TestDb, UpstashDouble, assert_error, state_with};

async fn app(extra: &[(&str, &str)]) -> TestApp {
    let db = TestDb::new().await;
    let state = state_with(&db.url, extra);
    let (k, dir) = knowledge_for(&state);
    TestApp::with_state(devserver::routes(k).unwrap(), state, db.url).keeping(dir)
}

async fn login_from(app: &TestApp, ip: &str) -> studio_testing::TestResponse {
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
    assert_error(&limited, StatusCode::TOO_MANY_REQUESTS, "rate_limited");
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
    assert_error(
        &auth,
        StatusCode::SERVICE_UNAVAILABLE,
        "service_unavailable",
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
    assert_error(
        &closed,
        StatusCode::SERVICE_UNAVAILABLE,
        "service_unavailable",
    );
}

/// A client address no other test (or earlier run against the same Redis) uses.
fn fresh_ip() -> String {
    let n = uuid::Uuid::new_v4().as_u128();
    format!("2001:db8::{:x}:{:x}", (n >> 16) & 0xffff, n & 0xffff)
}

async fn me_from(app: &TestApp, token: &str, ip: &str) -> studio_testing::TestResponse {
    app.send_with(
        Method::GET,
        "/api/v1/auth/me",
        Some(token),
        None,
        &[("x-forwarded-for", ip)],
    )
    .await
}

async fn upstash_app(extra: &[(&str, &str)], upstash: &UpstashDouble) -> TestApp {
    let mut all = vec![
        ("UPSTASH_REDIS_REST_URL", upstash.url.as_str()),
        ("UPSTASH_REDIS_REST_TOKEN", upstash.token.as_str()),
    ];
    all.extend_from_slice(extra);
    app(&all).await
}

#[tokio::test]
async fn when_me_is_called_more_often_than_the_login_budget_login_from_that_ip_still_works() {
    let upstash = UpstashDouble::start().await;
    let app = upstash_app(&[("RATE_LIMIT_AUTH_PER_MINUTE", "3")], &upstash).await;
    let user = app.user("Ada").await;
    let ip = fresh_ip();
    for _ in 0..6 {
        let me = me_from(&app, &user.access_token, &ip).await;
        assert_eq!(me.status, StatusCode::OK, "{}", me.body);
        assert!(
            me.headers.contains_key("ratelimit-remaining"),
            "an authenticated read still says where its budget stands"
        );
    }
    for _ in 0..4 {
        let set = app
            .send_with(
                Method::PUT,
                "/api/v1/auth/me/default-workspace",
                Some(&user.access_token),
                Some(json!({"workspaceId": user.workspace_id})),
                &[("x-forwarded-for", ip.as_str())],
            )
            .await;
        assert_eq!(set.status, StatusCode::NO_CONTENT, "{}", set.body);
    }
    let login = login_from(&app, &ip).await;
    assert_eq!(
        login.status,
        StatusCode::UNAUTHORIZED,
        "the login budget is untouched: {}",
        login.body
    );
    assert_eq!(login.headers["ratelimit-limit"], "3");
    assert_eq!(login.headers["ratelimit-remaining"], "2");
}

#[tokio::test]
async fn when_credential_routes_carry_a_bearer_token_they_still_spend_the_ips_login_budget() {
    let upstash = UpstashDouble::start().await;
    let app = upstash_app(&[("RATE_LIMIT_AUTH_PER_MINUTE", "3")], &upstash).await;
    let user = app.user("Ada").await;
    let ip = fresh_ip();
    let with_bearer = |path: &'static str, body: serde_json::Value| {
        let (app, token, ip) = (&app, user.access_token.clone(), ip.clone());
        async move {
            app.send_with(
                Method::POST,
                path,
                Some(&token),
                Some(body),
                &[("x-forwarded-for", ip.as_str())],
            )
            .await
        }
    };
    let login = json!({"email": "x@example.com", "password": "wrong password"});
    for _ in 0..2 {
        let res = with_bearer("/api/v1/auth/login", login.clone()).await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED, "{}", res.body);
    }
    let refresh = with_bearer("/api/v1/auth/token", json!({"refreshToken": "not-a-token"})).await;
    assert_eq!(
        (
            refresh.status,
            refresh.headers["ratelimit-remaining"].to_str().unwrap()
        ),
        (StatusCode::UNAUTHORIZED, "0"),
        "refreshing shares the IP's budget with login"
    );
    for (path, body) in [
        ("/api/v1/auth/login", login.clone()),
        (
            "/api/v1/auth/register",
            json!({"email": "y@example.com", "password": "correct horse", "name": "Y"}),
        ),
        (
            "/api/v1/auth/password/forgot",
            json!({"email": "y@example.com"}),
        ),
        (
            "/api/v1/auth/password/reset",
            json!({"token": "t", "password": "correct horse"}),
        ),
        ("/api/v1/auth/token", json!({"refreshToken": "not-a-token"})),
        (
            "/api/v1/auth/logout",
            json!({"refreshToken": "not-a-token"}),
        ),
    ] {
        let res = with_bearer(path, body).await;
        assert_eq!(
            (res.status, res.code()),
            (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            "{path} with a valid bearer token is still on the IP's budget"
        );
    }
    assert_eq!(
        me_from(&app, &user.access_token, &ip).await.status,
        StatusCode::OK,
        "the user's own reads are not locked out with the IP's logins"
    );
}

#[tokio::test]
async fn when_a_user_spends_their_budget_on_me_only_their_reads_are_refused() {
    let upstash = UpstashDouble::start().await;
    let app = upstash_app(
        &[
            ("RATE_LIMIT_API_PER_TENANT_PER_MINUTE", "2"),
            ("RATE_LIMIT_AUTH_PER_MINUTE", "3"),
        ],
        &upstash,
    )
    .await;
    let ada = app.user("Ada").await;
    let bob = app.user("Bob").await;
    let ip = fresh_ip();
    for remaining in ["1", "0"] {
        let me = me_from(&app, &ada.access_token, &fresh_ip()).await;
        assert_eq!(me.status, StatusCode::OK);
        assert_eq!(me.headers["ratelimit-limit"], "2");
        assert_eq!(me.headers["ratelimit-remaining"], remaining);
    }
    let refused = me_from(&app, &ada.access_token, &ip).await;
    assert_eq!(
        (refused.status, refused.code()),
        (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
        "per user, whatever the IP"
    );
    assert!(refused.headers.contains_key("retry-after"));
    assert_eq!(
        me_from(&app, &bob.access_token, &ip).await.status,
        StatusCode::OK,
        "another user's budget is their own, from the same IP"
    );
    assert_eq!(
        login_from(&app, &ip).await.status,
        StatusCode::UNAUTHORIZED,
        "nor does it touch the IP's login budget"
    );
}

#[tokio::test]
async fn when_the_limiter_is_down_authenticated_auth_reads_stay_open_like_other_reads() {
    let app = app(&[
        ("UPSTASH_REDIS_REST_URL", "http://127.0.0.1:9"),
        ("UPSTASH_REDIS_REST_TOKEN", "t"),
        ("UPSTASH_TIMEOUT_MS", "200"),
    ])
    .await;
    let user = app.user("Ada").await;
    assert_eq!(
        me_from(&app, &user.access_token, "192.0.2.3").await.status,
        StatusCode::OK
    );
    let login = login_from(&app, "192.0.2.3").await;
    assert_eq!(
        login.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "login fails closed"
    );
}
