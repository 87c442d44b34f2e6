//! The transactional outbox, as plumbing under both the mailer and the use cases: a message is written
//! ([`write`]) in the same transaction as the rows it announces and sent right after the commit
//! ([`send_committed`]); whatever could not be sent then is sent by the sweep ([`sweep`]), which the cron
//! runs (and the devserver, every 30 s). Its SQL is in [`crate::repo::outbox`].

use crate::ids::WorkspaceId;
use crate::queue::Queue;
use crate::repo::outbox;
use deadpool_postgres::Pool;
use uuid::Uuid;

/// What an outbox message announces, and so which queue carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Topic {
    /// Documents to chunk and embed (the ingest queue).
    Ingest,
    /// A rendered email to deliver (the email queue).
    Email,
    /// A website source's crawl to start (the crawl queue).
    Crawl,
}

impl Topic {
    /// The name stored in `outbox.topic`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Topic::Ingest => "ingest",
            Topic::Email => "email",
            Topic::Crawl => "crawl",
        }
    }

    const ALL: [Topic; 3] = [Topic::Ingest, Topic::Email, Topic::Crawl];

    fn parse(stored: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == stored)
    }
}

/// Writes a message to the outbox inside the caller's transaction and returns its id; after the commit,
/// hand the id and payload to [`send_committed`].
pub async fn write(
    tx: &impl tokio_postgres::GenericClient,
    workspace: Option<WorkspaceId>,
    topic: Topic,
    payload: &serde_json::Value,
) -> Result<Uuid, tokio_postgres::Error> {
    let id = Uuid::now_v7();
    outbox::insert(tx, id, workspace, topic.as_str(), payload).await?;
    Ok(id)
}

/// The queue for each outbox topic this process can reach; a topic without one waits for a process that has it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Queues<'a> {
    pub ingest: Option<&'a Queue>,
    pub email: Option<&'a Queue>,
    pub crawl: Option<&'a Queue>,
}

impl<'a> Queues<'a> {
    fn for_topic(&self, topic: Topic) -> Option<&'a Queue> {
        match topic {
            Topic::Ingest => self.ingest,
            Topic::Email => self.email,
            Topic::Crawl => self.crawl,
        }
    }

    fn topics(&self) -> Vec<String> {
        Topic::ALL
            .into_iter()
            .filter(|t| self.for_topic(*t).is_some())
            .map(|t| t.as_str().to_owned())
            .collect()
    }
}

/// Sends a committed outbox row's message now. A failure is recorded on the row and left to the sweep:
/// the request that wrote it has succeeded either way.
pub async fn send_committed(
    client: &impl tokio_postgres::GenericClient,
    queue: Option<&Queue>,
    id: Uuid,
    payload: &serde_json::Value,
) {
    let Some(queue) = queue else {
        tracing::info!(outbox_id = %id, "no queue configured here; the outbox sweep will send it");
        return;
    };
    match queue.send(payload.to_string()).await {
        Ok(()) => {
            if let Err(e) = outbox::mark_sent(client, id).await {
                tracing::warn!(outbox_id = %id, error = %e, "sent, but could not mark the outbox row; the sweep may send it again (harmless: consumers are idempotent)");
            }
        }
        Err(e) => {
            tracing::warn!(outbox_id = %id, error = format!("{e:#}"), "queue unreachable; the outbox sweep will send it");
            if let Err(e) = outbox::record_failure(client, id, &format!("{e:#}")).await {
                tracing::warn!(outbox_id = %id, error = %e, "could not record the send failure");
            }
        }
    }
}

/// What one sweep did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SweepReport {
    pub sent: usize,
    pub failed: usize,
}

/// Sends unsent rows at least `min_age_secs` old (younger ones are still being sent by their request).
/// Rows are locked while they are sent, so two sweeps at once never send the same row.
pub async fn sweep(
    db: &Pool,
    queues: Queues<'_>,
    min_age_secs: f64,
) -> anyhow::Result<SweepReport> {
    let topics = queues.topics();
    let mut report = SweepReport::default();
    if topics.is_empty() {
        return Ok(report);
    }
    let mut client = db.get().await?;
    let tx = client.transaction().await?;
    let rows = outbox::claim_unsent(&*tx, &topics, min_age_secs, 100).await?;
    for row in rows {
        let Some(queue) = Topic::parse(&row.topic).and_then(|t| queues.for_topic(t)) else {
            continue;
        };
        match queue.send(row.payload.to_string()).await {
            Ok(()) => {
                outbox::mark_sent(&*tx, row.id).await?;
                report.sent += 1;
            }
            Err(e) => {
                tracing::warn!(outbox_id = %row.id, topic = row.topic, attempts = row.attempts + 1, error = format!("{e:#}"), "outbox send failed again");
                outbox::record_failure(&*tx, row.id, &format!("{e:#}")).await?;
                report.failed += 1;
            }
        }
    }
    tx.commit().await?;
    if report.sent + report.failed > 0 {
        tracing::info!(sent = report.sent, failed = report.failed, "outbox sweep");
    }
    Ok(report)
}
