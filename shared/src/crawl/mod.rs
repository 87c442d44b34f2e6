//! The crawl worker's work: one step of a website source's crawl per message.
//!
//! A crawl starts by reading the site's `robots.txt` (its rules, `Crawl-delay` and `Sitemap:` lines) and
//! seeding its pages: the page itself (`page`), the pages a sitemap lists (`sitemap`, sitemap indexes
//! followed), or the start page and the sitemaps robots.txt names (`site`, whose pages' links are then
//! followed within the site up to [`MAX_DEPTH`]). Pages wait in `kb_source_pages`; a step fetches them one
//! at a time, a crawl delay apart, through the SSRF guard ([`crate::fetch`]), for up to
//! `CRAWL_STEP_SECONDS`, then hands the rest to the next step through the crawl queue.
//!
//! A page's text (HTML's main content, or any format extraction reads) is hashed: a new page becomes a
//! document, a changed one a new version of its document (swapped in once indexed), an unchanged one costs
//! nothing. When the frontier is empty, pages an earlier crawl reached and this one did not are gone: their
//! documents are deleted — unless this crawl could not read its start (then nothing is removed).
//!
//! Caps: the source's `maxPages` (the plan's at most), [`MAX_DEPTH`] links deep, [`MAX_CRAWL_BYTES`] and
//! [`MAX_CRAWL_TIME`] a crawl, the fetch policy's bytes and time a response.

pub mod sitemap;

use crate::billing::quota::{Consumption, check_quota};
use crate::extract::{self, FileKind, Limits};
use crate::fetch::{FetchError, Fetched};
use crate::ids::WorkspaceId;
use crate::outbox::{self, Topic};
use crate::queue::{CrawlMessage, IngestMessage};
use crate::repo::documents::{self, NewDocument};
use crate::repo::sources::{self, PageOutcome, PageRow, SourceKind, SourceRow};
use crate::state::CrawlState;
use std::time::{Duration, Instant};
use url::Url;
use uuid::Uuid;

/// The name robots.txt rules are matched against (`User-agent: SoftSystemsStudioBot`).
pub const ROBOT_NAME: &str = "SoftSystemsStudioBot";
/// Links followed from the start page, at most.
pub const MAX_DEPTH: i32 = 5;
/// Bytes one crawl fetches, at most.
pub const MAX_CRAWL_BYTES: i64 = 500 * 1024 * 1024;
/// How long one crawl may take, steps and delays included.
pub const MAX_CRAWL_TIME: Duration = Duration::from_secs(2 * 3600);
/// Sitemaps read for one crawl (an index and the sitemaps it lists), at most.
pub const MAX_SITEMAPS: usize = 20;
/// Of a robots.txt, only this much is read (as Google does).
const MAX_ROBOTS_BYTES: usize = 500 * 1024;

/// The user agent sent with every request: our robot's name and where to read about it.
pub fn user_agent(app_url: &str) -> String {
    format!("{ROBOT_NAME}/1.0 (+{app_url})")
}

/// The fetcher crawls fetch with: the configured policy's guard (the system's resolver) and our user
/// agent.
pub fn fetcher(config: &crate::config::Config) -> Result<crate::fetch::Fetcher, FetchError> {
    crate::fetch::Fetcher::new(
        crate::fetch::Guard::new(config.fetch.clone()),
        &user_agent(config.app_url()),
    )
}

