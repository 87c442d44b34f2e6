//! The SQL of the scheduled jobs that span aggregates: retention purges, stuck ingestions, usage
//! rollover. Each statement is idempotent and safe to run twice at once (row locks with SKIP LOCKED where
//! work happens outside the database between selecting and deleting).

use crate::ids::WorkspaceId;
use tokio_postgres::{Error, GenericClient};
use uuid::Uuid;

/// Why a stuck document failed, by the state it was stuck in.
pub struct StuckReasons<'a> {
    /// `pending` or `processing`: `timed_out`.
    pub indexing: &'a str,
    /// `uploading`, no attempt at reading it: `upload_missing` (the file never arrived).
    pub upload_missing: &'a str,
    /// `uploading` with attempts that never finished (the worker's time or memory ran out): `unreadable`.
    pub extraction: &'a str,
}

/// Fails documents still `uploading`, `pending` or `processing` whose last progress is older than
/// `deadline_secs`, each with the code and reason of the state it was stuck in. Returns (document id,
/// workspace id, code) of each.
pub async fn fail_stuck_documents(
    db: &impl GenericClient,
    deadline_secs: f64,
    reasons: &StuckReasons<'_>,
) -> Result<Vec<(Uuid, Uuid, String)>, Error> {
    Ok(db
        .query(
            "UPDATE kb_documents
                SET status = 'failed', updated_at = now(),
                    error = CASE WHEN status <> 'uploading' THEN $2 WHEN attempts = 0 THEN $3 ELSE $4 END,
                    error_code = CASE WHEN status <> 'uploading' THEN 'timed_out'
                                      WHEN attempts = 0 THEN 'upload_missing' ELSE 'unreadable' END
              WHERE status IN ('uploading', 'pending', 'processing') AND deleted_at IS NULL
                AND updated_at < now() - make_interval(secs => $1)
              RETURNING id, workspace_id, error_code",
            &[&deadline_secs, &reasons.indexing, &reasons.upload_missing, &reasons.extraction],
        )
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect())
}

/// A document the purge removes: its id, workspace, and uploaded file's storage key if it has one.
pub type ExpiredDocument = (Uuid, WorkspaceId, Option<String>);

/// Soft-deleted documents past retention, locked for this run (a concurrent run skips them).
pub async fn claim_expired_documents(
    db: &impl GenericClient,
    retention_days: i32,
    limit: i64,
) -> Result<Vec<ExpiredDocument>, Error> {
    Ok(db
        .query(
            "SELECT id, workspace_id, file_key FROM kb_documents
              WHERE deleted_at < now() - make_interval(days => $1)
              ORDER BY deleted_at LIMIT $2 FOR UPDATE SKIP LOCKED",
            &[&retention_days, &limit],
        )
        .await?
        .iter()
        .map(|r| {
            (
                r.get(0),
                WorkspaceId::from_trusted_source(r.get(1)),
                r.get(2),
            )
        })
        .collect())
}

