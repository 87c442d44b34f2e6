//! Intake → agent configuration, through the workspaces routes.

use http::{Method, StatusCode};
use serde_json::json;
use studio::Role;
use studio_testing::TestApp;

#[tokio::test]
async fn when_an_admin_saves_the_intake_the_agent_config_follows_and_viewers_can_read_it() {
    let app = TestApp::new(workspaces_api::routes()).await;
    let owner = app.user("Owner").await;
    let viewer = app.user("Viewer").await;
    app.add_member(owner.workspace_id, viewer.id, Role::Viewer)
        .await;
    let base = format!("/api/v1/workspaces/{}", owner.workspace_id);

    let before = app
        .get(&format!("{base}/agent-config"), Some(&viewer.access_token))
        .await;
    assert_eq!(before.status, StatusCode::OK, "{}", before.body);
    assert_eq!(before.body["config"]["companyName"], "Owner's workspace");
    assert_eq!(before.body["intake"], serde_json::Value::Null);

    let saved = app
        .send(Method::PUT, &format!("{base}/intake"), Some(&owner.access_token), Some(json!({"companyName": "Acme", "tone": "professional", "escalationEmail": "help@acme.example"})))
        .await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.body);
    assert_eq!(
        (
            saved.body["config"]["tone"].as_str(),
            saved.body["config"]["escalationEmail"].as_str()
        ),
        (Some("professional"), Some("help@acme.example"))
    );
    let after = app
        .get(&format!("{base}/agent-config"), Some(&viewer.access_token))
        .await;
    assert_eq!(after.body["config"]["companyName"], "Acme");
    assert_eq!(after.body["intake"]["tone"], "professional");

    let by_viewer = app
        .send(
            Method::PUT,
            &format!("{base}/intake"),
            Some(&viewer.access_token),
            Some(json!({"companyName": "Hijack"})),
        )
        .await;
    assert_eq!(by_viewer.status, StatusCode::FORBIDDEN);
    for bad in [
        json!({}),
        json!({"companyName": "A", "tone": "angry"}),
        json!({"companyName": "A", "website": "nope"}),
        json!({"companyName": "A", "pricing": 1}),
    ] {
        let res = app
            .send(
                Method::PUT,
                &format!("{base}/intake"),
                Some(&owner.access_token),
                Some(bad.clone()),
            )
            .await;
        assert_eq!(
            (res.status, res.code()),
            (StatusCode::BAD_REQUEST, "validation_failed"),
            "{bad}"
        );
    }
    let stranger = app.user("Stranger").await;
    assert_eq!(
        app.get(
            &format!("{base}/agent-config"),
            Some(&stranger.access_token)
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );
    let unchanged = app
        .get(&format!("{base}/agent-config"), Some(&owner.access_token))
        .await;
    assert_eq!(unchanged.body["config"]["companyName"], "Acme");
}

#[tokio::test]
async fn when_the_escalation_email_has_surrounding_spaces_they_are_trimmed() {
    let app = TestApp::new(workspaces_api::routes()).await;
    let owner = app.user("Owner").await;
    let intake = format!("/api/v1/workspaces/{}/intake", owner.workspace_id);
    let saved = app
        .send(
            Method::PUT,
            &intake,
            Some(&owner.access_token),
            Some(json!({"companyName": "Acme", "escalationEmail": "  Help@Acme.example\t"})),
        )
        .await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.body);
    assert_eq!(saved.body["config"]["escalationEmail"], "help@acme.example");
    assert_eq!(saved.body["intake"]["escalationEmail"], "Help@Acme.example");
    let without = app
        .send(
            Method::PUT,
            &intake,
            Some(&owner.access_token),
            Some(json!({"companyName": "Acme"})),
        )
        .await;
    assert_eq!(without.status, StatusCode::OK, "{}", without.body);
    assert_eq!(
        without.body["config"]["escalationEmail"],
        serde_json::Value::Null
    );
}
