//! A database that goes away gives 503 and a clear error, never a panic, and service comes back with it.

use http::StatusCode;
use serde_json::json;
use studio_testing::{PrivatePostgres, TestApp, assert_error};

#[tokio::test]
async fn when_the_database_stops_requests_get_503_and_recover_when_it_returns() {
    let pg = PrivatePostgres::start();
    let url = pg.url("studio");
    studio::db::ensure_database_exists(&url).await.unwrap();
    studio::db::migrate(&url).await.unwrap();
    let app = TestApp::with_state(
        workspaces_api::routes(),
        studio_testing::state(&url),
        url.clone(),
    );
    let ada = app.user("Ada").await;
    assert_eq!(
        app.get("/api/v1/workspaces", Some(&ada.access_token))
            .await
            .status,
        StatusCode::OK
    );

    pg.stop();
    let res = app
        .post(
            "/api/v1/workspaces",
            Some(&ada.access_token),
            json!({"name": "During outage"}),
        )
        .await;
    assert_error(&res, StatusCode::SERVICE_UNAVAILABLE, "service_unavailable");
    assert!(res.headers.contains_key("retry-after"));
    // The data-rights and usage routes answer the same way.
    let ws = format!("/api/v1/workspaces/{}", ada.workspace_id);
    for (method, path, body) in [
        (http::Method::GET, format!("{ws}/usage"), None),
        (http::Method::POST, format!("{ws}/export"), None),
        (http::Method::GET, format!("{ws}/export"), None),
        (
            http::Method::PUT,
            format!("{ws}/retention"),
            Some(json!({"conversationDays": 30})),
        ),
        (http::Method::DELETE, ws.clone(), None),
    ] {
        let res = app
            .send(method.clone(), &path, Some(&ada.access_token), body)
            .await;
        assert_error(&res, StatusCode::SERVICE_UNAVAILABLE, "service_unavailable");
    }
    let health = app.get("/api/v1/workspaces/health", None).await;
    assert_eq!(
        (health.status, health.body["database"].as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, Some("down"))
    );

    pg.resume();
    let mut recovered = None;
    for _ in 0..20 {
        let res = app.get("/api/v1/workspaces", Some(&ada.access_token)).await;
        if res.status == StatusCode::OK {
            recovered = Some(res);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    let listed = recovered.expect("service recovers once the database is back");
    let names: Vec<&str> = listed.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert!(
        !names.contains(&"During outage"),
        "nothing was written during the outage: {names:?}"
    );
}
