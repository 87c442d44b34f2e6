//! The scheduled jobs the cron function runs (EventBridge, one schedule per job) and admins run on
//! demand (`POST /api/v1/admin/jobs/{name}/run`). Every job is idempotent, safe to run twice at once, and
//! logs and returns what it did.

use crate::outbox::{self, Queues};
use crate::repo::{self, maintenance};
use crate::state::KnowledgeState;
use chrono::Utc;
use serde::Serialize;
use std::collections::BTreeMap;
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Job {
    /// Refresh tokens of ended families, used or expired reset tokens, idempotency keys older than a day,
    /// ended invitations, sent outbox rows, old delivery records and visitor sessions over a day expired.
    PurgeExpiredTokens,
    /// Hard-deletes rows soft-deleted longer ago than the retention period, with their vectors; anonymous
    /// visitors past their workspace's retention, with their conversations; and conversations past
    /// their workspace's `conversationRetentionDays`.
    PurgeDeleted,
    /// Sends outbox rows the queue did not take when they were written.
    ResendOutbox,
    /// Fails documents stuck in `pending` or `processing` past the deadline, with a reason.
    FailStuckIngestions,
    /// Records each workspace's monthly usage (the current month, and the previous month closed).
    RolloverUsage,
    /// Starts website sources' scheduled syncs that are due, and announces again crawls that stopped
    /// moving.
    SyncSources,
    /// After a change of embedding model, starts the re-index that fills the new collection (searches
    /// switch to it when it completes); and announces again re-index jobs that stopped moving.
    Reindex,
    /// Builds the data exports people and owners asked for (`services::exports`), and deletes the ones
    /// past their keeping with their files.
    BuildExports,
}

impl Job {
    pub const ALL: [Job; 8] = [
        Job::PurgeExpiredTokens,
        Job::PurgeDeleted,
        Job::ResendOutbox,
        Job::FailStuckIngestions,
        Job::RolloverUsage,
        Job::SyncSources,
        Job::Reindex,
        Job::BuildExports,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            Job::PurgeExpiredTokens => "purge-expired-tokens",
            Job::PurgeDeleted => "purge-deleted",
            Job::ResendOutbox => "resend-outbox",
            Job::FailStuckIngestions => "fail-stuck-ingestions",
            Job::RolloverUsage => "rollover-usage",
            Job::SyncSources => "sync-sources",
            Job::Reindex => "reindex",
            Job::BuildExports => "build-exports",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|j| j.name() == name)
    }

    /// The names, for error messages.
    pub fn names() -> String {
        Self::ALL.map(Job::name).join(", ")
    }
}

/// What one run did: counts by what was affected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobReport {
    pub job: Job,
    pub counts: BTreeMap<&'static str, u64>,
    pub duration_ms: u64,
}

/// Rows handled per batch by the purge (vector deletions happen between select and delete).
const PURGE_BATCH: i64 = 500;
/// Outbox rows younger than this are still being sent by the request that wrote them.
const OUTBOX_MIN_AGE_SECS: f64 = 60.0;

pub async fn run(state: &KnowledgeState, job: Job) -> anyhow::Result<JobReport> {
    let started = std::time::Instant::now();
    let counts = match job {
        Job::PurgeExpiredTokens => purge_expired_tokens(state).await,
        Job::PurgeDeleted => purge_deleted(state).await,
        Job::ResendOutbox => resend_outbox(state).await,
        Job::FailStuckIngestions => fail_stuck_ingestions(state).await,
        Job::RolloverUsage => rollover_usage(state).await,
        Job::SyncSources => sync_sources(state).await,
        Job::Reindex => reindex(state).await,
        Job::BuildExports => crate::services::exports::run(&state.app).await,
    }
    .map_err(|e| e.context(format!("job {} failed", job.name())))?;
    let report = JobReport {
        job,
        counts,
        duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    };
    tracing::info!(job = job.name(), counts = ?report.counts, duration_ms = report.duration_ms, "job finished");
    Ok(report)
}

