//! What the platform's operators do through the admin API. Every action writes its audit-log entry in
//! the same transaction as its effect (or, for actions outside the database, right after it).

use crate::auth::PlatformAdmin;
use crate::error::ApiError;
use crate::paging::{Cursor, Page, PageParams};
use crate::queue::{Queue, QueueDepth, QueueName};
use crate::repo;
use crate::services::jobs::{self, Job, JobReport, Retention};
use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;
use serde::Serialize;
use serde_json::json;
use std::time::Duration;
use utoipa::ToSchema;
use uuid::Uuid;

/// Records one admin action (on its own, or inside the caller's transaction).
pub async fn audit(
    db: &impl tokio_postgres::GenericClient,
    admin: &PlatformAdmin,
    action: &str,
    target: Option<(&str, String)>,
    details: serde_json::Value,
) -> Result<(), ApiError> {
    let target = target.map(|(kind, id)| (kind, Some(id)));
    super::audit::write(db, admin.actor, None, action, target, details).await
}

/// A live workspace by id, for a platform operator's action on it (404 when there is none).
pub async fn live_workspace(db: &Pool, id: Uuid) -> Result<crate::ids::WorkspaceId, ApiError> {
    let client = db.get().await?;
    repo::admin::workspace(&**client, id)
        .await?
        .map(|_| crate::ids::WorkspaceId::from_trusted_source(id))
        .ok_or_else(|| ApiError::not_found("Workspace"))
}

/// Runs the scheduled job called `name` now, on behalf of `admin`, and records it in the audit log with
/// what it did (or why it failed). An unknown name is a 404 listing the jobs; a failed job a 503.
pub async fn run_job(
    state: &crate::state::KnowledgeState,
    admin: &PlatformAdmin,
    name: &str,
) -> Result<JobReport, ApiError> {
    let job = Job::parse(name).ok_or_else(|| {
        ApiError::new(
            crate::ErrorCode::NotFound,
            format!("There is no job {name:?}; the jobs are: {}.", Job::names()),
        )
    })?;
    let outcome = jobs::run(state, job).await;
    let client = state.app.db.get().await?;
    let details = match &outcome {
        Ok(report) => json!({"counts": report.counts, "durationMs": report.duration_ms}),
        Err(e) => json!({"error": format!("{e:#}")}),
    };
    audit(
        &**client,
        admin,
        "job.run",
        Some(("job", job.name().to_owned())),
        details,
    )
    .await?;
    outcome.map_err(|e| ApiError::unavailable("a dependency of the job", e))
}

/// A queue the admin API can see: the ingest and email queues and their dead-letter queues.
#[derive(Debug, Clone, Copy)]
pub struct NamedQueue<'a> {
    pub name: &'static str,
    pub queue: Option<&'a Queue>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    pub users: i64,
    pub workspaces: i64,
    pub suspended_workspaces: i64,
    pub documents: i64,
    pub messages: i64,
    /// Outbox rows not yet handed to their queue.
    pub pending_outbox: i64,
    /// Each queue the admin API knows: ingest, email, and their dead-letter queues.
    pub queues: Vec<QueueStat>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct QueueStat {
    pub name: String,
    /// Null when the queue is not configured here, or could not be read (logged).
    pub depth: Option<QueueDepth>,
}

pub async fn stats(
    db: &Pool,
    admin: &PlatformAdmin,
    queues: &[NamedQueue<'_>],
) -> Result<Stats, ApiError> {
    let client = db.get().await?;
    let counts = repo::admin::counts(&**client).await?;
    let mut depths = Vec::new();
    for q in queues {
        let depth = match q.queue {
            None => None,
            Some(queue) => match queue.depth().await {
                Ok(d) => d,
                Err(e) => {
                    tracing::warn!(
                        queue = q.name,
                        error = format!("{e:#}"),
                        "queue depth unavailable"
                    );
                    None
                }
            },
        };
        depths.push(QueueStat {
            name: q.name.to_owned(),
            depth,
        });
    }
    audit(&**client, admin, "stats.read", None, json!({})).await?;
    Ok(Stats {
        users: counts.users,
        workspaces: counts.workspaces,
        suspended_workspaces: counts.suspended_workspaces,
        documents: counts.documents,
        messages: counts.messages,
        pending_outbox: counts.pending_outbox,
        queues: depths,
    })
}

pub use crate::repo::admin::AdminWorkspaceRow as AdminWorkspaceView;

fn workspace_view(mut w: AdminWorkspaceView, retention: Retention) -> AdminWorkspaceView {
    w.purge_after = w.deleted_at.map(|d| retention.purge_after(d));
    w
}

/// Which workspaces the directory lists.
#[derive(Debug, Clone, Copy, Default)]
pub struct WorkspaceFilter<'a> {
    /// Part of the name or slug (case-insensitive).
    pub search: Option<&'a str>,
    pub suspended_only: bool,
    /// Soft-deleted workspaces (not yet purged) instead of live ones.
    pub deleted: bool,
    /// Ranked by what they cost in a period instead of newest first.
    pub by_cost: Option<CostRanking<'a>>,
}

