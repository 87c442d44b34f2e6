//! Idempotency keys: a retried request with the same key gets the first response back. The rules (scopes,
//! replay or conflict) are in `services::idempotency`; this is their SQL.

use crate::ids::WorkspaceId;
use tokio_postgres::{Error, GenericClient};

#[derive(Debug, Clone)]
pub struct StoredResponse {
    pub request_hash: Vec<u8>,
    pub status_code: i32,
    pub response: serde_json::Value,
}

/// Records the response for `key`. Returns false when the key was used already (by a request that has
/// committed; a concurrent one in flight makes this wait for it).
pub async fn record(
    db: &impl GenericClient,
    workspace: WorkspaceId,
    scope: &str,
    key: &str,
    request_hash: &[u8],
    status_code: i32,
    response: &serde_json::Value,
) -> Result<bool, Error> {
    Ok(db
        .execute(
            // The member whose request it is: the scoped transaction's user (none for a key's or a
            // visitor's request), so that erasing the account purges the record (migration V21).
            "INSERT INTO idempotency_keys (workspace_id, scope, key, request_hash, status_code, response, user_id)
             VALUES ($1, $2, $3, $4, $5, $6, studio_user()) ON CONFLICT DO NOTHING",
            &[workspace.as_uuid(), &scope, &key, &request_hash, &status_code, response],
        )
        .await?
        == 1)
}

pub async fn get(
    db: &impl GenericClient,
    workspace: WorkspaceId,
    scope: &str,
    key: &str,
) -> Result<Option<StoredResponse>, Error> {
    Ok(db
        .query_opt(
            "SELECT request_hash, status_code, response FROM idempotency_keys WHERE workspace_id = $1 AND scope = $2 AND key = $3",
            &[workspace.as_uuid(), &scope, &key],
        )
        .await?
        .map(|r| StoredResponse { request_hash: r.get(0), status_code: r.get(1), response: r.get(2) }))
}
