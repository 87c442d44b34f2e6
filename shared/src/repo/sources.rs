//! Website sources and the pages their crawls reached (`kb_sources`, `kb_source_pages`).

use crate::ids::WorkspaceId;
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use tokio_postgres::{Error, GenericClient, Row};
use uuid::Uuid;

/// What a source is: one page, the pages a sitemap lists, or a site crawled by its links from a page.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    Page,
    Sitemap,
    Site,
}

impl SourceKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            SourceKind::Page => "page",
            SourceKind::Sitemap => "sitemap",
            SourceKind::Site => "site",
        }
    }

    pub fn parse(stored: &str) -> Option<Self> {
        [SourceKind::Page, SourceKind::Sitemap, SourceKind::Site]
            .into_iter()
            .find(|k| k.as_str() == stored)
    }
}

#[derive(Debug, Clone)]
pub struct SourceRow {
    pub id: Uuid,
    pub workspace_id: Uuid,
    pub url: String,
    /// `page`, `sitemap` or `site`.
    pub kind: String,
    pub max_pages: i32,
    /// `daily`, `weekly` or none.
    pub sync_every: Option<String>,
    /// `queued`, `crawling`, `ready` or `failed`.
    pub status: String,
    pub crawl_id: Uuid,
    pub crawl_started_at: DateTime<Utc>,
    pub crawl_finished_at: Option<DateTime<Utc>>,
    pub robots_checked: bool,
    pub robots_txt: Option<String>,
    pub crawl_delay_ms: i32,
    pub bytes_fetched: i64,
    pub last_error: Option<String>,
    pub last_synced_at: Option<DateTime<Utc>>,
    pub next_sync_at: Option<DateTime<Utc>>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, workspace_id, url, kind, max_pages, sync_every, status, crawl_id, crawl_started_at, crawl_finished_at, robots_checked, robots_txt, crawl_delay_ms, bytes_fetched, last_error, last_synced_at, next_sync_at, created_by, created_at, updated_at";

fn from_row(r: &Row) -> SourceRow {
    SourceRow {
        id: r.get("id"),
        workspace_id: r.get("workspace_id"),
        url: r.get("url"),
        kind: r.get("kind"),
        max_pages: r.get("max_pages"),
        sync_every: r.get("sync_every"),
        status: r.get("status"),
        crawl_id: r.get("crawl_id"),
        crawl_started_at: r.get("crawl_started_at"),
        crawl_finished_at: r.get("crawl_finished_at"),
        robots_checked: r.get("robots_checked"),
        robots_txt: r.get("robots_txt"),
        crawl_delay_ms: r.get("crawl_delay_ms"),
        bytes_fetched: r.get("bytes_fetched"),
        last_error: r.get("last_error"),
        last_synced_at: r.get("last_synced_at"),
        next_sync_at: r.get("next_sync_at"),
        created_by: r.get("created_by"),
        created_at: r.get("created_at"),
        updated_at: r.get("updated_at"),
    }
}

/// A source to store, its first crawl announced.
#[derive(Debug, Clone)]
pub struct NewSource<'a> {
    pub id: Uuid,
    pub url: &'a str,
    pub kind: &'a str,
    pub max_pages: i32,
    pub sync_every: Option<&'a str>,
    pub crawl_id: Uuid,
    pub created_by: Option<Uuid>,
}

/// Stores a source (`queued`); false when the workspace already has a source of this URL.
pub async fn insert(
    db: &impl GenericClient,
    workspace: WorkspaceId,
    source: &NewSource<'_>,
) -> Result<bool, Error> {
    Ok(db
        .execute(
            "INSERT INTO kb_sources (id, workspace_id, url, kind, max_pages, sync_every, crawl_id, created_by)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (workspace_id, url) DO NOTHING",
            &[
                &source.id,
                workspace.as_uuid(),
                &source.url,
                &source.kind,
                &source.max_pages,
                &source.sync_every,
                &source.crawl_id,
                &source.created_by,
            ],
        )
        .await?
        == 1)
}

pub async fn get(
    db: &impl GenericClient,
    workspace: WorkspaceId,
    id: Uuid,
) -> Result<Option<SourceRow>, Error> {
    let sql = format!("SELECT {COLUMNS} FROM kb_sources WHERE id = $1 AND workspace_id = $2");
    Ok(super::read_one(db, &sql, workspace, id, &[])
        .await?
        .as_ref()
        .map(from_row))
}

