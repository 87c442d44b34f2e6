//! Re-indexing: every live document of a workspace (or of all) chunked, embedded and written again into
//! the current collection — after an upgrade (collections named by model: a new model starts empty), a
//! change of embedding model, or a change of the workspace's language (its BM25 terms are stemmed anew).
//!
//! A job runs in **steps** on the ingest queue (`{"reindexJobId": …}`): a step holds the job, walks the
//! documents in (workspace, document) order from the job's cursor, moves the cursor past each document
//! as it is written, and after [`STEP_SECONDS`] hands on by sending the next step through the outbox. A
//! step that dies (timeout, crash) leaves the cursor where its last document was written: the queue's
//! retry claims the job once the hold lapses and goes on from there — nothing is lost, no document is
//! written twice but the one in flight. Progress: [`get`] (`GET /api/v1/admin/reindex/{id}`).
//!
//! **Switching when complete.** After a change of embedding model (`EMBEDDING_MODEL_PREVIOUS` names the
//! old one) the new collection starts empty: searches keep using the previous collection with the previous
//! embedder ([`serving`]), writes go to both ([`written_stores`], and the ingestion's points), and a
//! re-index of every workspace — started by the cron job ([`watch`]) or the admin API — fills the new
//! one. The job records the collection it replaces; once it has completed, every container switches its
//! searches to the new collection (within [`crate::knowledge::previous::RECHECK`]) and stops writing to
//! the previous one, which the operator may then drop with `EMBEDDING_MODEL_PREVIOUS`.

use crate::error::ApiError;
use crate::ids::WorkspaceId;
use crate::knowledge::bm25::Analyzer;
use crate::knowledge::{Embedder, PreviousIndex, VectorStore};
use crate::outbox::{self, Topic};
use crate::repo::reindex::{self as repo, JobRow};
use crate::repo::{documents, term_stats};
use crate::services::knowledge::{Prepared, points_for};
use crate::state::KnowledgeState;
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::HashMap;
use std::sync::Arc;
use utoipa::ToSchema;
use uuid::Uuid;

/// How long one step writes documents before handing on (the ingest worker's timeout is 120 s).
pub const STEP_SECONDS: u64 = 60;
/// How long a step holds its job: longer than the worker's timeout, so a step that dies is retried
/// only once it surely stopped.
const HOLD_SECONDS: f64 = 300.0;
/// Documents read per query of a step.
const BATCH: i64 = 16;

pub use crate::queue::ReindexMessage;

pub use crate::repo::reindex::Reason;

/// A re-index job and its progress.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReindexJobView {
    pub id: Uuid,
    /// The workspace re-indexed; absent: every workspace.
    pub workspace_id: Option<Uuid>,
    /// `requested` (the admin API) or `language` (the workspace's language changed).
    pub reason: String,
    /// `queued`, `running`, `completed` or `failed`.
    pub status: String,
    /// The collection written into.
    pub collection: String,
    /// The collection that served searches when the job started (a change of embedding model): when a
    /// job of every workspace completes, searches switch from it to `collection`.
    pub replaces: Option<String>,
    /// Documents to re-index (counted at the start; documents added meanwhile raise it).
    pub total: i32,
    /// Documents written so far.
    pub done: i32,
    /// Documents that could not be indexed (no usable text): skipped, named in `error`.
    pub failed: i32,
    /// Steps run (a step writes for up to a minute, then hands on).
    pub steps: i32,
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

impl From<JobRow> for ReindexJobView {
    fn from(r: JobRow) -> Self {
        Self {
            id: r.id,
            workspace_id: r.workspace_id,
            reason: r.reason,
            status: r.status,
            collection: r.collection,
            replaces: r.replaces,
            total: r.total,
            done: r.done,
            failed: r.failed,
            steps: r.steps,
            error: r.error,
            created_at: r.created_at,
            started_at: r.started_at,
            updated_at: r.updated_at,
            finished_at: r.finished_at,
        }
    }
}