async fn reindex(state: &KnowledgeState) -> anyhow::Result<BTreeMap<&'static str, u64>> {
    let watched = crate::services::reindex::watch(state).await?;
    Ok(BTreeMap::from([
        ("started", u64::from(watched.started.is_some())),
        ("resumed", watched.resumed.len() as u64),
    ]))
}

async fn purge_expired_tokens(
    state: &KnowledgeState,
) -> anyhow::Result<BTreeMap<&'static str, u64>> {
    let client = state.app.db.get().await?;
    let db = &**client;
    Ok(BTreeMap::from([
        ("refreshTokens", repo::refresh_tokens::purge(db).await?),
        (
            "passwordResetTokens",
            repo::password_resets::purge(db).await?,
        ),
        (
            "idempotencyKeys",
            maintenance::purge_idempotency_keys(db).await?,
        ),
        (
            "invitations",
            repo::invitations::purge_finished(db, 30).await?,
        ),
        ("sentOutboxRows", repo::outbox::purge_sent(db, 7).await?),
        (
            "emailDeliveries",
            repo::email_deliveries::purge(db, 15).await?,
        ),
        (
            "visitorSessions",
            repo::visitors::delete_expired_sessions(db, Utc::now() - chrono::Duration::days(1))
                .await?,
        ),
    ]))
}

pub use super::retention::Retention;

async fn purge_deleted(state: &KnowledgeState) -> anyhow::Result<BTreeMap<&'static str, u64>> {
    let days = Retention::of(&state.app.config).sql_days();
    let mut counts = BTreeMap::from([("documents", 0), ("workspaces", 0)]);
    let mut client = state.app.db.get().await?;
    // The previous collection too, while it serves searches (a change of embedding model).
    let stores = crate::services::reindex::written_stores(state, &**client).await?;
    // Documents: vectors first (idempotent), then the rows, one locked batch per transaction.
    loop {
        let tx = client.transaction().await?;
        let batch = maintenance::claim_expired_documents(&*tx, days, PURGE_BATCH).await?;
        if batch.is_empty() {
            break;
        }
        for (id, ws, file) in &batch {
            for store in &stores {
                store.delete_document(*ws, *id).await?;
            }
            if let Some(key) = file {
                delete_file(state, key).await?;
            }
        }
        let ids: Vec<_> = batch.iter().map(|(id, _, _)| *id).collect();
        *counts.entry("documents").or_default() +=
            maintenance::delete_documents(&*tx, &ids).await?;
        tx.commit().await?;
        if (batch.len() as i64) < PURGE_BATCH {
            break;
        }
    }
    loop {
        let tx = client.transaction().await?;
        let batch = maintenance::claim_expired_workspaces(&*tx, days, PURGE_BATCH).await?;
        if batch.is_empty() {
            break;
        }
        for ws in &batch {
            for store in &stores {
                store.delete_workspace(*ws).await?;
            }
        }
        let ids: Vec<_> = batch.iter().map(|ws| *ws.as_uuid()).collect();
        for key in maintenance::file_keys_of_workspaces(&*tx, &ids).await? {
            delete_file(state, &key).await?;
        }
        for key in repo::exports::files_of_workspaces(&*tx, &ids).await? {
            delete_file(state, &key).await?;
        }
        *counts.entry("workspaces").or_default() +=
            maintenance::delete_workspaces(&*tx, &ids).await?;
        tx.commit().await?;
        if (batch.len() as i64) < PURGE_BATCH {
            break;
        }
    }
    counts.insert(
        "conversations",
        maintenance::delete_expired_conversations(&**client, days).await?,
    );
    counts.insert(
        "users",
        maintenance::delete_expired_users(&**client, days).await?,
    );
    // Conversations past their workspace's retention setting, in batches.
    let mut past_retention = 0;
    loop {
        let n = maintenance::delete_conversations_past_retention(&**client, PURGE_BATCH).await?;
        past_retention += n;
        if n < PURGE_BATCH as u64 {
            break;
        }
    }
    counts.insert("conversationsPastRetention", past_retention);
    // Anonymous visitors not seen for their workspace's `anonymousRetentionDays`, with their
    // conversations (signed end users are the tenant's to erase).
    let default_days =
        i32::try_from(crate::agent::widget::DEFAULT_ANONYMOUS_RETENTION_DAYS).unwrap_or(90);
    counts.insert(
        "anonymousVisitors",
        repo::visitors::purge_anonymous(&**client, default_days).await?,
    );
    Ok(counts)
}