/// Runs one step of a crawl. Errors only for what a retry may cure (the database or the queue down);
/// anything about the site is recorded on the source and its pages.
pub async fn step(state: &CrawlState, message: &CrawlMessage) -> anyhow::Result<()> {
    let ws = WorkspaceId::from_trusted_source(message.workspace_id);
    let step = state.app.config.crawl.step;
    // Held past the step's own end by what the last page may still take: the crawl delay before it,
    // its fetch, and a margin for reading and storing it.
    let hold = chrono::Duration::from_std(
        step + crate::config::MAX_CRAWL_DELAY + state.fetcher.timeout() + Duration::from_secs(30),
    )?;
    let client = state.app.db.get().await?;
    let Some(source) = sources::claim_step(
        &**client,
        ws,
        message.source_id,
        message.crawl_id,
        chrono::Utc::now() + hold,
    )
    .await?
    else {
        tracing::info!(workspace_id = %ws, source_id = %message.source_id, crawl_id = %message.crawl_id, "crawl over, source gone, or another step holds it: nothing to do");
        return Ok(());
    };
    drop(client);
    let start = Url::parse(&source.url)?;
    let kind = SourceKind::parse(&source.kind).unwrap_or(SourceKind::Page);
    let mut crawl = Crawl {
        state,
        ws,
        start,
        kind,
        source,
        bytes: 0,
        last_request: None,
        deadline: Instant::now() + step,
    };
    match crawl.run().await {
        Ok(Next::Continue) => {
            let client = state.app.db.get().await?;
            sources::end_step(&**client, ws, crawl.source.id, crawl.bytes).await?;
            state.queue.send(serde_json::to_string(message)?).await?;
            tracing::info!(workspace_id = %ws, source_id = %crawl.source.id, "crawl step done; the next step is queued");
            Ok(())
        }
        Ok(Next::Finish { failed, error }) => {
            let client = state.app.db.get().await?;
            sources::finish(
                &**client,
                ws,
                crawl.source.id,
                crawl.source.crawl_id,
                failed,
                error.as_deref(),
                crawl.bytes,
            )
            .await?;
            tracing::info!(workspace_id = %ws, source_id = %crawl.source.id, failed, error = error.as_deref().unwrap_or(""), "crawl finished");
            Ok(())
        }
        Err(e) => {
            // Let the retry take over at once (the hold would otherwise keep it waiting).
            if let Ok(client) = state.app.db.get().await {
                let _ = sources::end_step(&**client, ws, crawl.source.id, crawl.bytes).await;
            }
            Err(e)
        }
    }
}

/// What a step leaves.
enum Next {
    /// Pages remain: the next step continues.
    Continue,
    /// The crawl is over.
    Finish { failed: bool, error: Option<String> },
}

struct Crawl<'a> {
    state: &'a CrawlState,
    ws: WorkspaceId,
    /// The source's URL, and what it is.
    start: Url,
    kind: SourceKind,
    source: SourceRow,
    /// Bytes fetched by this step.
    bytes: i64,
    last_request: Option<Instant>,
    deadline: Instant,
}

/// A site's rules for us.
struct Rules {
    robot: Option<texting_robots::Robot>,
}

impl Rules {
    fn parse(txt: Option<&str>) -> Self {
        Self {
            robot: txt.and_then(|t| texting_robots::Robot::new(ROBOT_NAME, t.as_bytes()).ok()),
        }
    }

    fn allowed(&self, url: &Url) -> bool {
        self.robot.as_ref().is_none_or(|r| r.allowed(url.as_str()))
    }
}

/// Whether `url` is on the source's site: the same host, on the same port (or each on its scheme's
/// default, so `http://` and `https://` of one host are one site).
pub fn same_site(start: &Url, url: &Url) -> bool {
    let default = |u: &Url| u.port().is_none();
    start.host_str().map(str::to_ascii_lowercase) == url.host_str().map(str::to_ascii_lowercase)
        && (start.port_or_known_default() == url.port_or_known_default()
            || (default(start) && default(url)))
}

