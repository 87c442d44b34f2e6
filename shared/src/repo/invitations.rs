//! Invitations to a workspace: a hashed single-use token, mailed to one address.

use crate::ids::WorkspaceId;
use chrono::{DateTime, Utc};
use tokio_postgres::{Error, GenericClient, Row};
use uuid::Uuid;

#[derive(Debug, Clone)]
pub struct InvitationRow {
    pub id: Uuid,
    pub workspace_id: Uuid,
    pub email: String,
    pub role: String,
    pub invited_by: Option<Uuid>,
    pub expires_at: DateTime<Utc>,
    pub accepted_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, workspace_id, email::text AS email, role, invited_by, expires_at, accepted_at, revoked_at, created_at";

fn from_row(r: &Row) -> InvitationRow {
    InvitationRow {
        id: r.get("id"),
        workspace_id: r.get("workspace_id"),
        email: r.get("email"),
        role: r.get("role"),
        invited_by: r.get("invited_by"),
        expires_at: r.get("expires_at"),
        accepted_at: r.get("accepted_at"),
        revoked_at: r.get("revoked_at"),
        created_at: r.get("created_at"),
    }
}

/// Fails with a unique violation on `invitations_pending_key` when the address has a pending invitation.
#[allow(clippy::too_many_arguments)]
pub async fn insert(
    db: &impl GenericClient,
    workspace: WorkspaceId,
    id: Uuid,
    email: &str,
    role: &str,
    token_hash: &[u8],
    invited_by: Uuid,
    ttl_secs: f64,
) -> Result<InvitationRow, Error> {
    let sql = format!(
        "INSERT INTO invitations (id, workspace_id, email, role, token_hash, invited_by, expires_at)
         VALUES ($1, $2, $3::text::citext, $4, $5, $6, now() + make_interval(secs => $7))
         RETURNING {COLUMNS}"
    );
    let row = db
        .query_one(
            &sql,
            &[
                &id,
                workspace.as_uuid(),
                &email,
                &role,
                &token_hash,
                &invited_by,
                &ttl_secs,
            ],
        )
        .await?;
    Ok(from_row(&row))
}

/// A pending invitation for this address that has expired is replaced by a new one: it no longer blocks.
pub async fn expire_stale(
    db: &impl GenericClient,
    workspace: WorkspaceId,
    email: &str,
) -> Result<(), Error> {
    db.execute(
        "UPDATE invitations SET revoked_at = now()
          WHERE workspace_id = $1 AND email = $2::text::citext AND accepted_at IS NULL
            AND revoked_at IS NULL AND expires_at <= now()",
        &[workspace.as_uuid(), &email],
    )
    .await
    .map(drop)
}

/// What makes an invitation pending (not accepted, not revoked, not expired), for the queries that count
/// them: pending invitations count against the plan's members limit (see `billing`).
pub const PENDING: &str = "accepted_at IS NULL AND revoked_at IS NULL AND expires_at > now()";

/// Newest first, paged by (created_at, id).
pub async fn list(
    db: &impl GenericClient,
    workspace: WorkspaceId,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<InvitationRow>, Error> {
    let (at, id) = after.unzip();
    let sql = format!(
        "SELECT {COLUMNS} FROM invitations WHERE workspace_id = $1
            AND ($2::timestamptz IS NULL OR (created_at, id) < ($2, $3))
          ORDER BY created_at DESC, id DESC LIMIT $4"
    );
    Ok(db
        .query(&sql, &[workspace.as_uuid(), &at, &id, &limit])
        .await?
        .iter()
        .map(from_row)
        .collect())
}

/// Revokes a pending invitation of this workspace; false when there is none to revoke.
pub async fn revoke(
    db: &impl GenericClient,
    workspace: WorkspaceId,
    id: Uuid,
) -> Result<bool, Error> {
    db.execute(
        "UPDATE invitations SET revoked_at = now()
          WHERE workspace_id = $1 AND id = $2 AND accepted_at IS NULL AND revoked_at IS NULL",
        &[workspace.as_uuid(), &id],
    )
    .await
    .map(|n| n == 1)
}

pub async fn find(
    db: &impl GenericClient,
    workspace: WorkspaceId,
    id: Uuid,
) -> Result<Option<InvitationRow>, Error> {
    let sql = format!("SELECT {COLUMNS} FROM invitations WHERE workspace_id = $1 AND id = $2");
    Ok(db
        .query_opt(&sql, &[workspace.as_uuid(), &id])
        .await?
        .as_ref()
        .map(from_row))
}

/// The invitation a token names, locked for the accepting transaction.
pub async fn find_by_token_for_update(
    db: &impl GenericClient,
    token_hash: &[u8],
) -> Result<Option<InvitationRow>, Error> {
    let sql = format!("SELECT {COLUMNS} FROM invitations WHERE token_hash = $1 FOR UPDATE");
    Ok(db
        .query_opt(&sql, &[&token_hash])
        .await?
        .as_ref()
        .map(from_row))
}

pub async fn mark_accepted(db: &impl GenericClient, id: Uuid) -> Result<(), Error> {
    db.execute(
        "UPDATE invitations SET accepted_at = now() WHERE id = $1",
        &[&id],
    )
    .await
    .map(drop)
}

/// Deletes invitations that ended (accepted, revoked or expired) more than `days` ago.
pub async fn purge_finished(db: &impl GenericClient, days: i32) -> Result<u64, Error> {
    db.execute(
        "DELETE FROM invitations
          WHERE COALESCE(accepted_at, revoked_at, expires_at) < now() - make_interval(days => $1)",
        &[&days],
    )
    .await
}
