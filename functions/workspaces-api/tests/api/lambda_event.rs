//! The workspaces handlers reached through the API Gateway events in `events/`.

use http::StatusCode;
use studio_testing::{TestApp, lambda_event};

#[tokio::test]
async fn when_the_workspace_events_arrive_through_api_gateway_they_are_served() {
    let app = TestApp::new(workspaces_api::routes()).await;
    let ada = app.user("Ada").await;
    let created = app
        .call(lambda_event("workspaces-create.json", &ada.access_token))
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(created.body["name"], "Support Team");
    let listed = app
        .call(lambda_event("workspaces-list.json", &ada.access_token))
        .await;
    assert_eq!(listed.status, StatusCode::OK);
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 2);
    let health = app.call(lambda_event("workspaces-health.json", "")).await;
    assert_eq!(health.status, StatusCode::OK);
    // The sample token placeholder itself is rejected, as any non-token is.
    let raw = app
        .call(lambda_event(
            "workspaces-list.json",
            "REPLACE_WITH_ACCESS_TOKEN",
        ))
        .await;
    assert_eq!(raw.status, StatusCode::UNAUTHORIZED);
}
