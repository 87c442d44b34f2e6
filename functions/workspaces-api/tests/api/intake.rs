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

#[tokio::test]
async fn when_the_intake_changes_the_first_language_the_knowledge_base_is_reindexed_in_it_once() {
    let app = TestApp::new(workspaces_api::routes()).await;
    let owner = app.user("Owner").await;
    let ws = owner.workspace_id;
    let base = format!("/api/v1/workspaces/{ws}");
    let put = |languages: serde_json::Value| {
        let app = &app;
        let token = owner.access_token.clone();
        let base = base.clone();
        async move {
            let res = app
                .send(
                    Method::PUT,
                    &format!("{base}/intake"),
                    Some(&token),
                    Some(json!({"companyName": "Acme", "languages": languages})),
                )
                .await;
            assert_eq!(res.status, StatusCode::OK, "{}", res.body);
        }
    };
    // No documents yet: the language is recorded, nothing to re-index.
    put(json!(["de-AT", "en"])).await;
    assert_eq!(language(&app, ws).await, "de");
    assert_eq!(jobs(&app, ws).await, 0);

    // With a searchable document, a change of the first language re-indexes the workspace, once.
    app.execute(
        "INSERT INTO kb_documents (id, workspace_id, title, content, content_hash, status, version) VALUES ($1, $2, 'Doc', 'Rückerstattungen', '\\x00', 'ready', 1)",
        &[&uuid::Uuid::now_v7(), &ws],
    )
    .await;
    put(json!(["fr"])).await;
    assert_eq!(language(&app, ws).await, "fr");
    assert_eq!(
        (jobs(&app, ws).await, announced(&app).await),
        (1, 1),
        "a job and its first step's message"
    );
    // Saving the same language again, or a change while that job is open, starts nothing new.
    put(json!(["fr", "de"])).await;
    put(json!(["it"])).await;
    assert_eq!(
        language(&app, ws).await,
        "it",
        "the open job reads each document's language as it goes"
    );
    assert_eq!(jobs(&app, ws).await, 1);
    // No languages: English.
    put(json!([])).await;
    assert_eq!(language(&app, ws).await, "en");
}

async fn language(app: &TestApp, ws: uuid::Uuid) -> String {
    app.value(
        "SELECT search_language FROM workspaces WHERE id = $1",
        &[&ws],
    )
    .await
}

async fn jobs(app: &TestApp, ws: uuid::Uuid) -> i64 {
    app.value(
        "SELECT count(*) FROM kb_reindex_jobs WHERE workspace_id = $1 AND reason = 'language'",
        &[&ws],
    )
    .await
}

async fn announced(app: &TestApp) -> i64 {
    app.value(
        "SELECT count(*) FROM outbox WHERE topic = 'ingest' AND payload ? 'reindexJobId'",
        &[],
    )
    .await
}
