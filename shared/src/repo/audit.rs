//! The audit log: the operators' actions, and actions within a workspace (by a member or a key).

use crate::auth::Actor;
use chrono::{DateTime, Utc};
use tokio_postgres::{Error, GenericClient};
use uuid::Uuid;

/// One action to record.
#[derive(Debug, Clone)]
pub struct Entry<'a> {
    pub actor: Actor,
    /// The workspace acted in, for a workspace's own log; `None` for the operators' platform-wide log.
    pub workspace: Option<crate::ids::WorkspaceId>,
    pub action: &'a str,
    pub target_type: Option<&'a str>,
    pub target_id: Option<String>,
    pub details: serde_json::Value,
    pub request_id: Option<&'a str>,
}

pub async fn record(db: &impl GenericClient, entry: &Entry<'_>) -> Result<(), Error> {
    db.execute(
        "INSERT INTO audit_log (actor_kind, actor_user_id, actor_api_key_id, workspace_id, action, target_type,
                                target_id, details, request_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        &[
            &entry.actor.kind(),
            &entry.actor.user_id(),
            &entry.actor.api_key_id(),
            &entry.workspace.as_ref().map(crate::ids::WorkspaceId::as_uuid),
            &entry.action,
            &entry.target_type,
            &entry.target_id,
            &entry.details,
            &entry.request_id,
        ],
    )
    .await
    .map(drop)
}

// One recorded action, as the admin API lists it (its doc is the API's).
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = AuditEntryView)]
pub struct AuditRow {
    pub id: i64,
    pub at: DateTime<Utc>,
    /// admin_key, platform_admin, member or api_key
    pub actor_kind: String,
    pub actor_user_id: Option<Uuid>,
    /// The workspace's API key that acted (api_key).
    pub actor_api_key_id: Option<Uuid>,
    pub actor_email: Option<String>,
    pub action: String,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
    pub request_id: Option<String>,
}

/// The operators' actions (`workspace` `None`: not the workspaces' own) or one workspace's log, newest
/// first; `before` is the id of the last row of the previous page.
pub async fn list(
    db: &impl GenericClient,
    workspace: Option<crate::ids::WorkspaceId>,
    action: Option<&str>,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<AuditRow>, Error> {
    let workspace = workspace.map(|w| *w.as_uuid());
    let rows = db
        .query(
            "SELECT a.id, a.at, a.actor_kind, a.actor_user_id, a.actor_api_key_id, u.email::text AS actor_email,
                    a.action, a.target_type, a.target_id, a.details, a.request_id
               FROM audit_log a LEFT JOIN users u ON u.id = a.actor_user_id
              WHERE (($4::uuid IS NULL AND a.actor_kind IN ('admin_key', 'platform_admin')) OR a.workspace_id = $4)
                AND ($1::text IS NULL OR a.action = $1) AND ($2::bigint IS NULL OR a.id < $2)
              ORDER BY a.id DESC LIMIT $3",
            &[&action, &before, &limit, &workspace],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| AuditRow {
            id: r.get("id"),
            at: r.get("at"),
            actor_kind: r.get("actor_kind"),
            actor_user_id: r.get("actor_user_id"),
            actor_api_key_id: r.get("actor_api_key_id"),
            actor_email: r.get("actor_email"),
            action: r.get("action"),
            target_type: r.get("target_type"),
            target_id: r.get("target_id"),
            details: r.get("details"),
            request_id: r.get("request_id"),
        })
        .collect())
}
