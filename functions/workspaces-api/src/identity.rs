//! `/api/v1/workspaces/{workspaceId}/identity-secret`: the workspace's identity secret, with which its
//! server signs end users' identity tokens (admin or higher, people only).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use studio::auth::{Admin, Tenant};
use studio::openapi::answers;
use studio::services::identity::{self, CreatedIdentitySecret, IdentitySecretView};
use studio::{ApiError, AppState};

/// Creates or rotates the identity secret (admin or higher). The answer holds the secret, this once.
/// Your server signs each end user's identity token with it (HS256; `sub`, `iat` and `exp` required,
/// at most an hour between them). After a rotation the previous secret keeps verifying until
/// `previousValidUntil` (`IDENTITY_SECRET_GRACE_HOURS`, 24 by default), so servers can switch over.
#[utoipa::path(operation_id = "rotateIdentitySecret", post, path = "/api/v1/workspaces/{workspaceId}/identity-secret", tag = "workspaces", security(("bearer" = [])),
    params(("workspaceId" = Uuid, Path)),
    responses((status = 201, description = "the secret, shown once", body = CreatedIdentitySecret), answers::Workspace))]
pub(crate) async fn rotate(
    State(state): State<AppState>,
    tenant: Tenant<Admin>,
) -> Result<Response, ApiError> {
    let created = identity::rotate(&state, &tenant).await?;
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

/// Whether signed identity is on, since when, and until when the previous secret verifies (admin or
/// higher) — never the secret.
#[utoipa::path(operation_id = "getIdentitySecret", get, path = "/api/v1/workspaces/{workspaceId}/identity-secret", tag = "workspaces", security(("bearer" = [])),
    params(("workspaceId" = Uuid, Path)),
    responses((status = 200, body = IdentitySecretView), answers::Workspace))]
pub(crate) async fn describe(
    State(state): State<AppState>,
    tenant: Tenant<Admin>,
) -> Result<Json<IdentitySecretView>, ApiError> {
    Ok(Json(identity::describe(&state, &tenant).await?))
}

/// Deletes the current and the previous identity secret (admin or higher): signed identity is off and
/// identity tokens stop verifying at once.
#[utoipa::path(operation_id = "deleteIdentitySecret", delete, path = "/api/v1/workspaces/{workspaceId}/identity-secret", tag = "workspaces", security(("bearer" = [])),
    params(("workspaceId" = Uuid, Path)),
    responses((status = 204), answers::Workspace))]
pub(crate) async fn delete(
    State(state): State<AppState>,
    tenant: Tenant<Admin>,
) -> Result<StatusCode, ApiError> {
    identity::delete(&state, &tenant).await?;
    Ok(StatusCode::NO_CONTENT)
}
