//! `/api/v1/workspaces/{workspaceId}/export`: the whole workspace as one JSON file, for its owner
//! (`studio::services::exports`).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use studio::auth::{Owner, Tenant};
use studio::openapi::answers;
use studio::services::exports::{self, ExportView};
use studio::{ApiError, AppState};

/// Asks for an export of the whole workspace (owner only): its settings, members, agent configuration,
/// widget settings, documents with their text, website sources, conversations with their messages and
/// ratings, visitors, invitations, API keys (never their secrets), audit log and usage.
///
/// Built within a minute or so: 202 with the export `pending`, then `GET` the same path until it is
/// `ready` with a `downloadUrl`. Asked again while one is being built: that one (200).
#[utoipa::path(operation_id = "exportWorkspace", post, path = "/api/v1/workspaces/{workspaceId}/export", tag = "workspaces", security(("bearer" = [])),
    params(("workspaceId" = Uuid, Path)),
    responses(
        (status = 202, description = "asked for: being built", body = ExportView),
        (status = 200, description = "one was being built already: that one", body = ExportView),
        answers::Workspace))]
pub(crate) async fn request(
    State(state): State<AppState>,
    tenant: Tenant<Owner>,
) -> Result<Response, ApiError> {
    let (created, export) = exports::request_workspace(&state, &tenant).await?;
    let status = if created {
        StatusCode::ACCEPTED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(export)).into_response())
}

/// The workspace's latest export (owner only): `pending`, `failed` with its `error`, or `ready` with a
/// `downloadUrl` that works for 15 minutes (ask again for a new one until `expiresAt`, when the file is
/// deleted).
#[utoipa::path(operation_id = "getWorkspaceExport", get, path = "/api/v1/workspaces/{workspaceId}/export", tag = "workspaces", security(("bearer" = [])),
    params(("workspaceId" = Uuid, Path)),
    responses(
        (status = 200, body = ExportView),
        (status = 404, description = "not_found: no export was asked for, or it expired (or no such workspace)", body = studio::error::ErrorBody),
        answers::Workspace))]
pub(crate) async fn get(
    State(state): State<AppState>,
    tenant: Tenant<Owner>,
) -> Result<Json<ExportView>, ApiError> {
    Ok(Json(exports::workspace(&state, &tenant).await?))
}
