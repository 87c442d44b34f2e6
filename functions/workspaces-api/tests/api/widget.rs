//! The widget's settings: defaults from the intake, saved by an admin (each bad field named, nothing
//! saved then), read back by any member, audited; below admin refused to save, other workspaces 404.

use http::{Method, StatusCode};
use serde_json::{Value, json};
use studio::Role;
use studio_testing::{TestApp, TestResponse, TestUser, assert_error};
use uuid::Uuid;

async fn app() -> TestApp {
    TestApp::new(workspaces_api::routes()).await
}

fn path(ws: Uuid) -> String {
    format!("/api/v1/workspaces/{ws}/widget")
}

async fn put(app: &TestApp, ws: Uuid, by: &TestUser, body: Value) -> TestResponse {
    app.send(Method::PUT, &path(ws), Some(&by.access_token), Some(body))
        .await
}

fn settings() -> Value {
    json!({"agentName": "Ada's helper", "greeting": "Hello there!", "brandColor": "#1A2B3C",
           "requireIdentity": true, "autoEscalateWithoutContext": false, "humanWaitMinutes": 15,
           "budgets": {"messagesPerConversation": 30, "messagesPerVisitorPerDay": 90,
                       "workspaceDailyTokens": 500000}})
}

#[tokio::test]
async fn when_nothing_is_saved_the_widget_follows_the_intake_and_defaults() {
    let app = app().await;
    let ada = app.user("Ada").await;
    let res = app
        .get(&path(ada.workspace_id), Some(&ada.access_token))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(res.body["updatedAt"], Value::Null);
    assert_eq!(res.body["requireIdentity"], false);
    assert_eq!(res.body["autoEscalateWithoutContext"], true);
    assert_eq!(res.body["humanWaitMinutes"], 10);
    assert_eq!(res.body["brandColor"], Value::Null);
    assert_eq!(
        res.body["budgets"],
        json!({"messagesPerConversation": 50, "messagesPerVisitorPerDay": 200,
               "workspaceDailyTokens": 1_000_000})
    );

    app.set_intake(
        &ada,
        json!({"companyName": "Acme", "greeting": "Welcome to Acme!",
               "subsystems": {"customerService": true, "escalation": false}}),
    )
    .await;
    let res = app
        .get(&path(ada.workspace_id), Some(&ada.access_token))
        .await;
    assert_eq!(res.body["agentName"], "Acme");
    assert_eq!(res.body["greeting"], "Welcome to Acme!");
    assert_eq!(res.body["autoEscalateWithoutContext"], false);
}

#[tokio::test]
async fn when_an_admin_saves_settings_a_viewer_reads_them_back_and_the_change_is_audited() {
    let app = app().await;
    let ada = app.user("Ada").await;
    let vic = app.member("Vic", &ada, Role::Viewer).await;
    let res = put(&app, ada.workspace_id, &ada, settings()).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(res.body["brandColor"], "#1a2b3c", "lower-cased");
    assert!(res.body["updatedAt"].is_string());

    let read = app
        .get(&path(ada.workspace_id), Some(&vic.access_token))
        .await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.body);
    assert_eq!(read.body, res.body);
    assert_eq!(read.body["agentName"], "Ada's helper");
    assert_eq!(read.body["humanWaitMinutes"], 15);
    assert_eq!(read.body["budgets"]["workspaceDailyTokens"], 500_000);

    let refused = put(&app, ada.workspace_id, &vic, settings()).await;
    assert_error(&refused, StatusCode::FORBIDDEN, "forbidden");

    let minimal = json!({"requireIdentity": false, "autoEscalateWithoutContext": true,
                         "humanWaitMinutes": 1});
    let res = put(&app, ada.workspace_id, &ada, minimal).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_ne!(res.body["agentName"], "Ada's helper", "back to the default");
    assert_eq!(res.body["budgets"]["messagesPerConversation"], 50);

    let actions: Vec<(String, Option<Uuid>)> = app
        .sql()
        .await
        .query(
            "SELECT action, actor_user_id FROM audit_log WHERE workspace_id = $1 ORDER BY id",
            &[&ada.workspace_id],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(
        actions,
        [
            ("widget.update".to_owned(), Some(ada.id)),
            ("widget.update".to_owned(), Some(ada.id))
        ],
        "the viewer's refused change is not"
    );
}

#[tokio::test]
async fn when_settings_are_bad_the_answer_names_each_field_and_nothing_is_saved() {
    let app = app().await;
    let ada = app.user("Ada").await;
    let with = |field: &str, value: Value| {
        let mut body = settings();
        body[field] = value;
        body
    };
    let mut budgets = settings();
    budgets["budgets"]["messagesPerConversation"] = json!(0);
    let mut missing = settings();
    missing.as_object_mut().unwrap().remove("humanWaitMinutes");
    for (body, expected) in [
        (with("brandColor", json!("red")), vec!["brandColor"]),
        (with("brandColor", json!("#12345")), vec!["brandColor"]),
        (with("greeting", json!("x".repeat(301))), vec!["greeting"]),
        (with("greeting", json!("two\nlines")), vec!["greeting"]),
        (with("agentName", json!("Ada\u{0}")), vec!["agentName"]),
        (with("agentName", json!("")), vec!["agentName"]),
        (with("humanWaitMinutes", json!(0)), vec!["humanWaitMinutes"]),
        (
            with("humanWaitMinutes", json!(1441)),
            vec!["humanWaitMinutes"],
        ),
        (with("theme", json!("dark")), vec!["theme"]),
        (budgets, vec!["budgets.messagesPerConversation"]),
        (missing, vec!["humanWaitMinutes"]),
    ] {
        let res = put(&app, ada.workspace_id, &ada, body.clone()).await;
        assert_eq!(res.invalid_fields(), expected, "{body} → {}", res.body);
    }
    let saved: i64 = app.value("SELECT count(*) FROM widget_settings", &[]).await;
    assert_eq!(saved, 0, "nothing saved");
}

#[tokio::test]
async fn when_another_workspace_is_named_it_is_not_found() {
    let app = app().await;
    let ada = app.user("Ada").await;
    let eve = app.user("Eve").await;
    let res = app
        .get(&path(ada.workspace_id), Some(&eve.access_token))
        .await;
    assert_error(&res, StatusCode::NOT_FOUND, "not_found");
    let res = put(&app, ada.workspace_id, &eve, settings()).await;
    assert_error(&res, StatusCode::NOT_FOUND, "not_found");
}
