//! `/api/v1/agents/visitors/{visitorId}`: a visitor's data, exported or erased on their request (admin
//! or higher, signed in).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use studio::ApiError;
use studio::auth::{Admin, Tenant};
use studio::http::Path;
use studio::openapi::answers;
use studio::services::chat::visitors::{self, VisitorExport};
use studio::state::KnowledgeState;
use uuid::Uuid;

#[derive(Deserialize)]
pub(crate) struct VisitorPath {
    #[serde(rename = "visitorId")]
    visitor_id: Uuid,
}

/// Everything stored about a visitor (admin or higher): who they are (the claims of their signed identity,
/// if any) and every conversation with its messages — to answer their request for their data.
#[utoipa::path(operation_id = "exportVisitor", get, path = "/api/v1/agents/visitors/{visitorId}", tag = "agent", security(("bearer" = [])),
    params(("visitorId" = Uuid, Path)),
    responses((status = 200, body = VisitorExport), answers::WorkspaceInput))]
pub(crate) async fn export(
    State(state): State<KnowledgeState>,
    tenant: Tenant<Admin>,
    Path(path): Path<VisitorPath>,
) -> Result<Json<VisitorExport>, ApiError> {
    Ok(Json(
        visitors::export(&state, &tenant, path.visitor_id).await?,
    ))
}

/// Erases a visitor (admin or higher): the visitor, their conversations, messages, ratings and sessions,
/// at once and for good. The workspace's audit log records the erasure (who, when, how many
/// conversations), without any of their data.
#[utoipa::path(operation_id = "eraseVisitor", delete, path = "/api/v1/agents/visitors/{visitorId}", tag = "agent", security(("bearer" = [])),
    params(("visitorId" = Uuid, Path)),
    responses((status = 204), answers::WorkspaceInput))]
pub(crate) async fn erase(
    State(state): State<KnowledgeState>,
    tenant: Tenant<Admin>,
    Path(path): Path<VisitorPath>,
) -> Result<StatusCode, ApiError> {
    visitors::erase(&state, &tenant, path.visitor_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
