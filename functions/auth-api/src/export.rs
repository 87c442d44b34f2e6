//! `/api/v1/auth/me/export`: everything stored about the caller, as one JSON file
//! (`studio::services::exports`).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use studio::error::ErrorBody;
use studio::http::AuthUser;
use studio::openapi::answers;
use studio::services::exports::{self, ExportView};
use studio::{ApiError, AppState};

/// Asks for an export of everything stored about you: your account, memberships, linked identities,
/// your conversations with the agent (every message), the replies you wrote to visitors, your ratings,
/// and the audit entries about you. Never a password or token hash.
///
/// Built within a minute or so: 202 with the export `pending`, then `GET` the same path until it is
/// `ready` with a `downloadUrl`. Asked again while one is being built: that one (200).
#[utoipa::path(operation_id = "exportMyData", post, path = "/api/v1/auth/me/export", tag = "auth", security(("bearer" = [])),
    responses(
        (status = 202, description = "asked for: being built", body = ExportView),
        (status = 200, description = "one was being built already: that one", body = ExportView),
        (status = 401, description = "unauthorized or token_expired", body = ErrorBody),
        (status = 429, description = "rate_limited (per user, with Retry-After)", body = ErrorBody), answers::Unavailable))]
pub(crate) async fn request(
    State(state): State<AppState>,
    user: AuthUser,
) -> Result<Response, ApiError> {
    let (created, export) = exports::request_mine(&state, user.user_id).await?;
    let status = if created {
        StatusCode::ACCEPTED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(export)).into_response())
}

/// Your latest export: `pending`, `failed` with its `error`, or `ready` with a `downloadUrl` that works
/// for 15 minutes (ask again for a new one until `expiresAt`, when the file is deleted).
#[utoipa::path(operation_id = "getMyExport", get, path = "/api/v1/auth/me/export", tag = "auth", security(("bearer" = [])),
    responses(
        (status = 200, body = ExportView),
        (status = 401, description = "unauthorized or token_expired", body = ErrorBody),
        (status = 404, description = "not_found: no export was asked for, or it expired", body = ErrorBody),
        (status = 429, description = "rate_limited (per user, with Retry-After)", body = ErrorBody), answers::Unavailable))]
pub(crate) async fn get(
    State(state): State<AppState>,
    user: AuthUser,
) -> Result<Json<ExportView>, ApiError> {
    Ok(Json(exports::mine(&state, user.user_id).await?))
}
