//! `/api/v1/workspaces/{workspaceId}/audit-log`: what was done in the workspace — keys created and
//! revoked, the identity secret rotated, widget settings saved, visitors erased — by whom (a member, a
//! key, or the platform's operators), newest first (admin or higher).

use axum::Json;
use axum::extract::State;
use studio::auth::{Admin, Tenant};
use studio::http::Query;
use studio::openapi::answers;
use studio::services::audit::{self, AuditPage, AuditQuery};
use studio::{ApiError, AppState};

/// The workspace's audit log, newest first (admin or higher); `?action=` keeps one kind of action, and
/// `before` (the previous page's `nextBefore`) pages back.
#[utoipa::path(operation_id = "workspaceAuditLog", get, path = "/api/v1/workspaces/{workspaceId}/audit-log", tag = "workspaces", security(("bearer" = [])),
    params(("workspaceId" = Uuid, Path), AuditQuery),
    responses((status = 200, body = AuditPage), answers::Workspace))]
pub(crate) async fn list(
    State(state): State<AppState>,
    tenant: Tenant<Admin>,
    Query(q): Query<AuditQuery>,
) -> Result<Json<AuditPage>, ApiError> {
    Ok(Json(audit::workspace_log(&state, &tenant, &q).await?))
}
