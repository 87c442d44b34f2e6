//! The transactional outbox: messages written with the rows they announce, sent after commit.

use crate::ids::WorkspaceId;
use chrono::{DateTime, Utc};
use tokio_postgres::{Error, GenericClient};
use uuid::Uuid;

#[derive(Debug, Clone)]
pub struct OutboxRow {
    pub id: Uuid,
    pub topic: String,
    pub payload: serde_json::Value,
    pub attempts: i32,
    pub created_at: DateTime<Utc>,
}

pub async fn insert(
    db: &impl GenericClient,
    id: Uuid,
    workspace: Option<WorkspaceId>,
    topic: &str,
    payload: &serde_json::Value,
) -> Result<(), Error> {
    db.execute(
        "INSERT INTO outbox (id, workspace_id, topic, payload) VALUES ($1, $2, $3, $4)",
        &[&id, &workspace.map(|w| *w.as_uuid()), &topic, payload],
    )
    .await
    .map(drop)
}

/// Marks a row sent. A sent email's payload keeps only its id and kind: the rendered message (which may
/// carry a one-time link) does not stay in the database.
pub async fn mark_sent(db: &impl GenericClient, id: Uuid) -> Result<(), Error> {
    db.execute(
        "UPDATE outbox SET sent_at = now(), attempts = attempts + 1, last_error = NULL,
                payload = CASE WHEN topic = 'email' THEN jsonb_build_object('id', payload->'id', 'kind', payload->'kind') ELSE payload END
          WHERE id = $1",
        &[&id],
    )
        .await
        .map(drop)
}

pub async fn record_failure(db: &impl GenericClient, id: Uuid, error: &str) -> Result<(), Error> {
    db.execute(
        "UPDATE outbox SET attempts = attempts + 1, last_error = $2 WHERE id = $1",
        &[&id, &error],
    )
    .await
    .map(drop)
}

/// Unsent rows older than `min_age_secs`, oldest first, locked for this sweeper (others skip them).
pub async fn claim_unsent(
    db: &impl GenericClient,
    topics: &[String],
    min_age_secs: f64,
    limit: i64,
) -> Result<Vec<OutboxRow>, Error> {
    let rows = db
        .query(
            "SELECT id, topic, payload, attempts, created_at FROM outbox
              WHERE sent_at IS NULL AND topic = ANY($3) AND created_at <= now() - make_interval(secs => $1)
              ORDER BY created_at LIMIT $2
              FOR UPDATE SKIP LOCKED",
            &[&min_age_secs, &limit, &topics],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| OutboxRow {
            id: r.get("id"),
            topic: r.get("topic"),
            payload: r.get("payload"),
            attempts: r.get("attempts"),
            created_at: r.get("created_at"),
        })
        .collect())
}

/// Deletes rows sent more than `older_than_days` ago; returns how many.
pub async fn purge_sent(db: &impl GenericClient, older_than_days: i32) -> Result<u64, Error> {
    db.execute(
        "DELETE FROM outbox WHERE sent_at < now() - make_interval(days => $1)",
        &[&older_than_days],
    )
    .await
}
