//! The SQL of an account's erasure (`services::erasure`): the account's memberships as the sole-owner
//! check needs them, every reference to the account released, and the row turned into a tombstone.

use chrono::{DateTime, Utc};
use tokio_postgres::{Error, GenericClient};
use uuid::Uuid;

/// Every column that references `users (id)`, and what its foreign key does when the row is deleted:
/// erasure does the same at once (the tombstone row stays until the purge). A test compares this list
/// with the database's foreign keys, so a new reference cannot be forgotten.
pub const REFERENCES: [(&str, &str, OnErase); 19] = [
    ("api_keys", "created_by", OnErase::Unlink),
    ("audit_log", "actor_user_id", OnErase::Unlink),
    ("conversations", "escalated_by", OnErase::Unlink),
    ("conversations", "user_id", OnErase::Unlink),
    ("data_exports", "user_id", OnErase::Delete),
    ("idempotency_keys", "user_id", OnErase::Delete),
    ("ingestions", "created_by", OnErase::Unlink),
    ("invitations", "invited_by", OnErase::Unlink),
    ("kb_documents", "created_by", OnErase::Unlink),
    ("kb_sources", "created_by", OnErase::Unlink),
    ("message_feedback", "user_id", OnErase::Unlink),
    ("messages", "author_user_id", OnErase::Unlink),
    ("password_reset_tokens", "user_id", OnErase::Delete),
    ("refresh_tokens", "user_id", OnErase::Delete),
    ("user_identities", "user_id", OnErase::Delete),
    ("widget_settings", "updated_by", OnErase::Unlink),
    ("workspace_identity_secrets", "created_by", OnErase::Unlink),
    ("workspace_intakes", "updated_by", OnErase::Unlink),
    ("workspace_members", "user_id", OnErase::Delete),
];

/// What erasure does to rows that reference the account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnErase {
    /// The reference is set to NULL (`ON DELETE SET NULL`): the row stays, no longer anyone's.
    Unlink,
    /// The row goes (`ON DELETE CASCADE`).
    Delete,
}

/// The account to erase, locked for the transaction: `None` when there is no such active account, else
/// its address (when it has one).
pub async fn lock(db: &impl GenericClient, user: Uuid) -> Result<Option<Option<String>>, Error> {
    Ok(db
        .query_opt(
            "SELECT email::text FROM users WHERE id = $1 AND deleted_at IS NULL FOR UPDATE",
            &[&user],
        )
        .await?
        .map(|r| r.get(0)))
}

/// One of the account's active workspaces, with what the sole-owner rule needs.
#[derive(Debug, Clone)]
pub struct Membership {
    pub workspace_id: Uuid,
    pub name: String,
    pub role: String,
    /// Members, the account included.
    pub members: i64,
    /// Owners, the account included when it is one.
    pub owners: i64,
}

pub async fn memberships(db: &impl GenericClient, user: Uuid) -> Result<Vec<Membership>, Error> {
    Ok(db
        .query(
            "SELECT w.id, w.name, m.role,
                    (SELECT count(*) FROM workspace_members a WHERE a.workspace_id = w.id),
                    (SELECT count(*) FROM workspace_members o WHERE o.workspace_id = w.id AND o.role = 'owner')
               FROM workspace_members m
               JOIN workspaces w ON w.id = m.workspace_id AND w.deleted_at IS NULL
              WHERE m.user_id = $1
              ORDER BY m.created_at, w.id
                FOR UPDATE OF w",
            &[&user],
        )
        .await?
        .iter()
        .map(|r| Membership {
            workspace_id: r.get(0),
            name: r.get(1),
            role: r.get(2),
            members: r.get(3),
            owners: r.get(4),
        })
        .collect())
}

/// Deletes a workspace its last member leaves with the account: soft-deleted (the purge removes its
/// rows, vectors and files), and renamed, since a first workspace carries its owner's name.
pub async fn delete_workspace(
    db: &impl GenericClient,
    workspace: Uuid,
) -> Result<Option<DateTime<Utc>>, Error> {
    Ok(db
        .query_opt(
            "UPDATE workspaces
                SET name = 'Erased account''s workspace', slug = 'erased-' || replace(id::text, '-', ''),
                    deleted_at = now(), updated_at = now()
              WHERE id = $1 AND deleted_at IS NULL
             RETURNING deleted_at",
            &[&workspace],
        )
        .await?
        .map(|r| r.get(0)))
}

/// Releases every reference to the account ([`REFERENCES`]); returns the rows changed.
pub async fn release_references(db: &impl GenericClient, user: Uuid) -> Result<u64, Error> {
    let mut changed = 0;
    for (table, column, action) in REFERENCES {
        // Identifiers from the constant above, never from input.
        let sql = match action {
            OnErase::Unlink => format!("UPDATE {table} SET {column} = NULL WHERE {column} = $1"),
            OnErase::Delete => format!("DELETE FROM {table} WHERE {column} = $1"),
        };
        changed += db.execute(&sql, &[&user]).await?;
    }
    Ok(changed)
}

/// Mail to or about `email` not yet purged from the outbox (sent rows are kept a week), and pending
/// invitations to it; returns the rows deleted.
pub async fn forget_address(db: &impl GenericClient, email: &str) -> Result<u64, Error> {
    let mail = db
        .execute(
            "DELETE FROM outbox
              WHERE topic = 'email' AND strpos(lower(payload::text), lower($1)) > 0",
            &[&email],
        )
        .await?;
    let invitations = db
        .execute(
            "DELETE FROM invitations WHERE email = $1::text::citext",
            &[&email],
        )
        .await?;
    Ok(mail + invitations)
}

/// Turns the account into its tombstone: no name, no password, no platform role, the address replaced
/// by `tombstone` (or none). Returns when it was erased.
pub async fn tombstone(
    db: &impl GenericClient,
    user: Uuid,
    tombstone: Option<&str>,
    name: &str,
) -> Result<DateTime<Utc>, Error> {
    Ok(db
        .query_one(
            "UPDATE users
                SET email = $2::text::citext, name = $3, password_hash = NULL,
                    is_platform_admin = false, last_workspace_id = NULL,
                    deleted_at = now(), erased_at = now(), updated_at = now()
              WHERE id = $1
             RETURNING erased_at",
            &[&user, &tombstone, &name],
        )
        .await?
        .get(0))
}

/// When the account erased with this address tombstone was erased, while its row is kept.
pub async fn erased_with(
    db: &impl GenericClient,
    tombstone: &str,
) -> Result<Option<DateTime<Utc>>, Error> {
    Ok(db
        .query_opt(
            "SELECT erased_at FROM users WHERE email = $1::text::citext AND erased_at IS NOT NULL",
            &[&tombstone],
        )
        .await?
        .map(|r| r.get(0)))
}

/// The stored stand-in of an erased account's address: a one-way digest of it, shaped as an address
/// nobody can receive mail at (`.invalid`, RFC 2606), so the column's uniqueness keeps the address
/// reserved until the row is purged.
pub fn tombstone_of(email: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(format!(
        "studio-erased-address:{}",
        email.trim().to_lowercase()
    ));
    format!("erased-{}@erased.invalid", hex::encode(digest))
}
