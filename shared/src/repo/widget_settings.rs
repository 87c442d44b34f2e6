//! A workspace's widget settings, one row per workspace.

use crate::ids::WorkspaceId;
use chrono::{DateTime, Utc};
use tokio_postgres::{Error, GenericClient};
use uuid::Uuid;

/// The settings as saved (a JSON object), and when.
#[derive(Debug, Clone)]
pub struct SettingsRow {
    pub settings: serde_json::Value,
    pub updated_at: DateTime<Utc>,
}

pub async fn get(
    db: &impl GenericClient,
    workspace: WorkspaceId,
) -> Result<Option<SettingsRow>, Error> {
    let row = db
        .query_opt(
            "SELECT settings, updated_at FROM widget_settings WHERE workspace_id = $1",
            &[workspace.as_uuid()],
        )
        .await?;
    Ok(row.map(|r| SettingsRow {
        settings: r.get("settings"),
        updated_at: r.get("updated_at"),
    }))
}

pub async fn upsert(
    db: &impl GenericClient,
    workspace: WorkspaceId,
    settings: &serde_json::Value,
    updated_by: Uuid,
) -> Result<SettingsRow, Error> {
    let row = db
        .query_one(
            "INSERT INTO widget_settings (workspace_id, settings, updated_by) VALUES ($1, $2, $3)
             ON CONFLICT (workspace_id) DO UPDATE
                SET settings = EXCLUDED.settings, updated_by = EXCLUDED.updated_by, updated_at = now()
             RETURNING settings, updated_at",
            &[workspace.as_uuid(), settings, &updated_by],
        )
        .await?;
    Ok(SettingsRow {
        settings: row.get("settings"),
        updated_at: row.get("updated_at"),
    })
}
