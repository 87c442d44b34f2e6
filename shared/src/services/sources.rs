//! Website sources' use cases for the API and the cron: add a source (its first crawl announced in the
//! same transaction), list and read them with their crawl's progress, sync one on request or on schedule,
//! delete one with its documents and vectors. The crawl itself is the crawl worker's
//! ([`crate::crawl`]).

use crate::auth::{Access, Admin, Tenant, Viewer};
use crate::billing::quota::{self, Consumption};
use crate::db::Scoped;
use crate::error::ApiError;
use crate::fetch::{Guard, Refusal};
use crate::ids::WorkspaceId;
use crate::outbox::{self, Topic};
use crate::queue::{CrawlMessage, Queue};
use crate::repo::documents;
pub use crate::repo::sources::SourceKind;
use crate::repo::sources::{self, NewSource, PageRow, SourceRow};
use crate::state::KnowledgeState;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;
use uuid::Uuid;

/// How often a source is crawled again on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SyncEvery {
    Daily,
    Weekly,
}

impl SyncEvery {
    pub const fn as_str(self) -> &'static str {
        match self {
            SyncEvery::Daily => "daily",
            SyncEvery::Weekly => "weekly",
        }
    }
}

/// A source to add (validated by the route).
#[derive(Debug, Clone)]
pub struct CreateSource {
    pub url: url::Url,
    pub kind: SourceKind,
    /// None: the plan's pages per source.
    pub max_pages: Option<u64>,
    pub sync_every: Option<SyncEvery>,
}

/// Pages of the current crawl by what became of them.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CrawlProgress {
    /// Still to fetch.
    pub queued: i64,
    /// New pages, now documents being indexed.
    pub new: i64,
    /// Pages whose text changed: a new version of their document is being indexed.
    pub changed: i64,
    /// Pages whose text did not change: nothing re-embedded.
    pub unchanged: i64,
    /// Pages that could not be fetched or read (their document, if any, is kept).
    pub failed: i64,
    /// Pages left out: robots.txt, another site, not text, `noindex`.
    pub skipped: i64,
    /// Pages gone from the site (404/410, or no longer linked): their documents deleted.
    pub removed: i64,
}