/// Starts re-indexing one workspace (or all): the job is recorded and its first step announced in one
/// transaction. When a job is already open for the same scope, that job is the answer (`false`).
pub async fn start(
    state: &KnowledgeState,
    workspace: Option<WorkspaceId>,
    reason: Reason,
) -> Result<(ReindexJobView, bool), ApiError> {
    let mut client = state.app.db.get().await?;
    let tx = client.transaction().await?;
    let scope = workspace.map(|w| *w.as_uuid());
    let total = repo::count_documents(&*tx, scope).await?;
    let id = Uuid::now_v7();
    let collection = state.vectors.collection().to_owned();
    // Only a job of every workspace completes the new collection.
    let replaces = match (scope, &state.previous) {
        (None, Some(previous)) => Some(previous.vectors.collection()),
        _ => None,
    };
    let total = i32::try_from(total).unwrap_or(i32::MAX);
    let Some(job) = repo::insert(
        &*tx,
        id,
        scope,
        reason.as_str(),
        &collection,
        replaces,
        total,
    )
    .await?
    else {
        drop(tx);
        let open = repo::open_for(&**client, scope).await?.ok_or_else(|| {
            ApiError::conflict("a re-index job of this scope just finished; retry")
        })?;
        return Ok((open.into(), false));
    };
    let payload =
        serde_json::to_value(ReindexMessage { reindex_job_id: id }).map_err(ApiError::internal)?;
    let outbox_id = outbox::write(&*tx, workspace, Topic::Ingest, &payload).await?;
    tx.commit().await?;
    outbox::send_committed(&**client, Some(&state.queue), outbox_id, &payload).await;
    tracing::info!(job_id = %id, workspace_id = ?scope, reason = reason.as_str(), total, collection, replaces, "re-index started");
    Ok((job.into(), true))
}

pub async fn get(state: &KnowledgeState, id: Uuid) -> Result<ReindexJobView, ApiError> {
    let client = state.app.db.get().await?;
    repo::get(&**client, id)
        .await?
        .map(Into::into)
        .ok_or_else(|| ApiError::not_found("re-index job"))
}

pub async fn list(state: &KnowledgeState) -> Result<Vec<ReindexJobView>, ApiError> {
    let client = state.app.db.get().await?;
    Ok(repo::list(&**client, 50)
        .await?
        .into_iter()
        .map(Into::into)
        .collect())
}

/// How much one step may do: the production step runs for [`STEP_SECONDS`]; tests bound the documents.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    pub seconds: u64,
    pub documents: usize,
    /// Whether the step announces the next one when its budget is spent (a test simulating a step that
    /// dies says no).
    pub hand_on: bool,
}

impl Default for Budget {
    fn default() -> Self {
        Self {
            seconds: STEP_SECONDS,
            documents: usize::MAX,
            hand_on: true,
        }
    }
}

/// Runs one step of a job (the ingest worker's re-index message). A job that is finished, or held by a
/// step still running, is left alone. A document whose indexing fails (embeddings API, vector store) is
/// an error: the queue retries the step, which resumes at that document; on the `final_attempt` the job
/// fails with the reason.
pub async fn step(
    state: &KnowledgeState,
    message: &ReindexMessage,
    final_attempt: bool,
    budget: Budget,
) -> anyhow::Result<()> {
    let id = message.reindex_job_id;
    let mut client = state.app.db.get().await?;
    let Some(job) = repo::claim(&**client, id, HOLD_SECONDS, state.vectors.collection()).await?
    else {
        tracing::info!(job_id = %id, "re-index job finished or held by another step: nothing to do");
        return Ok(());
    };
    let started = std::time::Instant::now();
    let mut cursor = job.cursor_workspace.zip(job.cursor_document);
    let mut analyzers: HashMap<Uuid, Arc<Analyzer>> = HashMap::new();
    let mut written = 0usize;
    loop {
        let batch = repo::next_documents(&**client, job.workspace_id, cursor, BATCH).await?;
        if batch.is_empty() {
            repo::finish(&**client, id, "completed", None).await?;
            tracing::info!(job_id = %id, steps = job.steps, "re-index completed");
            if let (None, Some(replaces), Some(previous)) =
                (job.workspace_id, &job.replaces, &state.previous)
                && previous.vectors.collection() == replaces
            {
                previous.mark_switched();
                tracing::info!(job_id = %id, collection = job.collection, replaces, "the new collection is complete: searches switch to it");
            }
            return Ok(());
        }
        for (workspace, document) in batch {
            if written >= budget.documents || started.elapsed().as_secs() >= budget.seconds {
                if budget.hand_on {
                    hand_on(state, &mut client, id, job.workspace_id).await?;
                }
                return Ok(());
            }
            let ws = WorkspaceId::from_trusted_source(workspace);
            let analyzer = match analyzers.get(&workspace) {
                Some(a) => a.clone(),
                None => {
                    let a = Analyzer::for_language(&term_stats::language(&**client, ws).await?);
                    analyzers.insert(workspace, a.clone());
                    a
                }
            };
            match reindex_document(state, &client, ws, document, &analyzer).await {
                Ok(Written::Done | Written::Skipped) => {
                    repo::advance(&**client, id, workspace, document, false, None).await?;
                }
                Ok(Written::Unusable(reason)) => {
                    let error = format!("document {document}: {reason}");
                    repo::advance(&**client, id, workspace, document, true, Some(&error)).await?;
                }
                Err(e) => {
                    let reason = format!("document {document}: {e:#}");
                    if final_attempt {
                        repo::finish(&**client, id, "failed", Some(&reason)).await?;
                    } else {
                        repo::release(&**client, id).await?;
                    }
                    return Err(e.context(format!("re-index job {id}")));
                }
            }
            written += 1;
            cursor = Some((workspace, document));
        }
    }
}