/// The storage keys of every uploaded file of these workspaces (deleted documents' included).
pub async fn file_keys_of_workspaces(
    db: &impl GenericClient,
    workspaces: &[Uuid],
) -> Result<Vec<String>, Error> {
    Ok(db
        .query(
            "SELECT file_key FROM kb_documents WHERE workspace_id = ANY($1) AND file_key IS NOT NULL",
            &[&workspaces],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect())
}

pub async fn delete_documents(db: &impl GenericClient, ids: &[Uuid]) -> Result<u64, Error> {
    db.execute("DELETE FROM kb_documents WHERE id = ANY($1)", &[&ids])
        .await
}

/// A soft-deleted row past the retention (`$1`, in days): what `purge-deleted` removes. For workspaces it
/// is also the end of the restore window (`repo::admin::lock_for_restore`), so both use this one text.
pub const PAST_RETENTION: &str = "deleted_at < now() - make_interval(days => $1)";

/// Soft-deleted workspaces past retention, locked for this run.
pub async fn claim_expired_workspaces(
    db: &impl GenericClient,
    retention_days: i32,
    limit: i64,
) -> Result<Vec<WorkspaceId>, Error> {
    Ok(db
        .query(
            &format!(
                "SELECT id FROM workspaces WHERE {PAST_RETENTION}
                  ORDER BY deleted_at LIMIT $2 FOR UPDATE SKIP LOCKED"
            ),
            &[&retention_days, &limit],
        )
        .await?
        .iter()
        .map(|r| WorkspaceId::from_trusted_source(r.get(0)))
        .collect())
}

/// Deletes workspaces and, through their foreign keys, every row they own.
pub async fn delete_workspaces(db: &impl GenericClient, ids: &[Uuid]) -> Result<u64, Error> {
    db.execute("DELETE FROM workspaces WHERE id = ANY($1)", &[&ids])
        .await
}

/// Deletes soft-deleted conversations (and their messages and feedback) past retention.
pub async fn delete_expired_conversations(
    db: &impl GenericClient,
    retention_days: i32,
) -> Result<u64, Error> {
    db.execute(
        "DELETE FROM conversations WHERE deleted_at < now() - make_interval(days => $1)",
        &[&retention_days],
    )
    .await
}

/// Deletes up to `limit` conversations (with their messages and feedback) not updated for longer than
/// their workspace's `conversation_retention_days` (workspaces without one keep theirs).
pub async fn delete_conversations_past_retention(
    db: &impl GenericClient,
    limit: i64,
) -> Result<u64, Error> {
    db.execute(
        "DELETE FROM conversations WHERE id IN (
             SELECT c.id FROM workspaces w
               JOIN conversations c ON c.workspace_id = w.id
              WHERE w.conversation_retention_days IS NOT NULL
                AND c.updated_at < now() - make_interval(days => w.conversation_retention_days)
              LIMIT $1)",
        &[&limit],
    )
    .await
}

/// Deletes soft-deleted accounts past retention (memberships and tokens go with them).
pub async fn delete_expired_users(
    db: &impl GenericClient,
    retention_days: i32,
) -> Result<u64, Error> {
    db.execute(
        "DELETE FROM users WHERE deleted_at < now() - make_interval(days => $1)",
        &[&retention_days],
    )
    .await
}

/// Idempotency keys older than a day (a client retries within minutes, not days).
pub async fn purge_idempotency_keys(db: &impl GenericClient) -> Result<u64, Error> {
    db.execute(
        "DELETE FROM idempotency_keys WHERE created_at < now() - interval '1 day'",
        &[],
    )
    .await
}

/// Records every active workspace's usage of the current month (running) and of the previous month
/// (closed: written once, then left alone). Returns the rows written.
pub async fn rollover_usage(db: &impl GenericClient) -> Result<u64, Error> {
    db.execute(
        "INSERT INTO usage_periods AS u (workspace_id, month, chat_turns, llm_tokens, documents, members, closed, updated_at)
         SELECT w.id, p.month,
                (SELECT count(*) FROM messages m WHERE m.workspace_id = w.id AND m.role = 'assistant'
                    AND m.created_at >= p.month AND m.created_at < p.month + interval '1 month'),
                (SELECT COALESCE(sum(COALESCE(m.prompt_tokens, 0) + COALESCE(m.completion_tokens, 0)), 0)::bigint
                   FROM messages m WHERE m.workspace_id = w.id
                    AND m.created_at >= p.month AND m.created_at < p.month + interval '1 month'),
                (SELECT count(*) FROM kb_documents d WHERE d.workspace_id = w.id AND d.deleted_at IS NULL),
                (SELECT count(*) FROM workspace_members wm WHERE wm.workspace_id = w.id),
                p.month < date_trunc('month', now())::date,
                now()
           FROM workspaces w
          CROSS JOIN (VALUES ((date_trunc('month', now()) - interval '1 month')::date),
                             (date_trunc('month', now())::date)) AS p(month)
          WHERE w.deleted_at IS NULL
         ON CONFLICT (workspace_id, month) DO UPDATE
            SET chat_turns = EXCLUDED.chat_turns, llm_tokens = EXCLUDED.llm_tokens,
                documents = EXCLUDED.documents, members = EXCLUDED.members,
                closed = EXCLUDED.closed, updated_at = now()
          WHERE NOT u.closed",
        &[],
    )
    .await
}
