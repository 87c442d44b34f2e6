//! `GET /api/v1/workspaces/{id}/audit-log`: what admins did in the workspace, newest first, paged back
//! with `before`, filtered by action — for the workspace's admins only, and only its own entries.

use http::StatusCode;
use serde_json::json;
use studio::Role;
use studio_testing::{TestApp, assert_error};

async fn app() -> TestApp {
    TestApp::new(workspaces_api::routes()).await
}

#[tokio::test]
async fn when_an_admin_reads_the_log_it_lists_the_workspaces_own_actions_newest_first() {
    let app = app().await;
    let ada = app.user("Ada").await;
    let ws = ada.workspace_id;
    let key = app
        .post(
            &format!("/api/v1/workspaces/{ws}/api-keys"),
            Some(&ada.access_token),
            json!({"name": "site", "kind": "publishable", "allowedOrigins": ["https://shop.example.com"]}),
        )
        .await;
    assert_eq!(key.status, StatusCode::CREATED, "{}", key.body);
    let key_id = key.str("/id");
    app.delete(
        &format!("/api/v1/workspaces/{ws}/api-keys/{key_id}"),
        Some(&ada.access_token),
    )
    .await;
    app.post(
        &format!("/api/v1/workspaces/{ws}/identity-secret"),
        Some(&ada.access_token),
        json!({}),
    )
    .await;
    // Another workspace's actions never show here.
    let bob = app.user("Bob").await;
    app.post(
        &format!("/api/v1/workspaces/{}/identity-secret", bob.workspace_id),
        Some(&bob.access_token),
        json!({}),
    )
    .await;

    let log = app
        .get(
            &format!("/api/v1/workspaces/{ws}/audit-log"),
            Some(&ada.access_token),
        )
        .await;
    assert_eq!(log.status, StatusCode::OK, "{}", log.body);
    let actions: Vec<&str> = log
        .items()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "identity_secret.rotate",
            "api_key.revoked",
            "api_key.created"
        ]
    );
    let newest = &log.items()[0];
    assert_eq!(newest["actorKind"], "member");
    assert_eq!(newest["actorUserId"], ada.id.to_string());
    assert!(
        !log.body.to_string().contains("ids_ws_"),
        "no secret in the log"
    );
    assert_eq!(log.items()[2]["targetId"], key_id.as_str());

    let first = app
        .get(
            &format!("/api/v1/workspaces/{ws}/audit-log?limit=2"),
            Some(&ada.access_token),
        )
        .await;
    assert_eq!(first.items().len(), 2);
    let before = first.body["nextBefore"].as_i64().expect("a next page");
    let rest = app
        .get(
            &format!("/api/v1/workspaces/{ws}/audit-log?limit=2&before={before}"),
            Some(&ada.access_token),
        )
        .await;
    assert_eq!(rest.items().len(), 1);
    assert_eq!(rest.items()[0]["action"], "api_key.created");
    assert!(rest.body["nextBefore"].is_null());
    let only = app
        .get(
            &format!("/api/v1/workspaces/{ws}/audit-log?action=api_key.revoked"),
            Some(&ada.access_token),
        )
        .await;
    assert_eq!(only.items().len(), 1);
}

#[tokio::test]
async fn when_a_member_below_admin_or_another_workspace_reads_the_log_it_is_refused() {
    let app = app().await;
    let ada = app.user("Ada").await;
    let path = format!("/api/v1/workspaces/{}/audit-log", ada.workspace_id);
    let member = app.member("Max", &ada, Role::Member).await;
    assert_error(
        &app.get(&path, Some(&member.access_token)).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    let bob = app.user("Bob").await;
    assert_error(
        &app.get(&path, Some(&bob.access_token)).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    let bad = app
        .get(&format!("{path}?limit=0"), Some(&ada.access_token))
        .await;
    assert_eq!(bad.invalid_fields(), ["limit"]);
}