enum Written {
    Done,
    /// Deleted meanwhile, or a newer version being indexed (its own ingestion writes it).
    Skipped,
    Unusable(String),
}

async fn reindex_document(
    state: &KnowledgeState,
    client: &deadpool_postgres::Client,
    ws: WorkspaceId,
    id: Uuid,
    analyzer: &Analyzer,
) -> anyhow::Result<Written> {
    let Some(doc) = documents::get(&***client, ws, id).await? else {
        return Ok(Written::Skipped);
    };
    let Some((content, target)) = documents::content(&***client, ws, id).await? else {
        return Ok(Written::Skipped);
    };
    if doc.version != target || doc.version == 0 {
        return Ok(Written::Skipped);
    }
    let version = doc.version;
    let prepared = match Prepared::new(&state.app.config.knowledge, doc, &content, version) {
        Ok(p) => p,
        Err(unusable) => return Ok(Written::Unusable(unusable.1)),
    };
    let mut points = points_for(state, client, ws, analyzer, &[&prepared]).await?;
    state
        .vectors
        .upsert(ws, points.pop().unwrap_or_default())
        .await?;
    Ok(Written::Done)
}

/// Ends this step and announces the next, in one transaction (through the outbox, so a queue that is
/// down only delays it).
async fn hand_on(
    state: &KnowledgeState,
    client: &mut deadpool_postgres::Client,
    id: Uuid,
    workspace: Option<Uuid>,
) -> anyhow::Result<()> {
    let payload = serde_json::to_value(ReindexMessage { reindex_job_id: id })?;
    let tx = client.transaction().await?;
    let outbox_id = outbox::write(
        &*tx,
        workspace.map(WorkspaceId::from_trusted_source),
        Topic::Ingest,
        &payload,
    )
    .await?;
    repo::release(&*tx, id).await?;
    tx.commit().await?;
    outbox::send_committed(&***client, Some(&state.queue), outbox_id, &payload).await;
    tracing::info!(job_id = %id, "re-index step handed on");
    Ok(())
}

/// An embedder and the store of the vectors it made.
#[derive(Debug, Clone, Copy)]
pub struct Index<'a> {
    pub embedder: &'a Embedder,
    pub vectors: &'a VectorStore,
}

/// The previous index while it still serves searches: a previous collection is configured and no
/// re-index of every workspace replacing it has completed yet (asked of PostgreSQL at most every
/// [`crate::knowledge::previous::RECHECK`]; once seen complete, never again).
pub async fn previous_in_use<'a>(
    state: &'a KnowledgeState,
    db: &impl tokio_postgres::GenericClient,
) -> Result<Option<&'a PreviousIndex>, tokio_postgres::Error> {
    let Some(previous) = state.previous.as_deref() else {
        return Ok(None);
    };
    if previous.is_switched() {
        return Ok(None);
    }
    if previous.check_due()
        && repo::completed_replacing(
            db,
            state.vectors.collection(),
            previous.vectors.collection(),
        )
        .await?
    {
        previous.mark_switched();
        tracing::info!(
            collection = state.vectors.collection(),
            replaces = previous.vectors.collection(),
            "the new collection is complete: searches switch to it"
        );
        return Ok(None);
    }
    Ok(Some(previous))
}

