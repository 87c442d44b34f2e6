//! Which workspace a request acts on when the path does not say: `X-Workspace-Id`, else the token's `wid`.

use axum::Router;
use axum::routing::get;
use http::{Method, StatusCode};
use studio::auth::{MemberRole, Tenant, Viewer};
use studio::{AppState, Role};
use studio_testing::{TestApp, assert_error};

fn probe_routes() -> Router<AppState> {
    Router::new()
        .route(
            "/probe",
            get(|t: Tenant<Viewer>| async move {
                axum::Json(serde_json::json!({"workspace": t.workspace_id, "role": t.role}))
            }),
        )
        .route(
            "/probe/write",
            get(|t: Tenant<MemberRole>| async move {
                axum::Json(serde_json::json!({"workspace": t.workspace_id}))
            }),
        )
}

#[tokio::test]
async fn when_no_path_names_the_workspace_the_header_wins_over_the_token() {
    let app = TestApp::new(probe_routes()).await;
    let ada = app.user("Ada").await;
    let bob = app.user("Bob").await;
    app.add_member(bob.workspace_id, ada.id, Role::Viewer).await;

    let from_token = app.get("/probe", Some(&ada.access_token)).await;
    assert_eq!(from_token.body["workspace"], ada.workspace_id.to_string());
    assert_eq!(from_token.body["role"], "owner");

    let header = bob.workspace_id.to_string();
    let from_header = app
        .send_with(
            Method::GET,
            "/probe",
            Some(&ada.access_token),
            None,
            &[("x-workspace-id", &header)],
        )
        .await;
    assert_eq!(from_header.body["workspace"], header);
    assert_eq!(from_header.body["role"], "viewer");

    // Viewer is below member: 403 on a member route of a workspace Ada can see.
    let write = app
        .send_with(
            Method::GET,
            "/probe/write",
            Some(&ada.access_token),
            None,
            &[("x-workspace-id", &header)],
        )
        .await;
    assert_error(&write, StatusCode::FORBIDDEN, "forbidden");

    let bad = app
        .send_with(
            Method::GET,
            "/probe",
            Some(&ada.access_token),
            None,
            &[("x-workspace-id", "nope")],
        )
        .await;
    assert_error(&bad, StatusCode::BAD_REQUEST, "validation_failed");
    let stranger = app.user("Stranger").await;
    let foreign = stranger.workspace_id.to_string();
    let other = app
        .send_with(
            Method::GET,
            "/probe",
            Some(&ada.access_token),
            None,
            &[("x-workspace-id", &foreign)],
        )
        .await;
    assert_eq!(other.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn when_the_token_names_no_workspace_and_no_header_is_sent_the_error_says_how_to_choose() {
    let app = TestApp::new(probe_routes()).await;
    let ada = app.user("Ada").await;
    let token = app.state.jwt.issue(ada.id, None).unwrap();
    let res = app.get("/probe", Some(&token)).await;
    assert_error(&res, StatusCode::BAD_REQUEST, "validation_failed");
    assert!(
        res.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("X-Workspace-Id")
    );
}
