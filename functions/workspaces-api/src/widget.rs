//! `/api/v1/workspaces/{workspaceId}/widget`: the public widget's settings (members read them, admins
//! change them).

use axum::Json;
use axum::extract::State;
use studio::agent::widget::WidgetSettings;
use studio::auth::{Admin, Tenant, Viewer};
use studio::http::ValidJson;
use studio::openapi::answers;
use studio::services::widget::{self, WidgetView};
use studio::{ApiError, AppState};

/// The widget's settings (viewer or higher), each default filled in from the intake.
#[utoipa::path(operation_id = "getWidget", get, path = "/api/v1/workspaces/{workspaceId}/widget", tag = "workspaces", security(("bearer" = [])),
    params(("workspaceId" = Uuid, Path)),
    responses((status = 200, body = WidgetView), answers::Workspace))]
pub(crate) async fn get(
    State(state): State<AppState>,
    tenant: Tenant<Viewer>,
) -> Result<Json<WidgetView>, ApiError> {
    Ok(Json(widget::get(&state, &tenant).await?))
}

/// Saves the widget's settings (admin or higher), replacing the previous ones; `agentName`, `greeting`,
/// `brandColor` and `budgets` left out take their defaults.
#[utoipa::path(operation_id = "putWidget", put, path = "/api/v1/workspaces/{workspaceId}/widget", tag = "workspaces", security(("bearer" = [])),
    params(("workspaceId" = Uuid, Path)), request_body = WidgetSettings,
    responses((status = 200, body = WidgetView), answers::WorkspaceInput))]
pub(crate) async fn put(
    State(state): State<AppState>,
    tenant: Tenant<Admin>,
    ValidJson(settings): ValidJson<WidgetSettings>,
) -> Result<Json<WidgetView>, ApiError> {
    Ok(Json(widget::save(&state, &tenant, &settings).await?))
}
