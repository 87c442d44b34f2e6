//! Re-index jobs (`kb_reindex_jobs`) and the documents they walk, in (workspace, document) order.

use chrono::{DateTime, Utc};
use tokio_postgres::{Error, GenericClient, Row};
use uuid::Uuid;

/// Why a job was started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// The admin API.
    Requested,
    /// The workspace's language changed.
    Language,
    /// The embedding model changed: the cron job fills the new collection (see
    /// [`crate::knowledge::previous`]).
    Model,
}

impl Reason {
    pub const fn as_str(self) -> &'static str {
        match self {
            Reason::Requested => "requested",
            Reason::Language => "language",
            Reason::Model => "model",
        }
    }
}

#[derive(Debug, Clone)]
pub struct JobRow {
    pub id: Uuid,
    pub workspace_id: Option<Uuid>,
    pub reason: String,
    pub status: String,
    pub collection: String,
    pub replaces: Option<String>,
    pub total: i32,
    pub done: i32,
    pub failed: i32,
    pub steps: i32,
    pub cursor_workspace: Option<Uuid>,
    pub cursor_document: Option<Uuid>,
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str = "id, workspace_id, reason, status, collection, total, done, failed, steps, \
    cursor_workspace, cursor_document, error, created_at, started_at, updated_at, finished_at, replaces";

fn job(r: &Row) -> JobRow {
    JobRow {
        id: r.get(0),
        workspace_id: r.get(1),
        reason: r.get(2),
        status: r.get(3),
        collection: r.get(4),
        total: r.get(5),
        done: r.get(6),
        failed: r.get(7),
        steps: r.get(8),
        cursor_workspace: r.get(9),
        cursor_document: r.get(10),
        error: r.get(11),
        created_at: r.get(12),
        started_at: r.get(13),
        updated_at: r.get(14),
        finished_at: r.get(15),
        replaces: r.get(16),
    }
}

/// The documents a job re-indexes: live ones with a searchable version (of one workspace, or all).
const DOCUMENTS: &str =
    "deleted_at IS NULL AND version > 0 AND ($1::uuid IS NULL OR workspace_id = $1)";

pub async fn count_documents(
    db: &impl GenericClient,
    workspace: Option<Uuid>,
) -> Result<i64, Error> {
    Ok(db
        .query_one(
            &format!("SELECT count(*) FROM kb_documents WHERE {DOCUMENTS}"),
            &[&workspace],
        )
        .await?
        .get(0))
}

/// Starts a job unless one is open for the same scope; `None` when one is.
pub async fn insert(
    db: &impl GenericClient,
    id: Uuid,
    workspace: Option<Uuid>,
    reason: &str,
    collection: &str,
    replaces: Option<&str>,
    total: i32,
) -> Result<Option<JobRow>, Error> {
    Ok(db
        .query_opt(
            &format!(
                "INSERT INTO kb_reindex_jobs (id, workspace_id, reason, collection, total, replaces)
                 VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT ((coalesce(workspace_id, '00000000-0000-0000-0000-000000000000'::uuid)))
                    WHERE status IN ('queued', 'running') DO NOTHING
                 RETURNING {COLUMNS}"
            ),
            &[&id, &workspace, &reason, &collection, &total, &replaces],
        )
        .await?
        .as_ref()
        .map(job))
}

/// The open job of a scope (one workspace, or all).
pub async fn open_for(
    db: &impl GenericClient,
    workspace: Option<Uuid>,
) -> Result<Option<JobRow>, Error> {
    Ok(db
        .query_opt(
            &format!(
                "SELECT {COLUMNS} FROM kb_reindex_jobs
                  WHERE workspace_id IS NOT DISTINCT FROM $1 AND status IN ('queued', 'running')"
            ),
            &[&workspace],
        )
        .await?
        .as_ref()
        .map(job))
}

pub async fn get(db: &impl GenericClient, id: Uuid) -> Result<Option<JobRow>, Error> {
    Ok(db
        .query_opt(
            &format!("SELECT {COLUMNS} FROM kb_reindex_jobs WHERE id = $1"),
            &[&id],
        )
        .await?
        .as_ref()
        .map(job))
}

/// The most recent jobs, newest first.
pub async fn list(db: &impl GenericClient, limit: i64) -> Result<Vec<JobRow>, Error> {
    Ok(db
        .query(
            &format!(
                "SELECT {COLUMNS} FROM kb_reindex_jobs ORDER BY created_at DESC, id DESC LIMIT $1"
            ),
            &[&limit],
        )
        .await?
        .iter()
        .map(job)
        .collect())
}

/// Sets the language a workspace's text is analysed in; true when it changed.
pub async fn set_language(
    db: &impl GenericClient,
    workspace: Uuid,
    language: &str,
) -> Result<bool, Error> {
    Ok(db
        .execute(
            "UPDATE workspaces SET search_language = $2 WHERE id = $1 AND search_language <> $2",
            &[&workspace, &language],
        )
        .await?
        == 1)
}

/// Holds an open job for one step (until `hold_seconds` from now), recording the collection the step
/// writes into; `None` when it is finished or held by another step.
pub async fn claim(
    db: &impl GenericClient,
    id: Uuid,
    hold_seconds: f64,
    collection: &str,
) -> Result<Option<JobRow>, Error> {
    Ok(db
        .query_opt(
            &format!(
                "UPDATE kb_reindex_jobs
                    SET status = 'running', steps = steps + 1, started_at = coalesce(started_at, now()),
                        step_until = now() + make_interval(secs => $2), collection = $3, updated_at = now()
                  WHERE id = $1 AND status IN ('queued', 'running')
                    AND (step_until IS NULL OR step_until < now())
                  RETURNING {COLUMNS}"
            ),
            &[&id, &hold_seconds, &collection],
        )
        .await?
        .as_ref()
        .map(job))
}

/// The next documents after the cursor, in (workspace, document) order: `(workspace, document)`.
pub async fn next_documents(
    db: &impl GenericClient,
    workspace: Option<Uuid>,
    after: Option<(Uuid, Uuid)>,
    limit: i64,
) -> Result<Vec<(Uuid, Uuid)>, Error> {
    let (after_ws, after_doc) = after.map_or((None, None), |(w, d)| (Some(w), Some(d)));
    Ok(db
        .query(
            &format!(
                "SELECT workspace_id, id FROM kb_documents
                  WHERE {DOCUMENTS} AND ($2::uuid IS NULL OR (workspace_id, id) > ($2, $3))
                  ORDER BY workspace_id, id LIMIT $4"
            ),
            &[&workspace, &after_ws, &after_doc, &limit],
        )
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect())
}

/// Moves the cursor past one document, counting it done or failed.
pub async fn advance(
    db: &impl GenericClient,
    id: Uuid,
    workspace: Uuid,
    document: Uuid,
    failed: bool,
    error: Option<&str>,
) -> Result<(), Error> {
    db.execute(
        "UPDATE kb_reindex_jobs
            SET cursor_workspace = $2, cursor_document = $3,
                done = done + CASE WHEN $4 THEN 0 ELSE 1 END, failed = failed + CASE WHEN $4 THEN 1 ELSE 0 END,
                error = coalesce($5, error), total = greatest(total, done + failed + 1), updated_at = now()
          WHERE id = $1",
        &[&id, &workspace, &document, &failed, &error],
    )
    .await?;
    Ok(())
}

/// Lets the next step claim the job at once (the current one hands on).
pub async fn release(db: &impl GenericClient, id: Uuid) -> Result<(), Error> {
    db.execute(
        "UPDATE kb_reindex_jobs SET step_until = NULL, updated_at = now() WHERE id = $1",
        &[&id],
    )
    .await?;
    Ok(())
}

/// Ends a job: `completed`, or `failed` with the reason.
pub async fn finish(
    db: &impl GenericClient,
    id: Uuid,
    status: &str,
    error: Option<&str>,
) -> Result<(), Error> {
    db.execute(
        "UPDATE kb_reindex_jobs
            SET status = $2, error = coalesce($3, error), step_until = NULL, finished_at = now(), updated_at = now()
          WHERE id = $1 AND status IN ('queued', 'running')",
        &[&id, &status, &error],
    )
    .await?;
    Ok(())
}

/// Whether a re-index of every workspace into `collection`, started while `replaces` served searches,
/// has completed: the new collection is complete and searches switch to it.
pub async fn completed_replacing(
    db: &impl GenericClient,
    collection: &str,
    replaces: &str,
) -> Result<bool, Error> {
    Ok(db
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM kb_reindex_jobs
                             WHERE workspace_id IS NULL AND status = 'completed'
                               AND collection = $1 AND replaces = $2)",
            &[&collection, &replaces],
        )
        .await?
        .get(0))
}