/// The workspace's sources, newest first (a plan allows at most a hundred).
pub async fn list(
    db: &impl GenericClient,
    workspace: WorkspaceId,
) -> Result<Vec<SourceRow>, Error> {
    let sql = format!(
        "SELECT {COLUMNS} FROM kb_sources WHERE workspace_id = $1 ORDER BY created_at DESC, id DESC"
    );
    Ok(db
        .query(&sql, &[workspace.as_uuid()])
        .await?
        .iter()
        .map(from_row)
        .collect())
}

/// How many pages of each status the crawl `crawl` of each of these sources reached.
pub async fn page_counts(
    db: &impl GenericClient,
    workspace: WorkspaceId,
    crawls: &[(Uuid, Uuid)],
) -> Result<BTreeMap<Uuid, BTreeMap<String, i64>>, Error> {
    let (sources, crawl_ids): (Vec<Uuid>, Vec<Uuid>) = crawls.iter().copied().unzip();
    let rows = db
        .query(
            "SELECT p.source_id, p.status, count(*) FROM kb_source_pages p
               JOIN unnest($2::uuid[], $3::uuid[]) AS c(source_id, crawl_id)
                 ON c.source_id = p.source_id AND c.crawl_id = p.crawl_id
              WHERE p.workspace_id = $1
              GROUP BY p.source_id, p.status",
            &[workspace.as_uuid(), &sources, &crawl_ids],
        )
        .await?;
    let mut counts: BTreeMap<Uuid, BTreeMap<String, i64>> = BTreeMap::new();
    for r in rows {
        counts
            .entry(r.get(0))
            .or_default()
            .insert(r.get(1), r.get(2));
    }
    Ok(counts)
}

#[derive(Debug, Clone)]
pub struct PageRow {
    pub url: String,
    pub depth: i32,
    pub status: String,
    pub document_id: Option<Uuid>,
    pub content_hash: Option<Vec<u8>>,
    pub error: Option<String>,
    pub fetched_at: Option<DateTime<Utc>>,
    /// Reached by the source's current (or last) crawl.
    pub current: bool,
}

const PAGE_COLUMNS: &str = "p.url, p.depth, p.status, p.document_id, p.content_hash, p.error, p.fetched_at, p.crawl_id = s.crawl_id AS current";

fn page_from_row(r: &Row) -> PageRow {
    PageRow {
        url: r.get("url"),
        depth: r.get("depth"),
        status: r.get("status"),
        document_id: r.get("document_id"),
        content_hash: r.get("content_hash"),
        error: r.get("error"),
        fetched_at: r.get("fetched_at"),
        current: r.get("current"),
    }
}

