//! Password reset tokens: stored as SHA-256 hashes, single use, short-lived.

use tokio_postgres::{Error, GenericClient};
use uuid::Uuid;

/// Issues a token for `user`, invalidating any earlier unused one (only the newest link works).
pub async fn insert(
    db: &impl GenericClient,
    user: Uuid,
    token_hash: &[u8],
    ttl_secs: f64,
) -> Result<(), Error> {
    db.execute(
        "UPDATE password_reset_tokens SET used_at = now() WHERE user_id = $1 AND used_at IS NULL",
        &[&user],
    )
    .await?;
    db.execute(
        "INSERT INTO password_reset_tokens (id, user_id, token_hash, expires_at)
         VALUES ($1, $2, $3, now() + make_interval(secs => $4))",
        &[&Uuid::now_v7(), &user, &token_hash, &ttl_secs],
    )
    .await
    .map(drop)
}

/// Spends the token: returns its user when it was unused and unexpired (and marks it used), else `None`.
pub async fn spend(db: &impl GenericClient, token_hash: &[u8]) -> Result<Option<Uuid>, Error> {
    Ok(db
        .query_opt(
            "UPDATE password_reset_tokens SET used_at = now()
              WHERE token_hash = $1 AND used_at IS NULL AND expires_at > now()
              RETURNING user_id",
            &[&token_hash],
        )
        .await?
        .map(|r| r.get(0)))
}

/// Deletes tokens used or expired more than a day ago.
pub async fn purge(db: &impl GenericClient) -> Result<u64, Error> {
    db.execute(
        "DELETE FROM password_reset_tokens
          WHERE COALESCE(used_at, expires_at) < now() - interval '1 day'",
        &[],
    )
    .await
}
