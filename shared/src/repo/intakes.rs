//! A workspace's intake and the agent configuration mapped from it.

use crate::ids::WorkspaceId;
use chrono::{DateTime, Utc};
use tokio_postgres::{Error, GenericClient};
use uuid::Uuid;

#[derive(Debug, Clone)]
pub struct IntakeRow {
    pub intake: serde_json::Value,
    pub agent_config: serde_json::Value,
    pub updated_at: DateTime<Utc>,
}

pub async fn upsert(
    db: &impl GenericClient,
    workspace: WorkspaceId,
    intake: &serde_json::Value,
    agent_config: &serde_json::Value,
    user: Uuid,
) -> Result<IntakeRow, Error> {
    let row = db
        .query_one(
            "INSERT INTO workspace_intakes (workspace_id, intake, agent_config, updated_by) VALUES ($1, $2, $3, $4)
             ON CONFLICT (workspace_id) DO UPDATE
                SET intake = EXCLUDED.intake, agent_config = EXCLUDED.agent_config,
                    updated_by = EXCLUDED.updated_by, updated_at = now()
             RETURNING intake, agent_config, updated_at",
            &[workspace.as_uuid(), intake, agent_config, &user],
        )
        .await?;
    Ok(IntakeRow {
        intake: row.get(0),
        agent_config: row.get(1),
        updated_at: row.get(2),
    })
}

pub async fn get(
    db: &impl GenericClient,
    workspace: WorkspaceId,
) -> Result<Option<IntakeRow>, Error> {
    Ok(db
        .query_opt(
            "SELECT intake, agent_config, updated_at FROM workspace_intakes WHERE workspace_id = $1",
            &[workspace.as_uuid()],
        )
        .await?
        .map(|r| IntakeRow { intake: r.get(0), agent_config: r.get(1), updated_at: r.get(2) }))
}
