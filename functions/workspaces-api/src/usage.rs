//! `/api/v1/workspaces/{workspaceId}/usage`: what the workspace used and what it cost, per day or per
//! month (`studio::services::usage`).

use axum::Json;
use axum::extract::State;
use studio::auth::{Admin, Tenant};
use studio::http::Query;
use studio::openapi::answers;
use studio::services::usage::{self, UsageQuery, UsageView};
use studio::{ApiError, AppState};

/// The workspace's usage per day or per month (admin or higher): messages, the agent's answers, the
/// tokens of every chat and embedding call by model, the documents added, and what the model calls are
/// estimated to have cost with the deployment's price table (`MODEL_PRICES`; models it does not price
/// are listed in `unpricedModels`). Periods are UTC days or months, every one from `from`'s to `to`'s
/// listed (at most 366 days or 60 months per request).
#[utoipa::path(operation_id = "getUsage", get, path = "/api/v1/workspaces/{workspaceId}/usage", tag = "workspaces", security(("bearer" = [])),
    params(("workspaceId" = Uuid, Path), UsageQuery),
    responses(
        (status = 200, body = UsageView),
        (status = 400, description = "validation_failed: a date that is not YYYY-MM-DD, `from` after `to`, a range too long, or another granularity than day or month", body = studio::error::ErrorBody),
        answers::Workspace))]
pub(crate) async fn get(
    State(state): State<AppState>,
    tenant: Tenant<Admin>,
    Query(q): Query<UsageQuery>,
) -> Result<Json<UsageView>, ApiError> {
    Ok(Json(usage::usage(&state, &tenant, &q).await?))
}
