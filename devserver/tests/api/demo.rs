//! The widget demo: the set-up at each start (the same account and workspace, a fresh password and key,
//! the welcome document once) and the demo site's page.

use crate::common::knowledge_for;
use axum::body::Body;
use http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::json;
use studio_testing::{TestApp, TestDb, assert_error};
use tower::ServiceExt;

const DEMO_PORT: u16 = 3001;

async fn open_session(app: &TestApp, key: &str, origin: &str) -> studio_testing::TestResponse {
    app.send_with(
        Method::POST,
        "/api/v1/public/sessions",
        Some(key),
        Some(json!({})),
        &[("origin", origin)],
    )
    .await
}

async fn login(app: &TestApp, password: &str) -> studio_testing::TestResponse {
    app.post(
        "/api/v1/auth/login",
        None,
        json!({"email": "demo@example.com", "password": password}),
    )
    .await
}

#[tokio::test]
async fn when_the_demo_is_set_up_at_each_start_the_account_stays_and_the_password_and_key_are_new()
{
    let db = TestDb::new().await;
    let state = studio_testing::state(&db.url);
    let (k, dir) = knowledge_for(&state);
    let app =
        TestApp::with_state(devserver::routes(k.clone()).unwrap(), state, db.url).keeping(dir);

    let first = devserver::demo::bootstrap(&k, DEMO_PORT).await.unwrap();
    let second = devserver::demo::bootstrap(&k, DEMO_PORT).await.unwrap();
    assert_eq!(
        (first.user_id, first.workspace_id),
        (second.user_id, second.workspace_id)
    );
    assert_eq!(second.email, "demo@example.com");
    assert!(second.key.starts_with("pk_ws_"));
    assert_ne!(first.key, second.key);
    assert_ne!(first.password, second.password);
    let (workspaces, users): (i64, i64) = (
        app.value(
            "SELECT count(*) FROM workspaces WHERE name = 'Demo workspace'",
            &[],
        )
        .await,
        app.value(
            "SELECT count(*) FROM users WHERE email = 'demo@example.com'",
            &[],
        )
        .await,
    );
    assert_eq!((workspaces, users), (1, 1));

    // The welcome document once, through the ingest path (pending until the worker indexes it).
    assert!(first.welcome_document.is_some());
    assert!(second.welcome_document.is_none());
    let documents: Vec<(String, String)> = app
        .sql()
        .await
        .query(
            "SELECT title, content_type FROM kb_documents WHERE workspace_id = $1",
            &[&first.workspace_id],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(
        documents,
        [("Welcome to the demo".to_owned(), "text/markdown".to_owned())]
    );
    let outbox: i64 = app
        .value(
            "SELECT count(*) FROM outbox WHERE workspace_id = $1",
            &[&first.workspace_id],
        )
        .await;
    assert_eq!(outbox, 1, "the ingestion's message is in the outbox");

    // The first key is revoked (audited), the new one opens sessions from the demo page's origins only.
    assert_error(
        &open_session(&app, &first.key, "http://localhost:3001").await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    );
    for origin in ["http://localhost:3001", "http://127.0.0.1:3001"] {
        let res = open_session(&app, &second.key, origin).await;
        assert_eq!(res.status, StatusCode::CREATED, "{origin}: {}", res.body);
    }
    let elsewhere = open_session(&app, &second.key, "http://localhost:4000").await;
    assert_error(&elsewhere, StatusCode::FORBIDDEN, "origin_not_allowed");
    let audited: Vec<String> = app
        .sql()
        .await
        .query(
            "SELECT action FROM audit_log WHERE workspace_id = $1 ORDER BY id",
            &[&first.workspace_id],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        audited,
        ["api_key.created", "api_key.revoked", "api_key.created"]
    );

    // The printed password logs in; the previous start's no longer does.
    let res = login(&app, &second.password).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_error(
        &login(&app, &first.password).await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    );
    // The vector store flushes when dropped, before the app removes its directory.
    drop(k);
}

async fn page(path: &str, host: &str) -> (StatusCode, http::HeaderMap, String) {
    let site = devserver::demo::app(3000, "pk_ws_demoKey-123");
    let response = site
        .oneshot(
            Request::builder()
                .uri(path)
                .header("host", host)
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let (parts, body) = response.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes();
    (
        parts.status,
        parts.headers,
        String::from_utf8(bytes.to_vec()).unwrap(),
    )
}

#[tokio::test]
async fn when_the_demo_page_is_opened_with_a_key_it_loads_the_widget_from_the_api_on_the_same_host()
{
    let (status, headers, html) = page("/demo?key=pk_ws_abc-DEF_123", "127.0.0.1:3001").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        headers.get("content-type").unwrap(),
        "text/html; charset=utf-8"
    );
    assert!(
        html.contains(r#"<script src="http://127.0.0.1:3000/widget/v1/widget.js" data-key="pk_ws_abc-DEF_123" async></script>"#),
        "{html}"
    );
    assert!(html.contains("<title>") && html.contains("<h1>"));
    let csp = headers
        .get("content-security-policy")
        .unwrap()
        .to_str()
        .unwrap();
    assert!(csp.contains("script-src http://127.0.0.1:3000;"), "{csp}");
    assert!(csp.contains("connect-src http://127.0.0.1:3000;"), "{csp}");
    assert!(csp.contains("default-src 'none'"), "{csp}");

    // Any other host name the request claims is replaced by localhost.
    let (_, headers, html) = page("/demo?key=pk_ws_abc", "evil.example.com:3001").await;
    assert!(html.contains(r#"src="http://localhost:3000/widget/v1/widget.js""#));
    assert!(
        headers
            .get("content-security-policy")
            .unwrap()
            .to_str()
            .unwrap()
            .contains("script-src http://localhost:3000;")
    );
    let (_, _, html) = page("/demo?key=pk_ws_abc", "[::1]:3001").await;
    assert!(html.contains(r#"src="http://[::1]:3000/widget/v1/widget.js""#));

    // The site's root sends the browser to the page with the key this start made.
    let (status, headers, _) = page("/", "localhost:3001").await;
    assert!(status.is_redirection());
    assert_eq!(
        headers.get("location").unwrap(),
        "/demo?key=pk_ws_demoKey-123"
    );
}

#[tokio::test]
async fn when_the_demo_page_gets_a_hostile_or_missing_key_it_says_how_to_get_one_and_renders_none_of_it()
 {
    for path in [
        "/demo?key=pk_%22%3E%3Cscript%3Ealert(1)%3C%2Fscript%3E",
        "/demo?key=sk_ws_secret",
        "/demo?key=",
        "/demo",
    ] {
        let (status, headers, html) = page(path, "localhost:3001").await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}");
        assert!(!html.contains("<script"), "{path}: {html}");
        assert!(!html.contains("alert(1)"), "{path}");
        assert!(!html.contains("sk_ws_secret"), "{path}");
        assert!(html.contains("publishable key"), "{path}");
        assert!(html.contains("cargo run -p devserver"), "{path}");
        assert!(headers.get("content-security-policy").is_some());
    }
}