/// Deletes an uploaded file (before its row goes: a failure leaves both for the next run).
async fn delete_file(state: &KnowledgeState, key: &str) -> anyhow::Result<()> {
    let files = state.files.as_ref().ok_or_else(|| {
        anyhow::anyhow!(
            "UPLOADS_BUCKET is not set: uploaded files cannot be deleted with their documents"
        )
    })?;
    files.delete(key).await
}

async fn sync_sources(state: &KnowledgeState) -> anyhow::Result<BTreeMap<&'static str, u64>> {
    let report = crate::services::sources::sync_due(state).await?;
    Ok(BTreeMap::from([
        ("syncsStarted", report.started),
        ("stalledCrawlsResumed", report.resumed),
    ]))
}

async fn resend_outbox(state: &KnowledgeState) -> anyhow::Result<BTreeMap<&'static str, u64>> {
    let report = outbox::sweep(
        &state.app.db,
        Queues {
            ingest: Some(&state.queue),
            email: state.app.email_queue.as_ref(),
            crawl: state.crawl.as_ref(),
        },
        OUTBOX_MIN_AGE_SECS,
    )
    .await?;
    Ok(BTreeMap::from([
        ("sent", report.sent as u64),
        ("failed", report.failed as u64),
    ]))
}

async fn fail_stuck_ingestions(
    state: &KnowledgeState,
) -> anyhow::Result<BTreeMap<&'static str, u64>> {
    let deadline = state.app.config.ops.ingestion_deadline;
    let reason = format!(
        "ingestion did not finish within {} minutes (a worker may have stopped, or the queue was unreachable); ingest the document again",
        deadline.as_secs() / 60
    );
    let minutes = deadline.as_secs() / 60;
    let upload_missing = format!(
        "the file did not arrive within {minutes} minutes of its upload URL (the upload was abandoned or refused); request a new upload"
    );
    let extraction = format!(
        "reading the file did not finish within {minutes} minutes (it ran out of time or memory: it may be damaged or built to exhaust a reader); check the file and upload it again"
    );
    let reasons = maintenance::StuckReasons {
        indexing: &reason,
        upload_missing: &upload_missing,
        extraction: &extraction,
    };
    let client = state.app.db.get().await?;
    let failed =
        maintenance::fail_stuck_documents(&**client, deadline.as_secs_f64(), &reasons).await?;
    for (document, workspace, code) in &failed {
        tracing::warn!(document_id = %document, workspace_id = %workspace, code = %code, "stuck document failed");
    }
    Ok(BTreeMap::from([("documentsFailed", failed.len() as u64)]))
}

async fn rollover_usage(state: &KnowledgeState) -> anyhow::Result<BTreeMap<&'static str, u64>> {
    let client = state.app.db.get().await?;
    Ok(BTreeMap::from([(
        "usagePeriods",
        maintenance::rollover_usage(&**client).await?,
    )]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn when_a_job_name_is_parsed_it_round_trips_and_unknown_names_are_refused() {
        for job in Job::ALL {
            assert_eq!(Job::parse(job.name()), Some(job));
            assert_eq!(
                serde_json::to_value(job).expect("json"),
                serde_json::json!(job.name())
            );
        }
        assert_eq!(Job::parse("drop-everything"), None);
        assert!(Job::names().contains("purge-deleted"));
    }
}