/// The index searches use: the previous one while it serves, else the configured one.
pub async fn serving<'a>(
    state: &'a KnowledgeState,
    db: &impl tokio_postgres::GenericClient,
) -> Result<Index<'a>, tokio_postgres::Error> {
    Ok(match previous_in_use(state, db).await? {
        Some(previous) => Index {
            embedder: &previous.embedder,
            vectors: &previous.vectors,
        },
        None => Index {
            embedder: &state.embedder,
            vectors: &state.vectors,
        },
    })
}

/// [`serving`], taking a connection only while a previous index is configured and not yet replaced
/// (none in the steady state).
pub async fn serving_index(state: &KnowledgeState) -> Result<Index<'_>, ApiError> {
    if state
        .previous
        .as_deref()
        .is_none_or(PreviousIndex::is_switched)
    {
        return Ok(Index {
            embedder: &state.embedder,
            vectors: &state.vectors,
        });
    }
    let client = state.app.db.get().await?;
    Ok(serving(state, &**client).await?)
}

/// The stores a deletion must reach: the configured one, and the previous one while it serves.
pub async fn written_stores<'a>(
    state: &'a KnowledgeState,
    db: &impl tokio_postgres::GenericClient,
) -> Result<Vec<&'a VectorStore>, tokio_postgres::Error> {
    let mut stores = vec![&state.vectors];
    if let Some(previous) = previous_in_use(state, db).await? {
        stores.push(&previous.vectors);
    }
    Ok(stores)
}

/// [`written_stores`], taking a connection of its own (the service role's: jobs of every workspace are not
/// a tenant's rows) only while a previous index is configured and not yet replaced.
pub async fn written_stores_now(state: &KnowledgeState) -> Result<Vec<&VectorStore>, ApiError> {
    if state
        .previous
        .as_deref()
        .is_none_or(PreviousIndex::is_switched)
    {
        return Ok(vec![&state.vectors]);
    }
    let client = state.app.db.get().await?;
    Ok(written_stores(state, &**client).await?)
}

/// How long an open job may sit unheld and untouched before the cron job announces its step again.
const STALLED_SECONDS: f64 = 20.0 * 60.0;

/// What [`watch`] did.
#[derive(Debug, Default, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Watched {
    /// The job started to fill the new collection after a change of embedding model.
    pub started: Option<Uuid>,
    /// Open jobs whose step was announced again.
    pub resumed: Vec<Uuid>,
}

/// The cron job `reindex`: while a previous collection serves searches and no re-index of every
/// workspace replacing it is open or completed, starts one (the switch needs no operator); and announces
/// again the step of every open job that stopped moving (its message lost) — the step resumes at the
/// job's cursor.
pub async fn watch(state: &KnowledgeState) -> anyhow::Result<Watched> {
    let mut watched = Watched::default();
    let client = state.app.db.get().await?;
    if let Some(previous) = state.previous.as_deref().filter(|p| !p.is_switched()) {
        let replaces = previous.vectors.collection();
        match repo::latest_replacing(&**client, state.vectors.collection(), replaces).await? {
            None => {
                let (job, created) = start(state, None, Reason::Model).await.map_err(|e| {
                    anyhow::anyhow!("starting the re-index into the new collection: {e}")
                })?;
                if created {
                    tracing::info!(job_id = %job.id, collection = job.collection, replaces, "re-index started to fill the new collection");
                    watched.started = Some(job.id);
                }
            }
            Some(job) if job.status == "completed" => previous.mark_switched(),
            Some(job) if job.status == "failed" => tracing::error!(
                job_id = %job.id,
                error = job.error.as_deref().unwrap_or(""),
                collection = job.collection,
                replaces,
                "the re-index into the new collection failed: searches stay on the previous collection; fix the cause, then POST /api/v1/admin/reindex"
            ),
            Some(_) => {}
        }
    }
    for job in repo::stalled(&**client, STALLED_SECONDS).await? {
        let payload = serde_json::to_value(ReindexMessage {
            reindex_job_id: job.id,
        })?;
        let ws = job.workspace_id.map(WorkspaceId::from_trusted_source);
        let outbox_id = outbox::write(&**client, ws, Topic::Ingest, &payload).await?;
        outbox::send_committed(&**client, Some(&state.queue), outbox_id, &payload).await;
        repo::touch(&**client, job.id).await?;
        tracing::warn!(job_id = %job.id, status = job.status, done = job.done, "re-index job stalled: its step announced again");
        watched.resumed.push(job.id);
    }
    Ok(watched)
}
