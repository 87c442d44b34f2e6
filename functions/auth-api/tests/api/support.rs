//! Requests the auth tests make again and again: logging in, refreshing, switching workspace.

use serde_json::json;
use studio_testing::{TestApp, TestResponse};
use uuid::Uuid;

/// `POST /api/v1/auth/login` with `email` and `password`.
pub async fn login(app: &TestApp, email: &str, password: &str) -> TestResponse {
    app.post(
        "/api/v1/auth/login",
        None,
        json!({"email": email, "password": password}),
    )
    .await
}

/// `POST /api/v1/auth/token` with the refresh token `token`.
pub async fn refresh(app: &TestApp, token: &str) -> TestResponse {
    app.post("/api/v1/auth/token", None, json!({"refreshToken": token}))
        .await
}

/// `POST /api/v1/auth/token` with the refresh token `token`, into `workspace`.
pub async fn switch(app: &TestApp, token: &str, workspace: Uuid) -> TestResponse {
    app.post(
        "/api/v1/auth/token",
        None,
        json!({"refreshToken": token, "workspaceId": workspace}),
    )
    .await
}

/// The workspace an access token of ours acts in.
pub fn wid(app: &TestApp, access_token: &str) -> Option<Uuid> {
    app.state.jwt.verify(access_token).unwrap().wid
}