impl CrawlProgress {
    fn from_counts(counts: Option<&BTreeMap<String, i64>>) -> Self {
        let n = |s: &str| counts.and_then(|c| c.get(s)).copied().unwrap_or(0);
        Self {
            queued: n("queued"),
            new: n("new"),
            changed: n("changed"),
            unchanged: n("unchanged"),
            failed: n("failed"),
            skipped: n("skipped"),
            removed: n("removed"),
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SourceView {
    pub id: Uuid,
    pub url: String,
    pub kind: SourceKind,
    pub max_pages: i32,
    pub sync_every: Option<SyncEvery>,
    /// `queued` (a crawl is announced), `crawling`, `ready` (the last crawl finished; see `lastError` for
    /// what it could not do) or `failed` (the last crawl could not crawl at all: `lastError` says why).
    pub status: String,
    /// The current (or last) crawl.
    pub crawl_id: Uuid,
    pub crawl_started_at: DateTime<Utc>,
    pub crawl_finished_at: Option<DateTime<Utc>>,
    /// Its pages so far, by outcome.
    pub progress: CrawlProgress,
    /// Bytes fetched by the crawl (pages, sitemaps, robots.txt).
    pub bytes_fetched: i64,
    /// The crawl delay kept between two requests to the site (robots.txt's `Crawl-delay` or ours).
    pub crawl_delay_ms: i32,
    pub last_error: Option<String>,
    pub last_synced_at: Option<DateTime<Utc>>,
    /// When the cron syncs it next (none: only on request).
    pub next_sync_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl SourceView {
    fn new(r: SourceRow, counts: Option<&BTreeMap<String, i64>>) -> Self {
        Self {
            id: r.id,
            kind: SourceKind::parse(&r.kind).unwrap_or(SourceKind::Page),
            url: r.url,
            max_pages: r.max_pages,
            sync_every: match r.sync_every.as_deref() {
                Some("daily") => Some(SyncEvery::Daily),
                Some("weekly") => Some(SyncEvery::Weekly),
                _ => None,
            },
            status: r.status,
            crawl_id: r.crawl_id,
            crawl_started_at: r.crawl_started_at,
            crawl_finished_at: r.crawl_finished_at,
            progress: CrawlProgress::from_counts(counts),
            bytes_fetched: r.bytes_fetched,
            crawl_delay_ms: r.crawl_delay_ms,
            last_error: r.last_error,
            last_synced_at: r.last_synced_at,
            next_sync_at: r.next_sync_at,
            created_at: r.created_at,
        }
    }
}

/// A page of a source, as its source shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PageView {
    pub url: String,
    /// Links from the start page (0 for the start page and a sitemap's pages).
    pub depth: i32,
    /// `queued`, `new`, `changed`, `unchanged`, `failed`, `skipped` or `removed`.
    pub status: String,
    /// Its document (none when it was skipped, removed or never read).
    pub document_id: Option<Uuid>,
    /// Why it failed, was skipped or removed.
    pub error: Option<String>,
    pub fetched_at: Option<DateTime<Utc>>,
    /// Reached by the current (or last) crawl; an earlier crawl's page otherwise.
    pub current: bool,
}

impl From<PageRow> for PageView {
    fn from(p: PageRow) -> Self {
        Self {
            url: p.url,
            depth: p.depth,
            status: p.status,
            document_id: p.document_id,
            error: p.error,
            fetched_at: p.fetched_at,
            current: p.current,
        }
    }
}

/// A source with its pages.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SourceDetail {
    #[serde(flatten)]
    pub source: SourceView,
    /// Its pages in URL order (at most [`MAX_LISTED_PAGES`]; `pagesTruncated` says when there are more).
    pub pages: Vec<PageView>,
    pub pages_truncated: bool,
}

/// Pages a source's detail lists, at most.
pub const MAX_LISTED_PAGES: i64 = 2_500;

/// The URL a source may be made of: the guard's rules (scheme, port, no credentials, no private address
/// written in it, and a name that resolves to public addresses only), said as a field error. A name that
/// does not resolve now is let through: the crawl checks every request again and says so on the source.
pub async fn check_source_url(guard: &Guard, url: &url::Url) -> Result<(), ApiError> {
    let refused = |r: Refusal| ApiError::field("url", format!("is not fetched: {r}"));
    guard.check_url(url).map_err(refused)?;
    if let Some(url::Host::Domain(host)) = url.host() {
        match guard.resolve(host).await {
            Ok(_) | Err(Refusal::Unresolved(_)) => {}
            Err(r) => return Err(refused(r)),
        }
    }
    Ok(())
}

/// Adds a source (admin or higher) and announces its first crawl; follow it with [`get`].
pub async fn create(
    state: &KnowledgeState,
    tenant: &Tenant<Admin, impl Access>,
    guard: &Guard,
    request: CreateSource,
) -> Result<SourceView, ApiError> {
    check_source_url(guard, &request.url).await?;
    let ws = tenant.workspace_id;
    let tx = Scoped::tenant(&state.app.db, tenant).await?;
    let account = quota::account(&**tx, ws).await?;
    let max_pages = request
        .max_pages
        .unwrap_or(account.plan.limits().pages_per_source);
    quota::check(&account, Consumption::Source { pages: max_pages })?;
    let id = Uuid::now_v7();
    let crawl_id = Uuid::now_v7();
    let url = request.url.to_string();
    let inserted = sources::insert(
        &**tx,
        ws,
        &NewSource {
            id,
            url: &url,
            kind: request.kind.as_str(),
            max_pages: i32::try_from(max_pages).map_err(ApiError::internal)?,
            sync_every: request.sync_every.map(SyncEvery::as_str),
            crawl_id,
            created_by: tenant.actor().user_id(),
        },
    )
    .await?;
    if !inserted {
        return Err(ApiError::conflict(format!(
            "The workspace already has a source for {url}: sync it (POST /api/v1/agents/sources/{{sourceId}}/sync) instead."
        )));
    }
    let sent = announce(&**tx, ws, id, crawl_id).await?;
    tx.commit().await?;
    tracing::info!(workspace_id = %ws, source_id = %id, kind = request.kind.as_str(), "website source added; its crawl is announced");
    send(&state.app.db.get().await?, state.crawl.as_ref(), sent).await;
    view(&**Scoped::tenant(&state.app.db, tenant).await?, ws, id).await
}

/// Writes the outbox row announcing a crawl (in the caller's transaction).
async fn announce(
    tx: &impl tokio_postgres::GenericClient,
    ws: WorkspaceId,
    source: Uuid,
    crawl: Uuid,
) -> Result<(Uuid, serde_json::Value), ApiError> {
    let payload = serde_json::to_value(CrawlMessage {
        source_id: source,
        workspace_id: *ws.as_uuid(),
        crawl_id: crawl,
    })
    .map_err(ApiError::internal)?;
    let outbox_id = outbox::write(tx, Some(ws), Topic::Crawl, &payload).await?;
    Ok((outbox_id, payload))
}

async fn send(
    client: &deadpool_postgres::Client,
    queue: Option<&Queue>,
    (outbox_id, payload): (Uuid, serde_json::Value),
) {
    outbox::send_committed(&***client, queue, outbox_id, &payload).await;
}

async fn view(
    db: &impl tokio_postgres::GenericClient,
    ws: WorkspaceId,
    id: Uuid,
) -> Result<SourceView, ApiError> {
    let row = sources::get(db, ws, id)
        .await?
        .ok_or_else(|| ApiError::not_found("Source"))?;
    let counts = sources::page_counts(db, ws, &[(row.id, row.crawl_id)]).await?;
    let counts = counts.get(&row.id);
    Ok(SourceView::new(row, counts))
}

/// The workspace's sources with their crawls' progress.
pub async fn list(
    state: &KnowledgeState,
    tenant: &Tenant<Viewer, impl Access>,
) -> Result<Vec<SourceView>, ApiError> {
    let ws = tenant.workspace_id;
    let client = Scoped::tenant(&state.app.db, tenant).await?;
    let rows = sources::list(&**client, ws).await?;
    let crawls: Vec<(Uuid, Uuid)> = rows.iter().map(|r| (r.id, r.crawl_id)).collect();
    let counts = sources::page_counts(&**client, ws, &crawls).await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let c = counts.get(&r.id);
            SourceView::new(r, c)
        })
        .collect())
}

