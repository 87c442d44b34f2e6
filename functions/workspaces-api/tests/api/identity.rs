//! The identity secret as an admin manages it: shown once at rotation, never by GET, the previous one
//! verifying for the grace after a rotation and not after, deleted (signed identity off), each change in
//! the audit log; members below admin and other workspaces refused.

use chrono::{DateTime, Utc};
use http::StatusCode;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use secrecy::ExposeSecret;
use serde_json::json;
use studio::Role;
use studio::auth::identity::{self, IdentityError, Secrets, VerifiedIdentity};
use studio::services::identity::secrets;
use studio_testing::{TestApp, TestUser, assert_error};
use uuid::Uuid;

async fn app() -> TestApp {
    TestApp::new(workspaces_api::routes()).await
}

fn path(ws: Uuid) -> String {
    format!("/api/v1/workspaces/{ws}/identity-secret")
}

/// A token for `sub` signed with `secret`, issued a minute before `at` and living ten minutes.
fn token(secret: &str, sub: &str, at: DateTime<Utc>) -> String {
    let t = at.timestamp();
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &json!({"sub": sub, "iat": t - 60, "exp": t + 540}),
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

async fn stored(app: &TestApp, by: &TestUser) -> Option<Secrets> {
    let ws = studio::WorkspaceId::from_trusted_source(by.workspace_id);
    secrets(&app.sql().await, ws).await.unwrap()
}

fn verify(token: &str, secrets: &Secrets, at: DateTime<Utc>) -> Result<String, IdentityError> {
    identity::verify(token, secrets, std::time::Duration::from_secs(3600), at)
        .map(|VerifiedIdentity { sub, .. }| sub)
}

#[tokio::test]
async fn when_an_admin_creates_the_secret_it_is_shown_once_and_verifies_tokens() {
    let app = app().await;
    let ada = app.user("Ada").await;
    let before = app
        .get(&path(ada.workspace_id), Some(&ada.access_token))
        .await;
    assert_eq!(before.status, StatusCode::OK, "{}", before.body);
    assert_eq!(
        before.body,
        json!({"enabled": false, "createdAt": null, "previousValidUntil": null})
    );

    let res = app
        .post(&path(ada.workspace_id), Some(&ada.access_token), json!({}))
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    let secret = res.str("/secret");
    assert!(
        secret.starts_with("ids_ws_") && secret.len() == 7 + 43,
        "{secret}"
    );
    assert!(res.body["previousValidUntil"].is_null(), "a first secret");

    let shown = app
        .get(&path(ada.workspace_id), Some(&ada.access_token))
        .await;
    assert_eq!(shown.status, StatusCode::OK);
    assert_eq!(shown.body["enabled"], true);
    assert_eq!(shown.body["createdAt"], res.body["createdAt"]);
    assert!(shown.body.get("secret").is_none(), "{}", shown.body);
    assert!(
        !shown.body.to_string().contains(&secret),
        "never shown again"
    );

    let secrets = stored(&app, &ada).await.expect("stored");
    assert_eq!(secrets.current.expose_secret(), secret);
    let now = Utc::now();
    assert_eq!(
        verify(&token(&secret, "user-1", now), &secrets, now),
        Ok("user-1".into())
    );
    assert_eq!(
        verify(&token("ids_ws_forged", "user-1", now), &secrets, now),
        Err(IdentityError::BadSignature)
    );
}

#[tokio::test]
async fn when_the_secret_is_rotated_the_previous_one_verifies_for_the_grace_then_not() {
    let app = app().await;
    let ada = app.user("Ada").await;
    let url = path(ada.workspace_id);
    let old = app
        .post(&url, Some(&ada.access_token), json!({}))
        .await
        .str("/secret");
    let res = app.post(&url, Some(&ada.access_token), json!({})).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    let new = res.str("/secret");
    assert_ne!(old, new);
    let until: DateTime<Utc> = res.str("/previousValidUntil").parse().unwrap();
    let grace = until - Utc::now();
    assert!(
        grace > chrono::Duration::hours(23) && grace <= chrono::Duration::hours(24),
        "the default grace is 24 hours: {grace}"
    );
    let shown = app.get(&url, Some(&ada.access_token)).await;
    assert_eq!(
        shown.body["previousValidUntil"],
        res.body["previousValidUntil"]
    );

    let secrets = stored(&app, &ada).await.expect("stored");
    let now = Utc::now();
    assert_eq!(
        verify(&token(&new, "u", now), &secrets, now),
        Ok("u".into())
    );
    assert_eq!(
        verify(&token(&old, "u", now), &secrets, now),
        Ok("u".into()),
        "the previous secret within the grace"
    );
    let late = until + chrono::Duration::seconds(1);
    assert_eq!(
        verify(&token(&old, "u", late), &secrets, late),
        Err(IdentityError::RetiredSecret),
        "the previous secret after the grace"
    );
    assert_eq!(
        verify(&token(&new, "u", late), &secrets, late),
        Ok("u".into())
    );
}

#[tokio::test]
async fn when_the_secret_is_deleted_signed_identity_is_off_and_every_change_is_audited() {
    let app = app().await;
    let ada = app.user("Ada").await;
    let url = path(ada.workspace_id);
    let secret = app
        .post(&url, Some(&ada.access_token), json!({}))
        .await
        .str("/secret");
    app.post(&url, Some(&ada.access_token), json!({})).await;

    let res = app.delete(&url, Some(&ada.access_token)).await;
    assert_eq!(res.status, StatusCode::NO_CONTENT, "{}", res.body);
    assert!(stored(&app, &ada).await.is_none(), "both secrets gone");
    let shown = app.get(&url, Some(&ada.access_token)).await;
    assert_eq!(shown.body["enabled"], false);
    let again = app.delete(&url, Some(&ada.access_token)).await;
    assert_eq!(
        again.status,
        StatusCode::NO_CONTENT,
        "deleting again changes nothing"
    );

    let rows = app
        .sql()
        .await
        .query(
            "SELECT action, actor_kind, actor_user_id, target_type, details::text FROM audit_log
              WHERE workspace_id = $1 ORDER BY id",
            &[&ada.workspace_id],
        )
        .await
        .unwrap();
    let entries: Vec<(String, String, Option<Uuid>, Option<String>)> = rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect();
    let entry = |action: &str| {
        (
            action.to_owned(),
            "member".to_owned(),
            Some(ada.id),
            Some("identity_secret".to_owned()),
        )
    };
    assert_eq!(
        entries,
        [
            entry("identity_secret.rotate"),
            entry("identity_secret.rotate"),
            entry("identity_secret.delete")
        ],
        "the second delete is not audited"
    );
    for row in &rows {
        let details: String = row.get(4);
        assert!(
            !details.contains(&secret),
            "no secret in the log: {details}"
        );
    }
}

#[tokio::test]
async fn when_a_member_below_admin_or_another_workspace_asks_it_is_refused() {
    let app = app().await;
    let ada = app.user("Ada").await;
    let bob = app.member("Bob", &ada, Role::Member).await;
    let eve = app.user("Eve").await;
    let url = path(ada.workspace_id);
    app.post(&url, Some(&ada.access_token), json!({})).await;
    let created: DateTime<Utc> = app
        .value("SELECT created_at FROM workspace_identity_secrets", &[])
        .await;

    for method in [http::Method::POST, http::Method::GET, http::Method::DELETE] {
        let res = app
            .send(method.clone(), &url, Some(&bob.access_token), None)
            .await;
        assert_error(&res, StatusCode::FORBIDDEN, "forbidden");
        let res = app
            .send(method.clone(), &url, Some(&eve.access_token), None)
            .await;
        assert_error(&res, StatusCode::NOT_FOUND, "not_found");
    }
    let after: DateTime<Utc> = app
        .value("SELECT created_at FROM workspace_identity_secrets", &[])
        .await;
    assert_eq!(created, after, "neither rotated nor deleted");
}
