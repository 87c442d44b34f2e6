//! A workspace's intake → its agent configuration.

use crate::agent::{AgentConfig, Intake};
use crate::auth::{Admin, Tenant, Viewer};
use crate::error::ApiError;
use crate::ids::WorkspaceId;
use crate::repo;
use crate::state::AppState;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AgentConfigView {
    /// The configuration the agent runs with.
    pub config: AgentConfig,
    /// The intake it was mapped from; null until the workspace fills one in (the config then uses the
    /// workspace's name and defaults).
    pub intake: Option<Intake>,
    pub updated_at: Option<DateTime<Utc>>,
}

pub async fn save_intake(
    state: &AppState,
    tenant: &Tenant<Admin>,
    intake: Intake,
) -> Result<AgentConfigView, ApiError> {
    let config = AgentConfig::from_intake(&intake);
    let client = state.db.get().await?;
    let row = repo::intakes::upsert(
        &**client,
        tenant.workspace_id,
        &serde_json::to_value(&intake).map_err(ApiError::internal)?,
        &serde_json::to_value(&config).map_err(ApiError::internal)?,
        tenant.user_id(),
    )
    .await?;
    tracing::info!(workspace_id = %tenant.workspace_id, "intake saved; agent configuration updated");
    Ok(AgentConfigView {
        config,
        intake: Some(intake),
        updated_at: Some(row.updated_at),
    })
}

/// The agent configuration of a workspace (the chat reads it too).
pub async fn load(
    db: &impl tokio_postgres::GenericClient,
    workspace: WorkspaceId,
) -> Result<AgentConfigView, ApiError> {
    match repo::intakes::get(db, workspace).await? {
        Some(row) => Ok(AgentConfigView {
            config: serde_json::from_value(row.agent_config).map_err(ApiError::internal)?,
            intake: serde_json::from_value(row.intake).map_err(ApiError::internal)?,
            updated_at: Some(row.updated_at),
        }),
        None => {
            let ws = repo::workspaces::get(db, workspace)
                .await?
                .ok_or_else(|| ApiError::not_found("Workspace"))?;
            Ok(AgentConfigView {
                config: AgentConfig::default_for(&ws.name),
                intake: None,
                updated_at: None,
            })
        }
    }
}

pub async fn get(state: &AppState, tenant: &Tenant<Viewer>) -> Result<AgentConfigView, ApiError> {
    let client = state.db.get().await?;
    load(&**client, tenant.workspace_id).await
}
