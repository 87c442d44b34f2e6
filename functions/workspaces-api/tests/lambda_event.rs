//! The workspaces handlers reached through the API Gateway events in `events/`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use http::StatusCode;
use studio_testing::TestApp;

fn event(name: &str, access_token: &str) -> lambda_http::Request {
    let path = format!("{}/../../events/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
    lambda_http::request::from_str(&text.replace("REPLACE_WITH_ACCESS_TOKEN", access_token))
        .expect("an API Gateway v2 event")
}

#[tokio::test]
async fn when_the_workspace_events_arrive_through_api_gateway_they_are_served() {
    let app = TestApp::new(workspaces_api::routes()).await;
    let ada = app.user("Ada").await;
    let created = app
        .call(
            event("workspaces-create.json", &ada.access_token)
                .map(|b| axum::body::Body::from(b.to_vec())),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(created.body["name"], "Support Team");
    let listed = app
        .call(
            event("workspaces-list.json", &ada.access_token)
                .map(|b| axum::body::Body::from(b.to_vec())),
        )
        .await;
    assert_eq!(listed.status, StatusCode::OK);
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 2);
    let health = app
        .call(event("workspaces-health.json", "").map(|b| axum::body::Body::from(b.to_vec())))
        .await;
    assert_eq!(health.status, StatusCode::OK);
    // The sample token placeholder itself is rejected, as any non-token is.
    let raw = app
        .call(
            event("workspaces-list.json", "REPLACE_WITH_ACCESS_TOKEN")
                .map(|b| axum::body::Body::from(b.to_vec())),
        )
        .await;
    assert_eq!(raw.status, StatusCode::UNAUTHORIZED);
}