/// A ranking by cost: the period (UTC days, both included) and the price table.
#[derive(Debug, Clone, Copy)]
pub struct CostRanking<'a> {
    pub from: chrono::NaiveDate,
    pub to: chrono::NaiveDate,
    pub prices: &'a crate::config::UsageConfig,
}

pub async fn workspaces(
    db: &Pool,
    admin: &PlatformAdmin,
    filter: WorkspaceFilter<'_>,
    retention: Retention,
    page: &PageParams,
) -> Result<Page<AdminWorkspaceView>, ApiError> {
    let limit = page.limit();
    let before = page.cursor()?.map(|c| (c.at, c.id));
    let client = db.get().await?;
    let search = filter.search.map(str::trim).filter(|s| !s.is_empty());
    if let Some(ranking) = filter.by_cost {
        if filter.deleted || before.is_some() {
            return Err(ApiError::field(
                "sort",
                "sort=cost lists the live workspaces that cost most in the period, one page of up to `limit`: without `deleted` or `cursor`",
            ));
        }
        if ranking.from > ranking.to {
            return Err(ApiError::field("from", "must be on or before `to`"));
        }
        let rows = repo::admin::workspaces_by_cost(
            &**client,
            search,
            filter.suspended_only,
            ranking.from,
            ranking.to,
            &ranking.prices.columns(),
            i64::from(limit),
        )
        .await?;
        audit(
            &**client,
            admin,
            "workspaces.list",
            None,
            json!({"search": search, "suspendedOnly": filter.suspended_only, "sort": "cost", "from": ranking.from, "to": ranking.to}),
        )
        .await?;
        return Ok(Page {
            items: rows
                .into_iter()
                .map(|r| workspace_view(r, retention))
                .collect(),
            next_cursor: None,
        });
    }
    let rows = repo::admin::search_workspaces(
        &**client,
        search,
        filter.suspended_only,
        filter.deleted,
        before,
        i64::from(limit) + 1,
    )
    .await?;
    audit(
        &**client,
        admin,
        "workspaces.list",
        None,
        json!({"search": search, "suspendedOnly": filter.suspended_only, "deleted": filter.deleted}),
    )
    .await?;
    Page::from_rows(rows, limit, |r| Cursor {
        at: r.created_at,
        id: r.id,
    })
    .try_map(|r| Ok::<_, ApiError>(workspace_view(r, retention)))
}

/// Suspends a workspace (its members get 403 `workspace_suspended` at once) or restores it.
pub async fn set_suspended(
    db: &Pool,
    admin: &PlatformAdmin,
    id: Uuid,
    suspend: bool,
    reason: Option<&str>,
    retention: Retention,
) -> Result<AdminWorkspaceView, ApiError> {
    let mut client = db.get().await?;
    let tx = client.transaction().await?;
    if !repo::admin::set_suspended(&*tx, id, reason, suspend).await? {
        return Err(ApiError::not_found("Workspace"));
    }
    let action = if suspend {
        "workspace.suspend"
    } else {
        "workspace.unsuspend"
    };
    audit(
        &*tx,
        admin,
        action,
        Some(("workspace", id.to_string())),
        json!({"reason": reason}),
    )
    .await?;
    let row = repo::admin::workspace(&*tx, id)
        .await?
        .ok_or_else(|| ApiError::not_found("Workspace"))?;
    tx.commit().await?;
    tracing::info!(workspace_id = %id, suspended = suspend, "workspace suspension changed");
    Ok(workspace_view(row, retention))
}