/// A source with its crawl's progress and its pages.
pub async fn get(
    state: &KnowledgeState,
    tenant: &Tenant<Viewer, impl Access>,
    id: Uuid,
) -> Result<SourceDetail, ApiError> {
    let ws = tenant.workspace_id;
    let client = Scoped::tenant(&state.app.db, tenant).await?;
    let source = view(&**client, ws, id).await?;
    let mut pages = sources::pages(&**client, ws, id, None, MAX_LISTED_PAGES + 1).await?;
    let pages_truncated = pages.len() > usize::try_from(MAX_LISTED_PAGES).unwrap_or(usize::MAX);
    pages.truncate(usize::try_from(MAX_LISTED_PAGES).unwrap_or(usize::MAX));
    Ok(SourceDetail {
        source,
        pages: pages.into_iter().map(Into::into).collect(),
        pages_truncated,
    })
}

/// Syncs a source now (admin or higher): a new crawl is announced, unless one is queued or running —
/// then the answer is that crawl's status, and nothing starts twice.
pub async fn sync(
    state: &KnowledgeState,
    tenant: &Tenant<Admin, impl Access>,
    id: Uuid,
) -> Result<SourceView, ApiError> {
    let ws = tenant.workspace_id;
    let tx = Scoped::tenant(&state.app.db, tenant).await?;
    if sources::get(&**tx, ws, id).await?.is_none() {
        return Err(ApiError::not_found("Source"));
    }
    let sent = restart(&**tx, ws, id).await?;
    tx.commit().await?;
    if let Some(sent) = sent {
        tracing::info!(workspace_id = %ws, source_id = %id, "source sync announced");
        send(&state.app.db.get().await?, state.crawl.as_ref(), sent).await;
    }
    view(&**Scoped::tenant(&state.app.db, tenant).await?, ws, id).await
}

