use chrono::{DateTime, Utc};
use tokio_postgres::Error;
use tokio_postgres::GenericClient;
use tokio_postgres::types::Type;
use uuid::Uuid;

/// What a successfully spent token carries forward to its successor.
#[derive(Debug, Clone)]
pub struct SpentToken {
    pub family_id: Uuid,
    pub user_id: Uuid,
    pub workspace_id: Option<Uuid>,
    pub expires_at: DateTime<Utc>,
}

#[allow(clippy::too_many_arguments)]
pub async fn insert(
    db: &impl GenericClient,
    id: Uuid,
    hash: &[u8],
    family: Uuid,
    user: Uuid,
    workspace: Option<Uuid>,
    expires_at: DateTime<Utc>,
) -> Result<(), Error> {
    db.query_typed(
        "INSERT INTO refresh_tokens (id, token_hash, family_id, user_id, workspace_id, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
        &[
            (&id, Type::UUID),
            (&hash, Type::BYTEA),
            (&family, Type::UUID),
            (&user, Type::UUID),
            (&workspace, Type::UUID),
            (&expires_at, Type::TIMESTAMPTZ),
        ],
    )
    .await
    .map(drop)
}

/// Spends a live token, naming its successor. Atomic: of two concurrent calls with the same token exactly
/// one gets `Some` (the other waits on the row lock, then finds it spent).
pub async fn spend(
    db: &impl GenericClient,
    hash: &[u8],
    successor: Uuid,
) -> Result<Option<SpentToken>, Error> {
    let row = db
        .query_opt(
            "UPDATE refresh_tokens SET revoked_at = now(), replaced_by = $2
              WHERE token_hash = $1 AND revoked_at IS NULL AND expires_at > now()
              RETURNING family_id, user_id, workspace_id, expires_at",
            &[&hash, &successor],
        )
        .await?;
    Ok(row.map(|r| SpentToken {
        family_id: r.get("family_id"),
        user_id: r.get("user_id"),
        workspace_id: r.get("workspace_id"),
        expires_at: r.get("expires_at"),
    }))
}

/// The family of a token that exists (live, spent, revoked or expired), and whether it has expired.
pub async fn family_of(
    db: &impl GenericClient,
    hash: &[u8],
) -> Result<Option<(Uuid, bool)>, Error> {
    Ok(db
        .query_opt("SELECT family_id, expires_at <= now() AS expired FROM refresh_tokens WHERE token_hash = $1", &[&hash])
        .await?
        .map(|r| (r.get("family_id"), r.get("expired"))))
}

/// Revokes every live token of a family; returns how many were live.
pub async fn revoke_family(db: &impl GenericClient, family: Uuid) -> Result<u64, Error> {
    db.execute(
        "UPDATE refresh_tokens SET revoked_at = now() WHERE family_id = $1 AND revoked_at IS NULL",
        &[&family],
    )
    .await
}

/// Revokes every live refresh token of a user (after a password reset); returns how many.
pub async fn revoke_all_of_user(db: &impl GenericClient, user: Uuid) -> Result<u64, Error> {
    db.execute(
        "UPDATE refresh_tokens SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL",
        &[&user],
    )
    .await
}

/// Deletes the tokens of families that are over: expired, or with no live token left for a day (logged
/// out, or revoked after a replay). A spent token of a live family is kept: presenting it again must still
/// revoke the family.
pub async fn purge(db: &impl GenericClient) -> Result<u64, Error> {
    db.execute(
        "DELETE FROM refresh_tokens t
          WHERE t.expires_at < now()
             OR (t.revoked_at < now() - interval '1 day'
                 AND NOT EXISTS (SELECT 1 FROM refresh_tokens live
                                  WHERE live.family_id = t.family_id AND live.revoked_at IS NULL))",
        &[],
    )
    .await
}
