//! Visitors (the tenant's customers on its site) and their sessions.

use crate::ids::WorkspaceId;
use chrono::{DateTime, Utc};
use tokio_postgres::types::Type;
use tokio_postgres::{Error, GenericClient};
use uuid::Uuid;

/// A new anonymous visitor, known by the hash of its visitor token.
pub async fn insert_anonymous(
    db: &impl GenericClient,
    workspace: WorkspaceId,
    id: Uuid,
    token_hash: &[u8],
) -> Result<(), Error> {
    db.execute(
        "INSERT INTO visitors (id, workspace_id, token_hash) VALUES ($1, $2, $3)",
        &[&id, workspace.as_uuid(), &token_hash],
    )
    .await
    .map(drop)
}

/// The anonymous visitor of this workspace whose token hashes to `token_hash`, seen now.
pub async fn find_anonymous(
    db: &impl GenericClient,
    workspace: WorkspaceId,
    token_hash: &[u8],
) -> Result<Option<Uuid>, Error> {
    Ok(db
        .query_opt(
            "UPDATE visitors SET last_seen_at = now()
              WHERE token_hash = $1 AND workspace_id = $2 RETURNING id",
            &[&token_hash, workspace.as_uuid()],
        )
        .await?
        .map(|r| r.get(0)))
}

/// The identified visitor of this workspace with the tenant's `sub`, made on first sight; the email and
/// name it claims now replace what it claimed before.
pub async fn upsert_identified(
    db: &impl GenericClient,
    workspace: WorkspaceId,
    sub: &str,
    email: Option<&str>,
    name: Option<&str>,
) -> Result<Uuid, Error> {
    Ok(db
        .query_one(
            "INSERT INTO visitors (id, workspace_id, external_id, email, name) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (workspace_id, external_id) WHERE external_id IS NOT NULL
             DO UPDATE SET email = EXCLUDED.email, name = EXCLUDED.name, last_seen_at = now()
             RETURNING id",
            &[&Uuid::now_v7(), workspace.as_uuid(), &sub, &email, &name],
        )
        .await?
        .get(0))
}

/// Moves every conversation (and rating) of visitor `from` to visitor `to`, in this workspace: an
/// anonymous visitor who has just identified keeps what they said. Returns the conversations moved.
pub async fn move_conversations(
    db: &impl GenericClient,
    workspace: WorkspaceId,
    from: Uuid,
    to: Uuid,
) -> Result<u64, Error> {
    db.execute(
        "UPDATE message_feedback SET visitor_id = $3 WHERE visitor_id = $1 AND workspace_id = $2",
        &[&from, workspace.as_uuid(), &to],
    )
    .await?;
    db.execute(
        "UPDATE conversations SET visitor_id = $3 WHERE visitor_id = $1 AND workspace_id = $2",
        &[&from, workspace.as_uuid(), &to],
    )
    .await
}

/// A session to store (only its token's hash).
#[derive(Debug, Clone, Copy)]
pub struct NewSession<'a> {
    pub token_hash: &'a [u8],
    pub key: Uuid,
    pub visitor: Uuid,
    pub origin: &'a str,
    pub expires_at: DateTime<Utc>,
}

pub async fn insert_session(
    db: &impl GenericClient,
    workspace: WorkspaceId,
    s: &NewSession<'_>,
) -> Result<(), Error> {
    db.execute(
        "INSERT INTO visitor_sessions (token_hash, workspace_id, api_key_id, visitor_id, origin, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
        &[
            &s.token_hash,
            workspace.as_uuid(),
            &s.key,
            &s.visitor,
            &s.origin,
            &s.expires_at,
        ],
    )
    .await
    .map(drop)
}

/// A session as a request presents it, with what decides whether it still opens anything.
#[derive(Debug, Clone)]
pub struct PresentedSession {
    pub workspace: Uuid,
    pub visitor: Uuid,
    pub key: Uuid,
    pub origin: String,
    pub expires_at: DateTime<Utc>,
    pub expired: bool,
    /// The key's origins now (an admin may have made a new key since; a revoked key opens nothing).
    pub allowed_origins: Vec<String>,
    pub key_revoked: bool,
    pub suspended: bool,
    pub identified: bool,
    /// The budgets the workspace's widget settings hold (null: the defaults).
    pub budgets: Option<serde_json::Value>,
}

