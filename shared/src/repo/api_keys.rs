//! A workspace's API keys: stored by the hash of the key, listed without it, revoked, and looked up on
//! every request a key makes.

use crate::ids::WorkspaceId;
use chrono::{DateTime, Utc};
use tokio_postgres::types::Type;
use tokio_postgres::{Error, GenericClient, Row};
use uuid::Uuid;

/// A key as the list shows it: never the key, never its hash.
#[derive(Debug, Clone)]
pub struct KeyRow {
    pub id: Uuid,
    pub name: String,
    pub kind: String,
    pub prefix: String,
    pub allowed_origins: Vec<String>,
    pub scopes: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str =
    "id, name, kind, prefix, allowed_origins, scopes, created_at, last_used_at, revoked_at";

fn key_from_row(r: &Row) -> KeyRow {
    KeyRow {
        id: r.get("id"),
        name: r.get("name"),
        kind: r.get("kind"),
        prefix: r.get("prefix"),
        allowed_origins: r.get("allowed_origins"),
        scopes: r.get("scopes"),
        created_at: r.get("created_at"),
        last_used_at: r.get("last_used_at"),
        revoked_at: r.get("revoked_at"),
    }
}

/// A key to store.
#[derive(Debug)]
pub struct NewKeyRow<'a> {
    pub id: Uuid,
    pub name: &'a str,
    pub kind: &'a str,
    pub prefix: &'a str,
    pub hash: &'a [u8],
    pub allowed_origins: &'a [String],
    pub scopes: &'a [String],
    pub created_by: Uuid,
}

/// The workspace's keys not revoked, counted under a lock of the workspace's row (so that two creations
/// at once cannot both pass a cap).
pub async fn count_active_locked(
    db: &impl GenericClient,
    workspace: WorkspaceId,
) -> Result<i64, Error> {
    db.execute(
        "SELECT 1 FROM workspaces WHERE id = $1 FOR UPDATE",
        &[workspace.as_uuid()],
    )
    .await?;
    Ok(db
        .query_one(
            "SELECT count(*) FROM api_keys WHERE workspace_id = $1 AND revoked_at IS NULL",
            &[workspace.as_uuid()],
        )
        .await?
        .get(0))
}

pub async fn insert(
    db: &impl GenericClient,
    workspace: WorkspaceId,
    key: &NewKeyRow<'_>,
) -> Result<KeyRow, Error> {
    let row = db
        .query_one(
            &format!(
                "INSERT INTO api_keys (id, workspace_id, name, kind, prefix, key_hash, allowed_origins, scopes, created_by)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING {COLUMNS}"
            ),
            &[
                &key.id,
                workspace.as_uuid(),
                &key.name,
                &key.kind,
                &key.prefix,
                &key.hash,
                &key.allowed_origins,
                &key.scopes,
                &key.created_by,
            ],
        )
        .await?;
    Ok(key_from_row(&row))
}

/// Newest first; `before` is the (created_at, id) of the last row of the previous page.
pub async fn list(
    db: &impl GenericClient,
    workspace: WorkspaceId,
    before: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<KeyRow>, Error> {
    let (before_at, before_id) = before.unzip();
    let rows = db
        .query(
            &format!(
                "SELECT {COLUMNS} FROM api_keys
                  WHERE workspace_id = $1 AND ($2::timestamptz IS NULL OR (created_at, id) < ($2, $3))
                  ORDER BY created_at DESC, id DESC LIMIT $4"
            ),
            &[workspace.as_uuid(), &before_at, &before_id, &limit],
        )
        .await?;
    Ok(rows.iter().map(key_from_row).collect())
}

/// Revokes a key of the workspace: the key, and true when this call revoked it (false when it was
/// revoked already); `None` when the workspace has no such key.
pub async fn revoke(
    db: &impl GenericClient,
    workspace: WorkspaceId,
    id: Uuid,
) -> Result<Option<(KeyRow, bool)>, Error> {
    let revoked = super::read_one(
        db,
        &format!(
            "UPDATE api_keys SET revoked_at = now() WHERE id = $1 AND workspace_id = $2 AND revoked_at IS NULL
             RETURNING {COLUMNS}"
        ),
        workspace,
        id,
        &[],
    )
    .await?;
    if let Some(row) = revoked {
        return Ok(Some((key_from_row(&row), true)));
    }
    let before = super::read_one(
        db,
        &format!("SELECT {COLUMNS} FROM api_keys WHERE id = $1 AND workspace_id = $2"),
        workspace,
        id,
        &[],
    )
    .await?;
    Ok(before.map(|row| (key_from_row(&row), false)))
}

/// A key as a request presents it, found by its hash: its workspace (active), kind, scopes and origins.
#[derive(Debug, Clone)]
pub struct PresentedKey {
    pub id: Uuid,
    pub workspace: Uuid,
    pub kind: String,
    pub scopes: Vec<String>,
    pub allowed_origins: Vec<String>,
    pub revoked: bool,
    pub suspended: bool,
}

/// The key check of every request a key makes: one round trip, to a function (migration V11) that also
/// notes the key's use at most once a minute. `None`: no such key, or its workspace is deleted.
pub async fn find_by_hash(
    db: &impl GenericClient,
    hash: &[u8],
) -> Result<Option<PresentedKey>, Error> {
    let row = db
        .query_typed_opt(
            "SELECT id, workspace_id, kind, scopes, allowed_origins, revoked, suspended FROM studio_api_key($1)",
            &[(&hash, Type::BYTEA)],
        )
        .await?;
    Ok(row.map(|r| PresentedKey {
        id: r.get("id"),
        workspace: r.get("workspace_id"),
        kind: r.get("kind"),
        scopes: r.get("scopes"),
        allowed_origins: r.get("allowed_origins"),
        revoked: r.get("revoked"),
        suspended: r.get("suspended"),
    }))
}