/// Starts a new crawl of a source unless one runs, announcing it in the caller's transaction.
async fn restart(
    tx: &impl tokio_postgres::GenericClient,
    ws: WorkspaceId,
    id: Uuid,
) -> Result<Option<(Uuid, serde_json::Value)>, ApiError> {
    let crawl = Uuid::now_v7();
    if !sources::restart(tx, ws, id, crawl).await? {
        return Ok(None);
    }
    Ok(Some(announce(tx, ws, id, crawl).await?))
}

/// Changes how often a source re-syncs on its own (admin or higher).
pub async fn set_schedule(
    state: &KnowledgeState,
    tenant: &Tenant<Admin, impl Access>,
    id: Uuid,
    sync_every: Option<SyncEvery>,
) -> Result<SourceView, ApiError> {
    let ws = tenant.workspace_id;
    let client = Scoped::tenant(&state.app.db, tenant).await?;
    if !sources::set_schedule(&**client, ws, id, sync_every.map(SyncEvery::as_str)).await? {
        return Err(ApiError::not_found("Source"));
    }
    let view = view(&**client, ws, id).await?;
    client.commit().await?;
    Ok(view)
}

/// Deletes a source (admin or higher) with its documents — unsearchable at once — and their vectors. A
/// crawl step still running finds its source gone and stops. If the vector store is down, the documents
/// are deleted all the same and their vectors leave with the purge of deleted documents.
pub async fn delete(
    state: &KnowledgeState,
    tenant: &Tenant<Admin, impl Access>,
    id: Uuid,
) -> Result<(), ApiError> {
    let ws = tenant.workspace_id;
    let tx = Scoped::tenant(&state.app.db, tenant).await?;
    if sources::get(&**tx, ws, id).await?.is_none() {
        return Err(ApiError::not_found("Source"));
    }
    let docs = documents::soft_delete_of_source(&**tx, ws, id).await?;
    sources::delete(&**tx, ws, id).await?;
    tx.commit().await?;
    let mut vectors_left = 0usize;
    for store in crate::services::reindex::written_stores_now(state).await? {
        for doc in &docs {
            if let Err(e) = store.delete_document(ws, *doc).await {
                vectors_left += 1;
                tracing::warn!(workspace_id = %ws, document_id = %doc, collection = store.collection(), error = format!("{e:#}"), "vectors not deleted now; the purge deletes them");
            }
        }
    }
    tracing::info!(workspace_id = %ws, source_id = %id, documents = docs.len(), vectors_left, "source deleted with its documents");
    Ok(())
}

/// What the cron's sync job did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// Scheduled syncs started.
    pub started: u64,
    /// Crawls that had stopped moving, announced again.
    pub resumed: u64,
}

/// Minutes a queued or crawling source may stay untouched before its crawl is announced again.
pub const STALLED_MINUTES: i32 = 20;

/// The cron's job: starts the syncs that are due and announces again the crawls that stopped moving (a
/// lost message, a step that died). Safe to run twice at once: due sources are locked, and a step that
/// finds its crawl held or over does nothing.
pub async fn sync_due(state: &KnowledgeState) -> anyhow::Result<SyncReport> {
    let mut report = SyncReport::default();
    let mut client = state.app.db.get().await?;
    let tx = client.transaction().await?;
    let due = sources::claim_due(&*tx, 100).await?;
    let mut announced = Vec::new();
    for (ws, id) in due {
        if let Some(sent) = restart(&*tx, ws, id)
            .await
            .map_err(|e| anyhow::anyhow!("{}", e.message))?
        {
            announced.push(sent);
            report.started += 1;
        }
    }
    tx.commit().await?;
    for sent in announced {
        send(&client, state.crawl.as_ref(), sent).await;
    }
    let stalled = sources::stalled(&**client, STALLED_MINUTES, 100).await?;
    for message in stalled {
        let ws = WorkspaceId::from_trusted_source(message.workspace_id);
        sources::touch(&**client, ws, message.source_id).await?;
        let Some(queue) = state.crawl.as_ref() else {
            anyhow::bail!(
                "SQS_CRAWL_QUEUE_URL is not set: stalled crawls cannot be announced again"
            );
        };
        queue.send(serde_json::to_string(&message)?).await?;
        tracing::warn!(workspace_id = %ws, source_id = %message.source_id, crawl_id = %message.crawl_id, "a crawl had stopped moving: announced again");
        report.resumed += 1;
    }
    Ok(report)
}
