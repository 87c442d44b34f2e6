//! Idempotency-Key, the one home of its rules: a request sent again with the same key and the same body
//! gets the first response back without the work being redone; the same key with another body is a
//! conflict; of two concurrent requests with one key, the one that commits first wins and the other
//! answers with its response. Keys are unique per workspace and [`Scope`]. The header is read at the edge
//! (`http::idempotency`); the SQL is in `repo::idempotency`.

use crate::db::Scoped;
use crate::error::ApiError;
use crate::ids::WorkspaceId;
use crate::repo::idempotency as repo;
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};
use tokio_postgres::GenericClient;

/// The operations that take an Idempotency-Key. A key used for one is unrelated to the same key used for
/// another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// A chat turn with the customer-service agent (answered 200).
    ChatRun,
    /// Accepting documents for the knowledge base (answered 202).
    Ingest,
}

impl Scope {
    /// As stored in `idempotency_keys.scope`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Scope::ChatRun => "POST /api/v1/agents/customer-service/run",
            Scope::Ingest => "POST /api/v1/agents/ingest",
        }
    }

    /// The status code of the response that is recorded (and replayed).
    const fn status_code(self) -> i32 {
        match self {
            Scope::ChatRun => 200,
            Scope::Ingest => 202,
        }
    }

    fn conflict(self) -> ApiError {
        ApiError::conflict(match self {
            Scope::ChatRun => {
                "This Idempotency-Key was already used with a different message; use a new key for a new message."
            }
            Scope::Ingest => {
                "This Idempotency-Key was already used with a different request; use a new key for a new request."
            }
        })
    }
}

/// A client's retry token and a fingerprint of the request it came with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey {
    key: String,
    request_hash: Vec<u8>,
}

impl IdempotencyKey {
    /// The key (already checked by the edge) and the request it came with (fingerprinted as its JSON).
    pub fn new(key: impl Into<String>, request: &impl Serialize) -> Result<Self, ApiError> {
        let canonical = serde_json::to_vec(request).map_err(ApiError::internal)?;
        Ok(Self {
            key: key.into(),
            request_hash: Sha256::digest(&canonical).to_vec(),
        })
    }

    pub fn as_str(&self) -> &str {
        &self.key
    }
}

/// The response first recorded for `key`, if a request with it has committed — a conflict when that
/// request was another one. Check this before work that must not be redone (e.g. an LLM call).
pub async fn replay<T: DeserializeOwned>(
    db: &impl GenericClient,
    ws: WorkspaceId,
    scope: Scope,
    key: &IdempotencyKey,
) -> Result<Option<T>, ApiError> {
    let Some(stored) = repo::get(db, ws, scope.as_str(), &key.key).await? else {
        return Ok(None);
    };
    if stored.request_hash != key.request_hash {
        return Err(scope.conflict());
    }
    tracing::info!(workspace_id = %ws, scope = scope.as_str(), "idempotent replay: the first response, the work not redone");
    Ok(Some(
        serde_json::from_value(stored.response).map_err(ApiError::internal)?,
    ))
}

/// What [`record`] did.
pub enum Recorded<T> {
    /// The response is recorded in the transaction, which goes on and commits with the work (also when
    /// the request has no key).
    New(Scoped),
    /// A request with the same key committed first: the transaction is rolled back and this is the
    /// first response (a conflict error instead when that request was another one).
    Replay(T),
}

/// Records `response` for `key` in the work's transaction — or, when a concurrent request with the same
/// key committed first (the insert waits for one in flight), rolls the transaction back and replays
/// that request's response.
pub async fn record<T: Serialize + DeserializeOwned>(
    tx: Scoped,
    ws: WorkspaceId,
    scope: Scope,
    key: Option<&IdempotencyKey>,
    response: &T,
) -> Result<Recorded<T>, ApiError> {
    let Some(key) = key else {
        return Ok(Recorded::New(tx));
    };
    let body = serde_json::to_value(response).map_err(ApiError::internal)?;
    let (status, hash) = (scope.status_code(), &key.request_hash);
    if repo::record(&**tx, ws, scope.as_str(), &key.key, hash, status, &body).await? {
        return Ok(Recorded::New(tx));
    }
    // Read committed: this statement sees the row the winner committed while the insert waited.
    let first = replay(&**tx, ws, scope, key).await;
    drop(tx); // rolled back
    first?
        .map(Recorded::Replay)
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("idempotency key vanished")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_keep_the_strings_stored_keys_were_recorded_under() {
        assert_eq!(
            Scope::ChatRun.as_str(),
            "POST /api/v1/agents/customer-service/run"
        );
        assert_eq!(Scope::Ingest.as_str(), "POST /api/v1/agents/ingest");
        assert_eq!(
            (Scope::ChatRun.status_code(), Scope::Ingest.status_code()),
            (200, 202)
        );
    }
}
