//! A workspace's intake → its agent configuration.

use crate::agent::{AgentConfig, Intake};
use crate::auth::{Admin, Tenant, Viewer};
use crate::db::Scoped;
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
    let ws = tenant.workspace_id;
    let tx = Scoped::tenant(&state.db, tenant).await?;
    let row = repo::intakes::upsert(
        &**tx,
        ws,
        &serde_json::to_value(&intake).map_err(ApiError::internal)?,
        &serde_json::to_value(&config).map_err(ApiError::internal)?,
        tenant.user_id(),
    )
    .await?;
    // The first language is the one the knowledge base is analysed in: a change re-indexes it.
    let language =
        crate::text::language_code(config.languages.first().map_or("en", String::as_str));
    let reindex = if repo::reindex::set_language(&**tx, *ws.as_uuid(), &language).await? {
        start_language_reindex(&**tx, ws).await?
    } else {
        None
    };
    tx.commit().await?;
    if let Some((outbox_id, payload)) = reindex {
        // This function has no ingest queue: the outbox sweep sends it (or a process that has one).
        crate::outbox::send_committed(&**state.db.get().await?, None, outbox_id, &payload).await;
    }
    tracing::info!(workspace_id = %ws, language, "intake saved; agent configuration updated");
    Ok(AgentConfigView {
        config,
        intake: Some(intake),
        updated_at: Some(row.updated_at),
    })
}

/// Records a re-index of the workspace for its new language (when it has documents) and its first
/// step's message in the outbox; `None` when there is nothing to re-index or a job is already open
/// (it reads the language when it reaches each document).
async fn start_language_reindex(
    tx: &impl tokio_postgres::GenericClient,
    ws: WorkspaceId,
) -> Result<Option<(uuid::Uuid, serde_json::Value)>, ApiError> {
    let total = repo::reindex::count_documents(tx, Some(*ws.as_uuid())).await?;
    if total == 0 {
        return Ok(None);
    }
    let id = uuid::Uuid::now_v7();
    let total = i32::try_from(total).unwrap_or(i32::MAX);
    let reason = repo::reindex::Reason::Language.as_str();
    if repo::reindex::insert(tx, id, Some(*ws.as_uuid()), reason, "", None, total)
        .await?
        .is_none()
    {
        return Ok(None);
    }
    let payload = serde_json::to_value(crate::queue::ReindexMessage { reindex_job_id: id })
        .map_err(ApiError::internal)?;
    let outbox_id =
        crate::outbox::write(tx, Some(ws), crate::outbox::Topic::Ingest, &payload).await?;
    tracing::info!(workspace_id = %ws, job_id = %id, total, "the knowledge base's language changed: re-index queued");
    Ok(Some((outbox_id, payload)))
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
    let client = Scoped::tenant(&state.db, tenant).await?;
    load(&**client, tenant.workspace_id).await
}