/// A source's pages in URL order, after `after` (a page of at most `limit`).
pub async fn pages(
    db: &impl GenericClient,
    workspace: WorkspaceId,
    source: Uuid,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<PageRow>, Error> {
    let sql = format!(
        "SELECT {PAGE_COLUMNS} FROM kb_source_pages p JOIN kb_sources s ON s.id = p.source_id
          WHERE p.source_id = $1 AND p.workspace_id = $2 AND ($3::text IS NULL OR p.url > $3)
          ORDER BY p.url LIMIT $4"
    );
    Ok(
        super::read_many(db, &sql, workspace, source, &[&after, &limit])
            .await?
            .iter()
            .map(page_from_row)
            .collect(),
    )
}

/// One page of a source.
pub async fn page(
    db: &impl GenericClient,
    workspace: WorkspaceId,
    source: Uuid,
    url: &str,
) -> Result<Option<PageRow>, Error> {
    let sql = format!(
        "SELECT {PAGE_COLUMNS} FROM kb_source_pages p JOIN kb_sources s ON s.id = p.source_id
          WHERE p.source_id = $1 AND p.workspace_id = $2 AND p.url = $3"
    );
    Ok(super::read_one(db, &sql, workspace, source, &[&url])
        .await?
        .as_ref()
        .map(page_from_row))
}

/// Deletes a source and its pages; its documents must be deleted first.
pub async fn delete(
    db: &impl GenericClient,
    workspace: WorkspaceId,
    id: Uuid,
) -> Result<bool, Error> {
    super::change_one(
        db,
        "DELETE FROM kb_sources WHERE id = $1 AND workspace_id = $2",
        workspace,
        id,
        &[],
    )
    .await
}

/// Starts a new crawl of a source that is not crawling (a sync); false when one is queued or running.
pub async fn restart(
    db: &impl GenericClient,
    workspace: WorkspaceId,
    id: Uuid,
    crawl: Uuid,
) -> Result<bool, Error> {
    super::change_one(
        db,
        "UPDATE kb_sources
            SET crawl_id = $3, status = 'queued', crawl_started_at = now(), crawl_finished_at = NULL,
                step_until = NULL, robots_checked = false, robots_txt = NULL, crawl_delay_ms = 0,
                bytes_fetched = 0, last_error = NULL, updated_at = now()
          WHERE id = $1 AND workspace_id = $2 AND status NOT IN ('queued', 'crawling')",
        workspace,
        id,
        &[&crawl],
    )
    .await
}

/// Holds the source for one step of its crawl `crawl` until `until`; none when that crawl is over, the
/// source is gone, or another step holds it (a repeated message).
pub async fn claim_step(
    db: &impl GenericClient,
    workspace: WorkspaceId,
    id: Uuid,
    crawl: Uuid,
    until: DateTime<Utc>,
) -> Result<Option<SourceRow>, Error> {
    let sql = format!(
        "UPDATE kb_sources SET status = 'crawling', step_until = $4, updated_at = now()
          WHERE id = $1 AND workspace_id = $2 AND crawl_id = $3 AND status IN ('queued', 'crawling')
            AND (step_until IS NULL OR step_until < now())
          RETURNING {COLUMNS}"
    );
    Ok(super::read_one(db, &sql, workspace, id, &[&crawl, &until])
        .await?
        .as_ref()
        .map(from_row))
}

/// Records what this crawl read of the site's robots.txt (none: everything allowed) and the delay kept.
pub async fn set_robots(
    db: &impl GenericClient,
    workspace: WorkspaceId,
    id: Uuid,
    robots: Option<&str>,
    delay_ms: i32,
) -> Result<bool, Error> {
    super::change_one(
        db,
        "UPDATE kb_sources SET robots_checked = true, robots_txt = $3, crawl_delay_ms = $4, updated_at = now()
          WHERE id = $1 AND workspace_id = $2",
        workspace,
        id,
        &[&robots, &delay_ms],
    )
    .await
}

/// Ends a step that leaves the crawl to the next one: the hold is released, the bytes counted.
pub async fn end_step(
    db: &impl GenericClient,
    workspace: WorkspaceId,
    id: Uuid,
    bytes: i64,
) -> Result<bool, Error> {
    super::change_one(
        db,
        "UPDATE kb_sources SET step_until = NULL, bytes_fetched = bytes_fetched + $3, updated_at = now()
          WHERE id = $1 AND workspace_id = $2",
        workspace,
        id,
        &[&bytes],
    )
    .await
}

/// Ends the crawl `crawl`: `ready` (or `failed` when it could not crawl at all), with what went wrong,
/// and the next sync scheduled from now.
pub async fn finish(
    db: &impl GenericClient,
    workspace: WorkspaceId,
    id: Uuid,
    crawl: Uuid,
    failed: bool,
    error: Option<&str>,
    bytes: i64,
) -> Result<bool, Error> {
    let status = if failed { "failed" } else { "ready" };
    let next = next_sync("sync_every", "now()");
    super::change_one(
        db,
        &format!(
            "UPDATE kb_sources
            SET status = $4, last_error = $5, step_until = NULL, crawl_finished_at = now(),
                last_synced_at = now(), bytes_fetched = bytes_fetched + $6, updated_at = now(),
                next_sync_at = {next}
          WHERE id = $1 AND workspace_id = $2 AND crawl_id = $3"
        ),
        workspace,
        id,
        &[&crawl, &status, &error, &bytes],
    )
    .await
}

/// When a source whose schedule is `every` (`daily`, `weekly` or null; SQL) syncs next after `from`
/// (SQL): the one place the schedules' intervals are.
fn next_sync(every: &str, from: &str) -> String {
    format!(
        "CASE {every} WHEN 'daily' THEN {from} + interval '1 day' WHEN 'weekly' THEN {from} + interval '7 days' END"
    )
}

/// Changes how often a source re-syncs (none: only on request), rescheduling from its last sync.
pub async fn set_schedule(
    db: &impl GenericClient,
    workspace: WorkspaceId,
    id: Uuid,
    sync_every: Option<&str>,
) -> Result<bool, Error> {
    let next = next_sync("$3::text", "COALESCE(last_synced_at, now())");
    super::change_one(
        db,
        &format!(
            "UPDATE kb_sources SET sync_every = $3, updated_at = now(), next_sync_at = {next}
              WHERE id = $1 AND workspace_id = $2"
        ),
        workspace,
        id,
        &[&sync_every],
    )
    .await
}

/// Sources due a scheduled sync, across workspaces (the cron's), locked until the caller's transaction
/// ends so two runs never start the same sync.
pub async fn claim_due(
    db: &impl GenericClient,
    limit: i64,
) -> Result<Vec<(WorkspaceId, Uuid)>, Error> {
    Ok(db
        .query(
            "SELECT workspace_id, id FROM kb_sources
              WHERE sync_every IS NOT NULL AND next_sync_at <= now() AND status IN ('ready', 'failed')
              ORDER BY next_sync_at LIMIT $1 FOR UPDATE SKIP LOCKED",
            &[&limit],
        )
        .await?
        .iter()
        .map(|r| (WorkspaceId::from_trusted_source(r.get(0)), r.get(1)))
        .collect())
}

/// Crawls that stopped moving (a message lost, a step that died without handing on): queued or
/// crawling, not held, untouched for `minutes` — across workspaces, for the cron to announce again.
pub async fn stalled(
    db: &impl GenericClient,
    minutes: i32,
    limit: i64,
) -> Result<Vec<crate::queue::CrawlMessage>, Error> {
    Ok(db
        .query(
            "SELECT id, workspace_id, crawl_id FROM kb_sources
              WHERE status IN ('queued', 'crawling') AND updated_at < now() - make_interval(mins => $1)
                AND (step_until IS NULL OR step_until < now())
              ORDER BY updated_at LIMIT $2",
            &[&minutes, &limit],
        )
        .await?
        .iter()
        .map(|r| crate::queue::CrawlMessage {
            source_id: r.get(0),
            workspace_id: r.get(1),
            crawl_id: r.get(2),
        })
        .collect())
}

/// Marks a source as looked at (a stalled crawl announced again waits its turn before the next look).
pub async fn touch(
    db: &impl GenericClient,
    workspace: WorkspaceId,
    id: Uuid,
) -> Result<bool, Error> {
    super::change_one(
        db,
        "UPDATE kb_sources SET updated_at = now() WHERE id = $1 AND workspace_id = $2",
        workspace,
        id,
        &[],
    )
    .await
}

/// How many pages the crawl `crawl` has reached so far (queued included).
pub async fn pages_in_crawl(
    db: &impl GenericClient,
    workspace: WorkspaceId,
    source: Uuid,
    crawl: Uuid,
) -> Result<i64, Error> {
    Ok(super::read_one(
        db,
        "SELECT count(*) FROM kb_source_pages WHERE source_id = $1 AND workspace_id = $2 AND crawl_id = $3",
        workspace,
        source,
        &[&crawl],
    )
    .await?
    .map_or(0, |r| r.get(0)))
}

/// Adds pages to the crawl `crawl` at `depth` with `status` (`queued`, or `skipped` with `error`), the
/// first `room` of them this crawl has not reached yet, in the given order: a page this crawl already
/// reached is left as it is; one an earlier crawl reached keeps its document and content hash. Returns
/// how many were added.
#[allow(clippy::too_many_arguments)]
pub async fn add_pages(
    db: &impl GenericClient,
    workspace: WorkspaceId,
    source: Uuid,
    crawl: Uuid,
    urls: &[String],
    depth: i32,
    status: &str,
    error: Option<&str>,
    room: i64,
) -> Result<u64, Error> {
    db.execute(
        "INSERT INTO kb_source_pages (source_id, url, workspace_id, depth, crawl_id, status, error)
         SELECT $1, u.url, $2, $3, $4, $5, $6 FROM unnest($7::text[]) WITH ORDINALITY AS u(url, n)
          WHERE NOT EXISTS (SELECT 1 FROM kb_source_pages p
                             WHERE p.source_id = $1 AND p.url = u.url AND p.crawl_id = $4)
          ORDER BY u.n LIMIT $8
         ON CONFLICT (source_id, url) DO UPDATE
            SET crawl_id = EXCLUDED.crawl_id, depth = EXCLUDED.depth, status = EXCLUDED.status,
                error = EXCLUDED.error
          WHERE kb_source_pages.crawl_id <> EXCLUDED.crawl_id",
        &[
            &source,
            workspace.as_uuid(),
            &depth,
            &crawl,
            &status,
            &error,
            &urls,
            &room,
        ],
    )
    .await
}

/// The next page of the crawl to fetch: shallowest first, then in URL order.
pub async fn next_queued(
    db: &impl GenericClient,
    workspace: WorkspaceId,
    source: Uuid,
    crawl: Uuid,
) -> Result<Option<PageRow>, Error> {
    let sql = format!(
        "SELECT {PAGE_COLUMNS} FROM kb_source_pages p JOIN kb_sources s ON s.id = p.source_id
          WHERE p.source_id = $1 AND p.workspace_id = $2 AND p.crawl_id = $3 AND p.status = 'queued'
          ORDER BY p.depth, p.url LIMIT 1"
    );
    Ok(super::read_one(db, &sql, workspace, source, &[&crawl])
        .await?
        .as_ref()
        .map(page_from_row))
}

/// Skips every page of the crawl still queued, saying why (a crawl stopped early).
pub async fn skip_queued(
    db: &impl GenericClient,
    workspace: WorkspaceId,
    source: Uuid,
    crawl: Uuid,
    why: &str,
) -> Result<u64, Error> {
    db.execute(
        "UPDATE kb_source_pages SET status = 'skipped', error = $4, fetched_at = now()
          WHERE source_id = $1 AND workspace_id = $2 AND crawl_id = $3 AND status = 'queued'",
        &[&source, workspace.as_uuid(), &crawl, &why],
    )
    .await
}

/// What became of a page in this crawl.
#[derive(Debug, Clone)]
pub struct PageOutcome<'a> {
    pub status: &'a str,
    pub document_id: Option<Uuid>,
    pub content_hash: Option<&'a [u8]>,
    pub error: Option<&'a str>,
}

