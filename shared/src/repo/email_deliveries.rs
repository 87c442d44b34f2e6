//! Which email messages the worker has handed to the provider (each id once).

use tokio_postgres::{Error, GenericClient};
use uuid::Uuid;

/// Records the delivery of `id`; false when it was recorded before (by a committed or concurrent delivery,
/// which this call waits for).
pub async fn claim(db: &impl GenericClient, id: Uuid, kind: &str) -> Result<bool, Error> {
    db.execute(
        "INSERT INTO email_deliveries (id, kind) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING",
        &[&id, &kind],
    )
    .await
    .map(|n| n == 1)
}

pub async fn record_provider_id(
    db: &impl GenericClient,
    id: Uuid,
    provider_message_id: Option<&str>,
) -> Result<(), Error> {
    db.execute(
        "UPDATE email_deliveries SET provider_message_id = $2 WHERE id = $1",
        &[&id, &provider_message_id],
    )
    .await
    .map(drop)
}

/// Forgets deliveries older than `days` (SQS keeps a message at most 14 days, so a redelivery cannot come later).
pub async fn purge(db: &impl GenericClient, days: i32) -> Result<u64, Error> {
    db.execute(
        "DELETE FROM email_deliveries WHERE sent_at < now() - make_interval(days => $1)",
        &[&days],
    )
    .await
}
