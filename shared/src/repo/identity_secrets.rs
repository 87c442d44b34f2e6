//! A workspace's identity secret: rotated (the previous one kept for a grace), read for verification,
//! described without the secret, deleted.

use crate::ids::WorkspaceId;
use chrono::{DateTime, Utc};
use tokio_postgres::{Error, GenericClient, Row};
use uuid::Uuid;

/// What may be shown of a workspace's identity secret: never the secret.
#[derive(Debug, Clone)]
pub struct SecretMeta {
    pub created_at: DateTime<Utc>,
    pub previous_valid_until: Option<DateTime<Utc>>,
}

fn meta(r: &Row) -> SecretMeta {
    SecretMeta {
        created_at: r.get("created_at"),
        previous_valid_until: r.get("previous_valid_until"),
    }
}

/// Stores a new current secret; an existing one becomes the previous secret, valid for `grace` more
/// seconds (one already previous is dropped).
pub async fn rotate(
    db: &impl GenericClient,
    workspace: WorkspaceId,
    secret: &str,
    created_by: Uuid,
    grace_secs: f64,
) -> Result<SecretMeta, Error> {
    let row = db
        .query_one(
            "INSERT INTO workspace_identity_secrets AS s (workspace_id, secret, created_by)
             VALUES ($1, $2, $3)
             ON CONFLICT (workspace_id) DO UPDATE
                SET previous_secret = s.secret,
                    previous_valid_until = now() + make_interval(secs => $4),
                    secret = EXCLUDED.secret, created_by = EXCLUDED.created_by, created_at = now()
             RETURNING created_at, previous_valid_until",
            &[workspace.as_uuid(), &secret, &created_by, &grace_secs],
        )
        .await?;
    Ok(meta(&row))
}

pub async fn describe(
    db: &impl GenericClient,
    workspace: WorkspaceId,
) -> Result<Option<SecretMeta>, Error> {
    let row = db
        .query_opt(
            "SELECT created_at, previous_valid_until FROM workspace_identity_secrets WHERE workspace_id = $1",
            &[workspace.as_uuid()],
        )
        .await?;
    Ok(row.as_ref().map(meta))
}

/// The secrets a token may be verified with: the current one, and the previous one with its end.
#[derive(Debug)]
pub struct StoredSecrets {
    pub current: String,
    pub previous: Option<(String, DateTime<Utc>)>,
}

pub async fn secrets(
    db: &impl GenericClient,
    workspace: WorkspaceId,
) -> Result<Option<StoredSecrets>, Error> {
    let row = db
        .query_opt(
            "SELECT secret, previous_secret, previous_valid_until FROM workspace_identity_secrets
              WHERE workspace_id = $1",
            &[workspace.as_uuid()],
        )
        .await?;
    Ok(row.map(|r| {
        let previous: Option<String> = r.get("previous_secret");
        let until: Option<DateTime<Utc>> = r.get("previous_valid_until");
        StoredSecrets {
            current: r.get("secret"),
            previous: previous.zip(until),
        }
    }))
}

/// Removes both secrets; the removed row's description, `None` when there was none.
pub async fn delete(
    db: &impl GenericClient,
    workspace: WorkspaceId,
) -> Result<Option<SecretMeta>, Error> {
    let row = db
        .query_opt(
            "DELETE FROM workspace_identity_secrets WHERE workspace_id = $1
             RETURNING created_at, previous_valid_until",
            &[workspace.as_uuid()],
        )
        .await?;
    Ok(row.as_ref().map(meta))
}
