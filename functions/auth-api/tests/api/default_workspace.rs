//! The default workspace as a client sees it: `/auth/me` names it, `PUT /auth/me/default-workspace` sets it
//! (members only), and the tokens issued afterwards — login, refresh — act in it.

use crate::support::{login, refresh, switch, wid};
use http::{Method, StatusCode};
use serde_json::{Value, json};
use studio_testing::{TEST_PASSWORD, TestApp, TestResponse, TestUser};
use uuid::Uuid;

const DEFAULT: &str = "/api/v1/auth/me/default-workspace";

async fn app() -> TestApp {
    TestApp::new(auth_api::routes()).await
}

async fn set_default(app: &TestApp, token: Option<&str>, body: Value) -> TestResponse {
    app.send(Method::PUT, DEFAULT, token, Some(body)).await
}

async fn default_of(app: &TestApp, user: &TestUser) -> Value {
    let me = app.get("/api/v1/auth/me", Some(&user.access_token)).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.body);
    me.body["defaultWorkspaceId"].clone()
}

/// `user` sets `workspace` as their default.
async fn choose(app: &TestApp, user: &TestUser, workspace: Uuid) -> TestResponse {
    set_default(
        app,
        Some(&user.access_token),
        json!({"workspaceId": workspace}),
    )
    .await
}

async fn delete_workspace(app: &TestApp, workspace: Uuid) {
    app.execute(
        "UPDATE workspaces SET deleted_at = now() WHERE id = $1",
        &[&workspace],
    )
    .await;
}

async fn second_workspace(app: &TestApp, user: &TestUser) -> Uuid {
    studio::services::workspaces::create(&app.state, user.id, "Second")
        .await
        .unwrap()
        .id
}

#[tokio::test]
async fn when_the_default_workspace_is_set_me_shows_it_and_the_next_login_and_refresh_act_in_it() {
    let app = app().await;
    let ada = app.user("Ada").await;
    assert_eq!(default_of(&app, &ada).await, json!(ada.workspace_id));
    let second = second_workspace(&app, &ada).await;
    assert_eq!(
        default_of(&app, &ada).await,
        json!(ada.workspace_id),
        "creating a workspace does not move the default"
    );

    let set = choose(&app, &ada, second).await;
    assert_eq!(set.status, StatusCode::NO_CONTENT, "{}", set.body);
    assert_eq!(set.body, Value::Null);
    assert_eq!(default_of(&app, &ada).await, json!(second));
    // Setting it again is the same answer.
    assert_eq!(
        choose(&app, &ada, second).await.status,
        StatusCode::NO_CONTENT
    );

    // The session's next token follows the default (the old token named the first workspace)...
    assert_eq!(wid(&app, &ada.access_token), Some(ada.workspace_id));
    let refreshed = refresh(&app, &ada.refresh_token).await;
    assert_eq!(refreshed.status, StatusCode::OK, "{}", refreshed.body);
    assert_eq!(wid(&app, &refreshed.str("/accessToken")), Some(second));
    // ... and so does a new login.
    let login = login(&app, &ada.email, TEST_PASSWORD).await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.body);
    assert_eq!(wid(&app, &login.str("/accessToken")), Some(second));

    // Switching with POST /auth/token {workspaceId} keeps working, and moves the default too.
    let switched = switch(&app, &login.str("/refreshToken"), ada.workspace_id).await;
    assert_eq!(switched.status, StatusCode::OK, "{}", switched.body);
    assert_eq!(
        wid(&app, &switched.str("/accessToken")),
        Some(ada.workspace_id)
    );
    assert_eq!(default_of(&app, &ada).await, json!(ada.workspace_id));
}

#[tokio::test]
async fn when_the_default_workspace_is_not_the_callers_or_not_a_uuid_it_is_refused_and_unchanged() {
    let app = app().await;
    let ada = app.user("Ada").await;
    let stranger = app.user("Stranger").await;
    let cases = [
        (
            json!({"workspaceId": stranger.workspace_id}),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            json!({"workspaceId": Uuid::new_v4()}),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            json!({"workspaceId": "not-a-uuid"}),
            StatusCode::BAD_REQUEST,
            "validation_failed",
        ),
        (
            json!({"workspaceId": 42}),
            StatusCode::BAD_REQUEST,
            "validation_failed",
        ),
        (json!({}), StatusCode::BAD_REQUEST, "validation_failed"),
        (
            json!({"workspaceId": ada.workspace_id, "extra": true}),
            StatusCode::BAD_REQUEST,
            "validation_failed",
        ),
    ];
    let mut not_found_messages = Vec::new();
    for (body, status, code) in cases {
        let res = set_default(&app, Some(&ada.access_token), body.clone()).await;
        assert_eq!(
            (res.status, res.code()),
            (status, code),
            "{body}: {}",
            res.body
        );
        if status == StatusCode::NOT_FOUND {
            not_found_messages.push(res.body["error"]["message"].clone());
        }
    }
    assert_eq!(
        not_found_messages[0], not_found_messages[1],
        "another tenant's workspace is indistinguishable from none"
    );
    let bad = set_default(
        &app,
        Some(&ada.access_token),
        json!({"workspaceId": "nope"}),
    )
    .await;
    assert_eq!(bad.body["error"]["details"][0]["field"], "workspaceId");
    let missing = set_default(&app, Some(&ada.access_token), json!({})).await;
    assert_eq!(missing.body["error"]["details"][0]["field"], "workspaceId");

    // Without a token: 401.
    let anonymous = set_default(&app, None, json!({"workspaceId": ada.workspace_id})).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);

    // A deleted workspace the caller was a member of is gone like any other.
    let second = second_workspace(&app, &ada).await;
    delete_workspace(&app, second).await;
    assert_eq!(
        choose(&app, &ada, second).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(default_of(&app, &ada).await, json!(ada.workspace_id));
    let stored: Option<Uuid> = app
        .value(
            "SELECT last_workspace_id FROM users WHERE id = $1",
            &[&ada.id],
        )
        .await;
    assert_eq!(stored, Some(ada.workspace_id), "nothing was written");
}

#[tokio::test]
async fn when_the_default_workspace_is_deleted_me_names_the_one_login_would_choose() {
    let app = app().await;
    let ada = app.user("Ada").await;
    let second = second_workspace(&app, &ada).await;
    assert_eq!(
        choose(&app, &ada, second).await.status,
        StatusCode::NO_CONTENT
    );
    delete_workspace(&app, second).await;
    assert_eq!(default_of(&app, &ada).await, json!(ada.workspace_id));
    let login = login(&app, &ada.email, TEST_PASSWORD).await;
    assert_eq!(
        wid(&app, &login.str("/accessToken")),
        Some(ada.workspace_id)
    );

    // With no workspace left, there is no default.
    app.execute("UPDATE workspaces SET deleted_at = now()", &[])
        .await;
    assert_eq!(default_of(&app, &ada).await, Value::Null);
}