/// Undoes an owner's delete within the retention window, with its members, documents and settings as they
/// were (a soft delete only marks the workspace). Audited in the same transaction. A live workspace is a
/// 409 (nothing to restore: a mistaken id more likely than a retry, and the audit log records only real
/// restores); past the window, a 409 naming when it ended; no such workspace (or purged already), a 404.
pub async fn restore_workspace(
    db: &Pool,
    admin: &PlatformAdmin,
    id: Uuid,
    retention: Retention,
) -> Result<AdminWorkspaceView, ApiError> {
    let mut client = db.get().await?;
    let tx = client.transaction().await?;
    let state = repo::admin::lock_for_restore(&*tx, id, retention.sql_days())
        .await?
        .ok_or_else(|| {
            ApiError::new(
                crate::ErrorCode::NotFound,
                format!(
                    "Workspace not found: no workspace has this id, or it was deleted more than {} days ago and has been purged.",
                    retention.days
                ),
            )
        })?;
    let Some(deleted_at) = state.deleted_at else {
        return Err(ApiError::conflict(
            "This workspace is not deleted: there is nothing to restore.",
        ));
    };
    if !state.within_retention {
        let ended = retention
            .purge_after(deleted_at)
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        return Err(ApiError::conflict(format!(
            "This workspace was deleted at {}; its {}-day restore window ended at {ended} and it is waiting \
             for the purge job, so it can no longer be restored.",
            deleted_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            retention.days
        )));
    }
    repo::admin::restore(&*tx, id).await?;
    audit(
        &*tx,
        admin,
        "workspace.restore",
        Some(("workspace", id.to_string())),
        json!({"deletedAt": deleted_at}),
    )
    .await?;
    let row = repo::admin::workspace(&*tx, id)
        .await?
        .ok_or_else(|| ApiError::not_found("Workspace"))?;
    tx.commit().await?;
    tracing::info!(workspace_id = %id, "deleted workspace restored");
    Ok(workspace_view(row, retention))
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PlatformAdminView {
    pub user_id: Uuid,
    pub platform_admin: bool,
}

/// Grants or removes a user's platform-admin flag.
pub async fn set_platform_admin(
    db: &Pool,
    admin: &PlatformAdmin,
    user: Uuid,
    on: bool,
) -> Result<PlatformAdminView, ApiError> {
    let mut client = db.get().await?;
    let tx = client.transaction().await?;
    if !repo::users::set_platform_admin(&*tx, user, on).await? {
        return Err(ApiError::not_found("User"));
    }
    let action = if on {
        "platform_admin.grant"
    } else {
        "platform_admin.revoke"
    };
    audit(
        &*tx,
        admin,
        action,
        Some(("user", user.to_string())),
        json!({}),
    )
    .await?;
    tx.commit().await?;
    Ok(PlatformAdminView {
        user_id: user,
        platform_admin: on,
    })
}

pub use super::audit::{AuditEntryView, AuditPage};

/// The operators' audit log, newest first (see [`super::audit::page`]).
pub async fn audit_log(
    db: &Pool,
    action: Option<&str>,
    before: Option<i64>,
    limit: u32,
) -> Result<AuditPage, ApiError> {
    super::audit::page(db, None, action, before, limit).await
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeadLetterView {
    pub message_id: String,
    /// How many times the message was delivered before it was given up.
    pub receive_count: u32,
    pub sent_at: Option<DateTime<Utc>>,
    /// The message body as JSON when it is JSON (email bodies are summarised: id and kind only).
    #[schema(value_type = Object)]
    pub body: serde_json::Value,
}

/// Email messages carry addresses and one-time links: an operator sees which message, not its content.
fn summarise(queue: QueueName, body: &str) -> serde_json::Value {
    let parsed: serde_json::Value = serde_json::from_str(body)
        .unwrap_or_else(|_| json!({"unparsable": body.chars().take(200).collect::<String>()}));
    if queue == QueueName::Email {
        json!({"id": parsed.get("id"), "kind": parsed.get("kind")})
    } else {
        parsed
    }
}

/// Looks at up to `max` messages of a dead-letter queue without taking them (they stay visible).
pub async fn dead_letters(
    db: &Pool,
    admin: &PlatformAdmin,
    name: QueueName,
    dlq: &Queue,
    max: i32,
) -> Result<Vec<DeadLetterView>, ApiError> {
    let received = dlq
        .receive(max, Duration::ZERO)
        .await
        .map_err(|e| ApiError::unavailable("dead-letter queue", e))?;
    let client = db.get().await?;
    audit(
        &**client,
        admin,
        "dlq.list",
        Some(("queue", name.as_str().to_owned())),
        json!({"count": received.len()}),
    )
    .await?;
    Ok(received
        .into_iter()
        .map(|m| DeadLetterView {
            body: summarise(name, &m.body),
            message_id: m.message_id,
            receive_count: m.receive_count,
            sent_at: m.sent_at,
        })
        .collect())
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RedriveReport {
    pub moved: usize,
    pub failed: usize,
}

/// How long a message being moved stays hidden in the dead-letter queue.
const REDRIVE_VISIBILITY: Duration = Duration::from_secs(60);

/// Moves up to `max` messages from a dead-letter queue back to its source queue: each is sent to the
/// source, then deleted from the dead-letter queue (a crash in between leaves a duplicate, which the
/// consumers' idempotence absorbs — never a loss).
pub async fn redrive(
    db: &Pool,
    admin: &PlatformAdmin,
    name: QueueName,
    dlq: &Queue,
    source: &Queue,
    max: usize,
) -> Result<RedriveReport, ApiError> {
    let mut report = RedriveReport {
        moved: 0,
        failed: 0,
    };
    while report.moved + report.failed < max {
        let want = i32::try_from((max - report.moved - report.failed).min(10)).unwrap_or(10);
        let batch = dlq
            .receive(want, REDRIVE_VISIBILITY)
            .await
            .map_err(|e| ApiError::unavailable("dead-letter queue", e))?;
        if batch.is_empty() {
            break;
        }
        for m in batch {
            let moved = async {
                source.send(m.body.clone()).await?;
                dlq.delete(&m.receipt_handle).await
            }
            .await;
            match moved {
                Ok(()) => report.moved += 1,
                Err(e) => {
                    tracing::warn!(
                        queue = name.as_str(),
                        message_id = m.message_id,
                        error = format!("{e:#}"),
                        "redrive of a message failed; it stays in the dead-letter queue"
                    );
                    report.failed += 1;
                }
            }
        }
    }
    let client = db.get().await?;
    audit(
        &**client,
        admin,
        "dlq.redrive",
        Some(("queue", name.as_str().to_owned())),
        json!({"moved": report.moved, "failed": report.failed}),
    )
    .await?;
    Ok(report)
}