impl Crawl<'_> {
    async fn run(&mut self) -> anyhow::Result<Next> {
        if !self.source.robots_checked
            && let Some(finish) = self.begin().await?
        {
            return Ok(finish);
        }
        let rules = Rules::parse(self.source.robots_txt.as_deref());
        let started = self.source.crawl_started_at;
        loop {
            let elapsed = (chrono::Utc::now() - started).to_std().unwrap_or_default();
            if elapsed > MAX_CRAWL_TIME || self.source.bytes_fetched + self.bytes > MAX_CRAWL_BYTES
            {
                return self.stop_early(elapsed > MAX_CRAWL_TIME).await;
            }
            if Instant::now() >= self.deadline {
                return Ok(Next::Continue);
            }
            // A source deleted meanwhile has no pages left: the crawl ends here.
            let client = self.state.app.db.get().await?;
            let Some(page) =
                sources::next_queued(&**client, self.ws, self.source.id, self.source.crawl_id)
                    .await?
            else {
                drop(client);
                return self.complete().await;
            };
            drop(client);
            if let Some(finish) = self.visit(&rules, page).await? {
                return Ok(finish);
            }
        }
    }

    /// Waits out the crawl delay since the last request to the site, then fetches.
    async fn fetch(&mut self, url: &str) -> Result<Fetched, FetchError> {
        let delay = Duration::from_millis(u64::try_from(self.source.crawl_delay_ms).unwrap_or(0));
        if let Some(last) = self.last_request {
            let wait = delay.saturating_sub(last.elapsed());
            if !wait.is_zero() {
                tokio::time::sleep(wait).await;
            }
        }
        self.last_request = Some(Instant::now());
        let fetched = self.state.fetcher.get(url).await;
        if let Ok(f) = &fetched {
            self.bytes += i64::try_from(f.body.len()).unwrap_or(i64::MAX);
        }
        fetched
    }

    /// The crawl's first step: robots.txt, the delay, and the pages to start from. `Some` ends the crawl
    /// (it cannot start).
    async fn begin(&mut self) -> anyhow::Result<Option<Next>> {
        let start = self.start.clone();
        let fail = |error: String| {
            Ok(Some(Next::Finish {
                failed: true,
                error: Some(error),
            }))
        };
        let robots_url = start.join("/robots.txt")?;
        let robots = match self.fetch(robots_url.as_str()).await {
            Ok(f) if (200..300).contains(&f.status) => {
                let mut body = f.body;
                body.truncate(MAX_ROBOTS_BYTES);
                Some(String::from_utf8_lossy(&body).into_owned())
            }
            // No robots.txt (or none we may read): everything is allowed.
            Ok(f) if (400..500).contains(&f.status) => None,
            Ok(f) => {
                return fail(format!(
                    "{robots_url} answered HTTP {}: the site may be down, so nothing was crawled; sync again later",
                    f.status
                ));
            }
            Err(FetchError::Refused(r)) => return fail(format!("{start} is not fetched: {r}")),
            Err(e) => {
                return fail(format!(
                    "{robots_url} could not be read ({e}): the site may be down, so nothing was crawled; sync again later"
                ));
            }
        };
        let rules = Rules::parse(robots.as_deref());
        let theirs = rules
            .robot
            .as_ref()
            .and_then(|r| r.delay)
            .filter(|d| d.is_finite() && *d > 0.0)
            .map(|d| Duration::from_secs_f32(d).min(crate::config::MAX_CRAWL_DELAY))
            .unwrap_or_default();
        let delay = theirs.max(self.state.app.config.crawl.delay);
        self.source.crawl_delay_ms = i32::try_from(delay.as_millis()).unwrap_or(i32::MAX);
        if self.kind != SourceKind::Sitemap && !rules.allowed(&start) {
            return fail(format!(
                "the site's robots.txt does not allow {ROBOT_NAME} to fetch {start}: nothing was crawled"
            ));
        }
        let mut seeds = Vec::new();
        match self.kind {
            SourceKind::Page => seeds.push(start.clone()),
            SourceKind::Site => {
                seeds.push(start.clone());
                let listed: Vec<String> = rules
                    .robot
                    .as_ref()
                    .map(|r| r.sitemaps.clone())
                    .unwrap_or_default();
                let (pages, _) = self.read_sitemaps(listed).await;
                seeds.extend(pages);
            }
            SourceKind::Sitemap => {
                let (pages, error) = self.read_sitemaps(vec![start.to_string()]).await;
                if pages.is_empty() {
                    return fail(error.unwrap_or_else(|| {
                        format!("the sitemap {start} lists no page of the site")
                    }));
                }
                seeds.extend(pages);
            }
        }
        let (allowed, disallowed): (Vec<Url>, Vec<Url>) =
            seeds.into_iter().partition(|u| rules.allowed(u));
        self.add(&allowed, 0, "queued", None).await?;
        self.add(&disallowed, 0, "skipped", Some("robots.txt disallows it"))
            .await?;
        // Recorded last: a step that fails before this point is retried from robots.txt, so a crawl is
        // never left without its seeds (which would remove every page an earlier crawl reached).
        let client = self.state.app.db.get().await?;
        let delay_ms = self.source.crawl_delay_ms;
        sources::set_robots(
            &**client,
            self.ws,
            self.source.id,
            robots.as_deref(),
            delay_ms,
        )
        .await?;
        self.source.robots_checked = true;
        self.source.robots_txt = robots;
        Ok(None)
    }

    /// The pages of the site the sitemaps list (sitemap indexes followed, [`MAX_SITEMAPS`] at most), and
    /// the last error met reading them.
    async fn read_sitemaps(&mut self, mut queue: Vec<String>) -> (Vec<Url>, Option<String>) {
        let start = self.start.clone();
        let mut pages = Vec::new();
        let mut error = None;
        let mut read = 0;
        while let Some(next) = queue.pop() {
            if read == MAX_SITEMAPS {
                error = Some(format!(
                    "more than {MAX_SITEMAPS} sitemaps: the rest were not read"
                ));
                break;
            }
            // A slow site cannot keep the first step past its time (nor the function past its timeout).
            if Instant::now() >= self.deadline {
                error = Some(
                    "the sitemaps took longer than a step to read: the rest were not read".into(),
                );
                break;
            }
            read += 1;
            let Ok(url) = Url::parse(&next) else {
                error = Some(format!("{next:?} is not a URL"));
                continue;
            };
            if !same_site(&start, &url) {
                error = Some(format!("the sitemap {url} is on another site: not read"));
                continue;
            }
            let body = match self.fetch(url.as_str()).await {
                Ok(f) if (200..300).contains(&f.status) => f.body,
                Ok(f) => {
                    error = Some(format!("the sitemap {url} answered HTTP {}", f.status));
                    continue;
                }
                Err(e) => {
                    error = Some(format!("the sitemap {url} could not be read: {e}"));
                    continue;
                }
            };
            match sitemap::parse(&String::from_utf8_lossy(&body)) {
                Ok(map) => {
                    queue.extend(map.sitemaps);
                    pages.extend(
                        map.pages
                            .iter()
                            .filter_map(|p| Url::parse(p).ok())
                            .filter(|p| matches!(p.scheme(), "http" | "https"))
                            .filter(|p| same_site(&start, p)),
                    );
                }
                Err(e) => error = Some(format!("the sitemap {url} could not be read: {e}")),
            }
        }
        (pages, error)
    }

    /// Adds pages to the crawl, within `maxPages`.
    async fn add(
        &self,
        urls: &[Url],
        depth: i32,
        status: &str,
        error: Option<&str>,
    ) -> anyhow::Result<()> {
        if urls.is_empty() {
            return Ok(());
        }
        let client = self.state.app.db.get().await?;
        let (id, crawl) = (self.source.id, self.source.crawl_id);
        let reached = sources::pages_in_crawl(&**client, self.ws, id, crawl).await?;
        let room = i64::from(self.source.max_pages) - reached;
        if room <= 0 {
            return Ok(());
        }
        let mut unique: Vec<String> = Vec::new();
        for u in urls {
            let s = u.to_string();
            if !unique.contains(&s) {
                unique.push(s);
            }
        }
        sources::add_pages(
            &**client, self.ws, id, crawl, &unique, depth, status, error, room,
        )
        .await?;
        Ok(())
    }

    async fn record(&self, url: &str, outcome: PageOutcome<'_>) -> anyhow::Result<()> {
        let client = self.state.app.db.get().await?;
        sources::set_page(&**client, self.ws, self.source.id, url, &outcome).await?;
        Ok(())
    }

    async fn failed(&self, url: &str, error: &str) -> anyhow::Result<()> {
        self.record(
            url,
            PageOutcome {
                status: "failed",
                document_id: None,
                content_hash: None,
                error: Some(error),
            },
        )
        .await
    }

    async fn skipped(&self, url: &str, error: &str) -> anyhow::Result<()> {
        self.record(
            url,
            PageOutcome {
                status: "skipped",
                document_id: None,
                content_hash: None,
                error: Some(error),
            },
        )
        .await
    }

    /// Fetches and reads one page. `Some` ends the crawl (the plan's documents are used up).
    async fn visit(&mut self, rules: &Rules, page: PageRow) -> anyhow::Result<Option<Next>> {
        let url = page.url.clone();
        let fetched = match self.fetch(&url).await {
            Ok(f) => f,
            Err(FetchError::Refused(r)) => {
                self.failed(&url, &format!("not fetched: {r}")).await?;
                return Ok(None);
            }
            Err(e) => {
                self.failed(&url, &e.to_string()).await?;
                return Ok(None);
            }
        };
        if !same_site(&self.start, &fetched.url) {
            let why = format!("it redirects to another site ({})", fetched.url);
            self.skipped(&url, &why).await?;
            return Ok(None);
        }
        if !rules.allowed(&fetched.url) {
            let why = format!(
                "it redirects to {}, which robots.txt disallows",
                fetched.url
            );
            self.skipped(&url, &why).await?;
            return Ok(None);
        }
        if matches!(fetched.status, 404 | 410) {
            let why = format!("the page is gone (HTTP {})", fetched.status);
            self.remove(&url, page.document_id, &why).await?;
            return Ok(None);
        }
        if !(200..300).contains(&fetched.status) {
            let why = format!("HTTP {}", fetched.status);
            self.failed(&url, &why).await?;
            return Ok(None);
        }
        let declared = fetched
            .content_type
            .as_deref()
            .and_then(|t| t.split(';').next())
            .unwrap_or("application/octet-stream")
            .trim()
            .to_ascii_lowercase();
        let file_name = fetched
            .url
            .path_segments()
            .and_then(|mut s| s.next_back())
            .unwrap_or("")
            .to_owned();
        let body = fetched.body;
        let extracted = tokio::task::spawn_blocking(move || {
            extract::extract(&body, &declared, &file_name, &Limits::default())
        })
        .await?;
        let extracted = match extracted {
            Ok(e) => e,
            Err(e @ extract::ExtractError::UnsupportedType(_)) => {
                self.skipped(&url, &format!("not a page or document we read: {e}"))
                    .await?;
                return Ok(None);
            }
            Err(e) => {
                self.failed(&url, &format!("{}: {e}", e.code())).await?;
                return Ok(None);
            }
        };
        let (title, text, content_type, links, noindex) = if extracted.kind == FileKind::Html {
            let read = crate::text::html::read_page(&extracted.content, &fetched.url);
            let Ok(read) = read else {
                self.failed(&url, "the HTML could not be read").await?;
                return Ok(None);
            };
            let links = if read.nofollow {
                Vec::new()
            } else {
                read.links
            };
            (read.title, read.text, "text/markdown", links, read.noindex)
        } else {
            (
                None,
                extracted.content,
                extracted.content_type,
                Vec::new(),
                false,
            )
        };
        // Links first: a page skipped for `noindex` still leads to others.
        if self.kind == SourceKind::Site && page.depth < MAX_DEPTH {
            let next: Vec<Url> = links
                .into_iter()
                .filter(|l| same_site(&self.start, l) && rules.allowed(l))
                .collect();
            self.add(&next, page.depth + 1, "queued", None).await?;
        }
        if noindex {
            self.skipped(&url, "the page asks not to be indexed (noindex)")
                .await?;
            return Ok(None);
        }
        if text.trim().is_empty() {
            self.skipped(&url, "the page has no text").await?;
            return Ok(None);
        }
        let title = title
            .unwrap_or_else(|| fetched.url.to_string())
            .chars()
            .take(500)
            .collect::<String>();
        self.store(&url, page, &title, &text, content_type).await
    }

    /// Stores a page's text: unchanged, a new version of its document, or a new document.
    async fn store(
        &self,
        url: &str,
        page: PageRow,
        title: &str,
        text: &str,
        content_type: &str,
    ) -> anyhow::Result<Option<Next>> {
        let hash = crate::text::sha256(format!("{title}\n{text}").as_bytes());
        let ws = self.ws;
        let mut client = self.state.app.db.get().await?;
        let tx = client.transaction().await?;
        let live = match page.document_id {
            Some(id) => documents::get_for_update(&*tx, ws, id).await?,
            None => None,
        };
        if let Some(doc) = &live
            && page.content_hash.as_deref() == Some(&hash[..])
        {
            sources::set_page(
                &*tx,
                ws,
                self.source.id,
                url,
                &PageOutcome {
                    status: "unchanged",
                    document_id: Some(doc.id),
                    content_hash: Some(&hash),
                    error: None,
                },
            )
            .await?;
            tx.commit().await?;
            return Ok(None);
        }
        let ingestion_id = Uuid::now_v7();
        let by = self
            .source
            .created_by
            .map_or(crate::auth::Caller::Platform, crate::auth::Caller::User);
        let (status, document_id) = match &live {
            Some(doc) => {
                documents::insert_single_ingestion(&*tx, ws, ingestion_id, by).await?;
                let edit = documents::Edit {
                    title,
                    content: text,
                    content_type,
                    content_hash: &hash,
                    metadata: &doc.metadata,
                    source_url: Some(url),
                };
                documents::new_version(&*tx, ws, doc.id, ingestion_id, &edit).await?;
                ("changed", doc.id)
            }
            None => {
                if let Err(e) = check_quota(&*tx, ws, Consumption::Documents(1)).await {
                    drop(tx);
                    self.failed(url, &e.message).await?;
                    return Ok(Some(Next::Finish {
                        failed: false,
                        error: Some(format!("the crawl stopped: {}", e.message)),
                    }));
                }
                documents::insert_single_ingestion(&*tx, ws, ingestion_id, by).await?;
                let doc = NewDocument {
                    id: Uuid::now_v7(),
                    title: title.to_owned(),
                    content: text.to_owned(),
                    content_type: content_type.to_owned(),
                    source_url: Some(url.to_owned()),
                    metadata: serde_json::json!({}),
                    external_id: None,
                    source_id: Some(self.source.id),
                };
                documents::insert(&*tx, ws, ingestion_id, by, &doc, &hash).await?;
                ("new", doc.id)
            }
        };
        sources::set_page(
            &*tx,
            ws,
            self.source.id,
            url,
            &PageOutcome {
                status,
                document_id: Some(document_id),
                content_hash: Some(&hash),
                error: None,
            },
        )
        .await?;
        let payload = serde_json::to_value(IngestMessage {
            ingestion_id,
            workspace_id: *ws.as_uuid(),
        })?;
        let outbox_id = outbox::write(&*tx, Some(ws), Topic::Ingest, &payload).await?;
        tx.commit().await?;
        tracing::info!(workspace_id = %ws, source_id = %self.source.id, document_id = %document_id, status, "page stored; its text is queued for indexing");
        outbox::send_committed(&**client, Some(&self.state.ingest), outbox_id, &payload).await;
        Ok(None)
    }

    /// A page gone from the site: its document deleted (unsearchable at once; its vectors leave with the
    /// purge of deleted documents).
    async fn remove(&self, url: &str, document: Option<Uuid>, why: &str) -> anyhow::Result<()> {
        let mut client = self.state.app.db.get().await?;
        let tx = client.transaction().await?;
        if let Some(doc) = document {
            documents::soft_delete(&*tx, self.ws, doc).await?;
        }
        let (id, crawl) = (self.source.id, self.source.crawl_id);
        sources::mark_removed(&*tx, self.ws, id, url, crawl, why).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The frontier is empty: pages an earlier crawl reached and this one did not are gone, unless this
    /// crawl could not read where it starts (the site may be down: nothing is removed then).
    async fn complete(&mut self) -> anyhow::Result<Next> {
        let client = self.state.app.db.get().await?;
        let start = &self.start;
        let (id, crawl) = (self.source.id, self.source.crawl_id);
        let start_read = match sources::page(&**client, self.ws, id, start.as_str()).await? {
            Some(p) if p.current => !matches!(p.status.as_str(), "failed" | "queued"),
            // A sitemap's crawl starts from the sitemap, read in the first step.
            _ => self.kind == SourceKind::Sitemap,
        };
        if !start_read {
            return Ok(Next::Finish {
                failed: false,
                error: Some(format!(
                    "{start} could not be read: pages not reached this time were kept; sync again later"
                )),
            });
        }
        let gone = sources::unreached(&**client, self.ws, id, crawl).await?;
        drop(client);
        for (url, document) in &gone {
            self.remove(url, *document, "no longer linked or listed on the site")
                .await?;
        }
        let client = self.state.app.db.get().await?;
        let counts = sources::page_counts(&**client, self.ws, &[(id, crawl)]).await?;
        let failed = counts
            .get(&id)
            .and_then(|c| c.get("failed"))
            .copied()
            .unwrap_or(0);
        Ok(Next::Finish {
            failed: false,
            error: (failed > 0)
                .then(|| format!("{failed} pages could not be fetched or read: see their errors")),
        })
    }

    /// A crawl over its time or bytes: the pages not fetched are skipped, and nothing is removed.
    async fn stop_early(&mut self, time: bool) -> anyhow::Result<Next> {
        let why = if time {
            format!(
                "the crawl ran out of time ({} hours)",
                MAX_CRAWL_TIME.as_secs() / 3600
            )
        } else {
            format!(
                "the crawl fetched {} MB, its limit",
                MAX_CRAWL_BYTES / (1024 * 1024)
            )
        };
        let client = self.state.app.db.get().await?;
        let (id, crawl) = (self.source.id, self.source.crawl_id);
        sources::skip_queued(&**client, self.ws, id, crawl, &why).await?;
        Ok(Next::Finish {
            failed: false,
            error: Some(format!(
                "{why}: the pages left were skipped and none removed"
            )),
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_site_is_its_host_and_port_with_either_scheme_on_default_ports() {
        let start = Url::parse("https://Docs.Example.com/start").unwrap();
        for same in [
            "https://docs.example.com/a",
            "http://docs.example.com/b",
            "https://docs.example.com:443/c",
        ] {
            assert!(same_site(&start, &Url::parse(same).unwrap()), "{same}");
        }
        for other in [
            "https://example.com/",
            "https://docs.example.com.evil.test/",
            "https://docs.example.com:8443/",
        ] {
            assert!(!same_site(&start, &Url::parse(other).unwrap()), "{other}");
        }
        let local = Url::parse("http://127.0.0.1:8080/").unwrap();
        assert!(same_site(
            &local,
            &Url::parse("http://127.0.0.1:8080/x").unwrap()
        ));
        assert!(!same_site(
            &local,
            &Url::parse("http://127.0.0.1:8081/x").unwrap()
        ));
    }

    #[test]
    fn robots_rules_are_ours_and_everything_is_allowed_without_them() {
        let rules = Rules::parse(Some(
            "User-agent: *\nDisallow: /private\n\nUser-agent: SoftSystemsStudioBot\nDisallow: /drafts\nCrawl-delay: 2\n",
        ));
        let url = |p: &str| Url::parse(&format!("https://a.example{p}")).unwrap();
        // Our group applies, not the wildcard's.
        assert!(!rules.allowed(&url("/drafts/x")));
        assert!(rules.allowed(&url("/private/x")));
        assert_eq!(rules.robot.as_ref().unwrap().delay, Some(2.0));
        assert!(Rules::parse(None).allowed(&url("/anything")));
    }
}