/// The check of every public request after the session's start, with the workspace's budgets: one
/// round trip. `None`: no such session,
/// or its workspace is deleted.
pub async fn find_session(
    db: &impl GenericClient,
    token_hash: &[u8],
) -> Result<Option<PresentedSession>, Error> {
    let row = db
        .query_typed_opt(
            "SELECT s.workspace_id, s.visitor_id, s.api_key_id, s.origin, s.expires_at,
                    s.expires_at <= now() AS expired, k.allowed_origins, k.revoked_at IS NOT NULL AS key_revoked,
                    w.suspended_at IS NOT NULL AS suspended, v.external_id IS NOT NULL AS identified,
                    ws.settings -> 'budgets' AS budgets
               FROM visitor_sessions s
               JOIN api_keys k ON k.id = s.api_key_id
               JOIN workspaces w ON w.id = s.workspace_id AND w.deleted_at IS NULL
               JOIN visitors v ON v.id = s.visitor_id
               LEFT JOIN widget_settings ws ON ws.workspace_id = s.workspace_id
              WHERE s.token_hash = $1",
            &[(&token_hash, Type::BYTEA)],
        )
        .await?;
    Ok(row.map(|r| PresentedSession {
        workspace: r.get("workspace_id"),
        visitor: r.get("visitor_id"),
        key: r.get("api_key_id"),
        origin: r.get("origin"),
        expires_at: r.get("expires_at"),
        expired: r.get("expired"),
        allowed_origins: r.get("allowed_origins"),
        key_revoked: r.get("key_revoked"),
        suspended: r.get("suspended"),
        identified: r.get("identified"),
        budgets: r.get("budgets"),
    }))
}

/// Deletes sessions that expired before `before` (the cron's sweep); how many.
pub async fn delete_expired_sessions(
    db: &impl GenericClient,
    before: DateTime<Utc>,
) -> Result<u64, Error> {
    db.execute(
        "DELETE FROM visitor_sessions WHERE expires_at < $1",
        &[&before],
    )
    .await
}

/// Deletes a visitor with everything of theirs (conversations, ratings, sessions: by cascade).
pub async fn delete(
    db: &impl GenericClient,
    workspace: WorkspaceId,
    id: Uuid,
) -> Result<bool, Error> {
    super::change_one(
        db,
        "DELETE FROM visitors WHERE id = $1 AND workspace_id = $2",
        workspace,
        id,
        &[],
    )
    .await
}

// Read in the shape the export shows (`GET /api/v1/agents/visitors/{id}`), so there is no second copy of
// these fields.
/// A visitor as the workspace's export shows it.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = VisitorView)]
pub struct VisitorRow {
    pub id: Uuid,
    /// True for an anonymous visitor; false for an end user the tenant signed.
    pub anonymous: bool,
    /// The `sub` of the tenant's identity token (signed end users).
    pub external_id: Option<String>,
    pub email: Option<String>,
    pub name: Option<String>,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
}

pub async fn get(
    db: &impl GenericClient,
    workspace: WorkspaceId,
    id: Uuid,
) -> Result<Option<VisitorRow>, Error> {
    Ok(super::read_one(
        db,
        "SELECT id, token_hash IS NOT NULL AS anonymous, external_id, email, name, created_at, last_seen_at
           FROM visitors WHERE id = $1 AND workspace_id = $2",
        workspace,
        id,
        &[],
    )
    .await?
    .map(|r| VisitorRow {
        id: r.get("id"),
        anonymous: r.get("anonymous"),
        external_id: r.get("external_id"),
        email: r.get("email"),
        name: r.get("name"),
        created_at: r.get("created_at"),
        last_seen_at: r.get("last_seen_at"),
    }))
}

/// Deletes anonymous visitors (with their conversations and sessions) not seen for `days` days in each
/// workspace: the workspace's widget setting `anonymousRetentionDays`, else `default_days`. How many.
pub async fn purge_anonymous(db: &impl GenericClient, default_days: i32) -> Result<u64, Error> {
    db.execute(
        "DELETE FROM visitors v
          WHERE v.token_hash IS NOT NULL
            AND v.last_seen_at < now() - make_interval(days => COALESCE(
                  (SELECT (ws.settings ->> 'anonymousRetentionDays')::int FROM widget_settings ws
                    WHERE ws.workspace_id = v.workspace_id), $1))",
        &[&default_days],
    )
    .await
}
