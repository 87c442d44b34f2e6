//! `/api/v1/workspaces/{workspaceId}/api-keys`: a workspace's API keys (admin or higher, people only).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use studio::auth::api_keys::{KeyKind, Scope, valid_origins};
use studio::auth::{Admin, Tenant};
use studio::error::ErrorBody;
use studio::http::{Path, Query, ValidJson};
use studio::openapi::answers;
use studio::paging::{Page, PageParams};
use studio::services::api_keys::{self, ApiKeyView, CreatedApiKey, KeyRequest};
use studio::text::single_line;
use studio::{ApiError, AppState};
use utoipa::ToSchema;
use uuid::Uuid;
use validator::Validate;

#[derive(Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ApiKeyRequest {
    /// What the key is for, to recognise it in the list.
    #[validate(
        length(min = 1, max = 100, message = "must be 1 to 100 characters"),
        custom(function = "single_line")
    )]
    pub name: String,
    /// publishable (for browsers) or secret (for your server)
    pub kind: KeyKind,
    /// Publishable keys (required; an empty list allows nothing): exact origins
    /// (`https://shop.example.com`, `https://shop.example.com:8443`), one leading wildcard label
    /// (`https://*.example.com`: one label exactly), or `http://localhost:PORT` / `http://localhost:*`.
    /// At most 50. Secret keys have none.
    #[validate(custom(function = "valid_origins"))]
    pub allowed_origins: Option<Vec<String>>,
    /// Secret keys (required, at least one): `chat` (a turn, the stream, conversations, feedback,
    /// escalation), `ingest` (ingest, documents, search), `read` (every GET route of the agents API).
    /// Publishable keys have none.
    pub scopes: Option<Vec<Scope>>,
}

#[derive(Deserialize)]
pub(crate) struct KeyPath {
    #[serde(rename = "keyId")]
    key_id: Uuid,
}

/// Creates an API key (admin or higher). The answer holds the key in full, this once: only its hash is
/// stored. A publishable key (`pk_ws_…`) is for pages on `allowedOrigins`; a secret key (`sk_ws_…`) is
/// for your server, acting as a member with no user on the agents routes its `scopes` allow.
#[utoipa::path(operation_id = "createApiKey", post, path = "/api/v1/workspaces/{workspaceId}/api-keys", tag = "workspaces", security(("bearer" = [])),
    params(("workspaceId" = Uuid, Path)), request_body = ApiKeyRequest,
    responses((status = 201, description = "the key, shown once", body = CreatedApiKey), answers::WorkspaceInput))]
pub(crate) async fn create(
    State(state): State<AppState>,
    tenant: Tenant<Admin>,
    ValidJson(req): ValidJson<ApiKeyRequest>,
) -> Result<Response, ApiError> {
    let created = api_keys::create(
        &state,
        &tenant,
        KeyRequest {
            name: req.name.trim(),
            kind: req.kind,
            allowed_origins: req.allowed_origins.as_deref(),
            scopes: req.scopes.as_deref(),
        },
    )
    .await?;
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

/// The workspace's API keys (admin or higher), newest first, revoked ones included — each with its
/// prefix, never the key.
#[utoipa::path(operation_id = "listApiKeys", get, path = "/api/v1/workspaces/{workspaceId}/api-keys", tag = "workspaces", security(("bearer" = [])),
    params(("workspaceId" = Uuid, Path), PageParams),
    responses((status = 200, body = Page<ApiKeyView>), answers::WorkspaceInput))]
pub(crate) async fn list(
    State(state): State<AppState>,
    tenant: Tenant<Admin>,
    Query(page): Query<PageParams>,
) -> Result<Json<Page<ApiKeyView>>, ApiError> {
    Ok(Json(api_keys::list(&state, &tenant, &page).await?))
}

/// Revokes an API key at once (admin or higher): the next request with it is a 401. Revoking a revoked
/// key again changes nothing.
#[utoipa::path(operation_id = "revokeApiKey", delete, path = "/api/v1/workspaces/{workspaceId}/api-keys/{keyId}", tag = "workspaces", security(("bearer" = [])),
    params(("workspaceId" = Uuid, Path), ("keyId" = Uuid, Path)),
    responses((status = 204), (status = 404, description = "no such key in this workspace", body = ErrorBody), answers::Workspace))]
pub(crate) async fn revoke(
    State(state): State<AppState>,
    tenant: Tenant<Admin>,
    Path(path): Path<KeyPath>,
) -> Result<StatusCode, ApiError> {
    api_keys::revoke(&state, &tenant, path.key_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