/// Open jobs that stopped moving: not held by a step, untouched for `idle_seconds` (a step message
/// lost, or a job whose first step was never sent). Oldest first.
pub async fn stalled(db: &impl GenericClient, idle_seconds: f64) -> Result<Vec<JobRow>, Error> {
    Ok(db
        .query(
            &format!(
                "SELECT {COLUMNS} FROM kb_reindex_jobs
                  WHERE status IN ('queued', 'running')
                    AND (step_until IS NULL OR step_until < now())
                    AND updated_at < now() - make_interval(secs => $1)
                  ORDER BY updated_at"
            ),
            &[&idle_seconds],
        )
        .await?
        .iter()
        .map(job)
        .collect())
}

/// Marks a job touched (its step announced again), so the next look finds it moving.
pub async fn touch(db: &impl GenericClient, id: Uuid) -> Result<(), Error> {
    db.execute(
        "UPDATE kb_reindex_jobs SET updated_at = now() WHERE id = $1",
        &[&id],
    )
    .await?;
    Ok(())
}

/// The latest job of every workspace into `collection` that replaces `replaces`.
pub async fn latest_replacing(
    db: &impl GenericClient,
    collection: &str,
    replaces: &str,
) -> Result<Option<JobRow>, Error> {
    Ok(db
        .query_opt(
            &format!(
                "SELECT {COLUMNS} FROM kb_reindex_jobs
                  WHERE workspace_id IS NULL AND collection = $1 AND replaces = $2
                  ORDER BY created_at DESC, id DESC LIMIT 1"
            ),
            &[&collection, &replaces],
        )
        .await?
        .as_ref()
        .map(job))
}