/// Records a page's outcome (its document and content hash kept when the outcome has none).
pub async fn set_page(
    db: &impl GenericClient,
    workspace: WorkspaceId,
    source: Uuid,
    url: &str,
    outcome: &PageOutcome<'_>,
) -> Result<bool, Error> {
    super::change_one(
        db,
        "UPDATE kb_source_pages
            SET status = $4, document_id = COALESCE($5, document_id),
                content_hash = COALESCE($6, content_hash), error = $7, fetched_at = now()
          WHERE source_id = $1 AND workspace_id = $2 AND url = $3",
        workspace,
        source,
        &[
            &url,
            &outcome.status,
            &outcome.document_id,
            &outcome.content_hash,
            &outcome.error,
        ],
    )
    .await
}

/// Pages an earlier crawl reached and the crawl `crawl` did not, not yet removed: gone from the site.
pub async fn unreached(
    db: &impl GenericClient,
    workspace: WorkspaceId,
    source: Uuid,
    crawl: Uuid,
) -> Result<Vec<(String, Option<Uuid>)>, Error> {
    Ok(super::read_many(
        db,
        "SELECT url, document_id FROM kb_source_pages
          WHERE source_id = $1 AND workspace_id = $2 AND crawl_id <> $3 AND status <> 'removed'",
        workspace,
        source,
        &[&crawl],
    )
    .await?
    .iter()
    .map(|r| (r.get(0), r.get(1)))
    .collect())
}

/// Marks a page gone (its document is deleted by the caller) as of the crawl `crawl`.
pub async fn mark_removed(
    db: &impl GenericClient,
    workspace: WorkspaceId,
    source: Uuid,
    url: &str,
    crawl: Uuid,
    reason: &str,
) -> Result<bool, Error> {
    super::change_one(
        db,
        "UPDATE kb_source_pages SET status = 'removed', crawl_id = $4, error = $5, document_id = NULL, fetched_at = now()
          WHERE source_id = $1 AND workspace_id = $2 AND url = $3",
        workspace,
        source,
        &[&url, &crawl, &reason],
    )
    .await
}
