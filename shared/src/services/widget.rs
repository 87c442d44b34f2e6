//! A workspace's widget settings: saved by an admin (audited), read by any member, each field left out
//! following the workspace's agent configuration.

use crate::agent::widget::{EffectiveWidget, WidgetSettings};
use crate::auth::{Admin, Tenant, Viewer};
use crate::db::Scoped;
use crate::error::ApiError;
use crate::ids::WorkspaceId;
use crate::repo;
use crate::state::AppState;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WidgetView {
    /// The settings the widget runs with, defaults filled in.
    #[serde(flatten)]
    pub settings: EffectiveWidget,
    /// When an admin last saved them; null while every setting is at its default.
    pub updated_at: Option<DateTime<Utc>>,
}

/// The effective settings of a workspace (the public session reads them too).
pub async fn load(
    db: &impl tokio_postgres::GenericClient,
    workspace: WorkspaceId,
) -> Result<WidgetView, ApiError> {
    let agent = super::agent_config::load(db, workspace).await?.config;
    let row = repo::widget_settings::get(db, workspace).await?;
    let saved: Option<WidgetSettings> = row
        .as_ref()
        .map(|r| serde_json::from_value(r.settings.clone()))
        .transpose()
        .map_err(ApiError::internal)?;
    Ok(WidgetView {
        settings: EffectiveWidget::resolve(saved.as_ref(), &agent),
        updated_at: row.map(|r| r.updated_at),
    })
}

pub async fn get(state: &AppState, tenant: &Tenant<Viewer>) -> Result<WidgetView, ApiError> {
    let client = Scoped::tenant(&state.db, tenant).await?;
    load(&**client, tenant.workspace_id).await
}

/// Saves the settings (replacing the previous ones) and records the change in the audit log.
pub async fn save(
    state: &AppState,
    tenant: &Tenant<Admin>,
    settings: &WidgetSettings,
) -> Result<WidgetView, ApiError> {
    let value = serde_json::to_value(settings).map_err(ApiError::internal)?;
    let tx = Scoped::tenant(&state.db, tenant).await?;
    repo::widget_settings::upsert(&**tx, tenant.workspace_id, &value, tenant.user_id()).await?;
    let view = load(&**tx, tenant.workspace_id).await?;
    super::audit::record(
        &**tx,
        tenant,
        "widget.update",
        "widget",
        None,
        json!({"settings": value}),
    )
    .await?;
    tx.commit().await?;
    Ok(view)
}
