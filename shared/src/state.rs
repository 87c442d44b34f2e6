//! What the handlers need, built once per cold start and shared by reference: [`AppState`] for every
//! route group, and the states of the groups that need more adapters ([`KnowledgeState`], [`BillingState`]).

use crate::auth::{JwtKeys, Passwords};
use crate::config::Config;
use axum::extract::FromRef;
use deadpool_postgres::Pool;
use std::sync::Arc;

#[derive(Clone, Debug)]
pub struct AppState {
    pub config: Arc<Config>,
    pub db: Pool,
    pub jwt: Arc<JwtKeys>,
    /// The external identity providers' verifier; `None` when none is configured.
    pub oidc: Option<Arc<crate::auth::oidc::Oidc>>,
    pub passwords: Passwords,
    pub limiter: crate::ratelimit::Limiter,
    /// The email queue; `None` leaves mail in the outbox for the sweep (see [`crate::services::outbox`]).
    pub email_queue: Option<crate::queue::Queue>,
    /// Stored files — uploads and exports: S3 (`UPLOADS_BUCKET`), or locally a directory the devserver
    /// serves; none on Lambda without a bucket (the functions that need one require it there).
    pub files: Option<crate::storage::FileStore>,
}

impl AppState {
    /// Builds the state from configuration. Opens no connection: the pool connects on first use.
    pub fn new(config: Config) -> anyhow::Result<Self> {
        let db = crate::db::pool(&config.database)?;
        let jwt = Arc::new(JwtKeys::new(&config.jwt));
        let passwords = Passwords::new()?;
        let oidc =
            crate::auth::oidc::Oidc::new(&config.oidc, &config.cors_allowed_origins)?.map(Arc::new);
        let rl = &config.rate_limits;
        let limiter = match (&rl.upstash_url, &rl.upstash_token) {
            (Some(url), Some(token)) => {
                crate::ratelimit::Limiter::upstash(url, token.clone(), rl.upstash_timeout)?
            }
            // On Lambda limits must be shared by every container: the start requires Upstash there
            // (`Need::RateLimits`).
            _ => crate::ratelimit::Limiter::memory(),
        };
        let files = crate::storage::FileStore::from_config(&config.uploads, config.on_lambda);
        Ok(Self {
            config: Arc::new(config),
            db,
            jwt,
            oidc,
            passwords,
            limiter,
            email_queue: None,
            files,
        })
    }

    /// The same state sending mail to `queue`.
    pub fn with_email_queue(mut self, queue: crate::queue::Queue) -> Self {
        self.email_queue = Some(queue);
        self
    }
}

#[cfg(feature = "knowledge")]
/// What the knowledge-base route group and the ingest worker need, built once per cold start.
#[derive(Clone, Debug)]
pub struct KnowledgeState {
    pub app: AppState,
    pub embedder: crate::knowledge::Embedder,
    pub llm: crate::knowledge::Llm,
    pub vectors: crate::knowledge::VectorStore,
    pub queue: crate::knowledge::Queue,
    /// Uploaded files: S3, or locally a directory; none on Lambda without `UPLOADS_BUCKET` (the functions
    /// that grant or delete uploads require it there).
    pub files: Option<crate::storage::FileStore>,
    /// The crawl queue website sources' crawls are announced on (`SQS_CRAWL_QUEUE_URL`; the devserver's
    /// in-process channel locally); none leaves announced crawls in the outbox.
    pub crawl: Option<crate::queue::Queue>,
    /// The index searches keep using until the current one is complete (after a change of embedding
    /// model, `EMBEDDING_MODEL_PREVIOUS`); see [`crate::knowledge::previous`].
    pub previous: Option<std::sync::Arc<crate::knowledge::PreviousIndex>>,
}

#[cfg(feature = "knowledge")]
impl FromRef<KnowledgeState> for AppState {
    fn from_ref(state: &KnowledgeState) -> Self {
        state.app.clone()
    }
}

#[cfg(feature = "knowledge")]
impl KnowledgeState {
    /// Builds the adapters from configuration. `local_queue` is the devserver's in-process channel, used
    /// when no SQS queue is configured.
    pub async fn new(
        app: AppState,
        local_queue: Option<tokio::sync::mpsc::UnboundedSender<String>>,
    ) -> anyhow::Result<Self> {
        let cfg = &app.config.knowledge;
        let embedder = crate::knowledge::Embedder::from_config(cfg)?;
        let llm = crate::knowledge::Llm::from_config(cfg)?;
        let vectors = crate::knowledge::VectorStore::from_config(cfg, embedder.dense()).await?;
        let previous = crate::knowledge::PreviousIndex::from_config(cfg, &vectors)
            .await?
            .map(std::sync::Arc::new);
        let queue = match (&cfg.ingest_queue_url, local_queue) {
            (Some(url), _) => crate::knowledge::Queue::sqs(url.clone()),
            (None, Some(tx)) => crate::knowledge::Queue::Local(tx),
            (None, None) => anyhow::bail!(
                "SQS_INGEST_QUEUE_URL is not set and there is no in-process queue: set it to the ingest queue's URL"
            ),
        };
        // The same store (locally: the same signing key) as the core state's.
        let files = app.files.clone();
        let crawl = app
            .config
            .crawl
            .queue_url
            .clone()
            .map(crate::queue::Queue::sqs);
        Ok(Self {
            app,
            embedder,
            llm,
            vectors,
            queue,
            files,
            crawl,
            previous,
        })
    }
}

/// What the extract worker needs: the core state, the uploaded files, its own queue (retries are delayed
/// through it) and the ingest queue the files' text goes on to. No knowledge adapter: it reads files,
/// the ingest worker embeds them.
#[cfg(feature = "extract")]
#[derive(Clone, Debug)]
pub struct ExtractState {
    pub app: AppState,
    pub files: crate::storage::FileStore,
    pub queue: crate::queue::Queue,
    pub ingest: crate::queue::Queue,
}

/// What the crawl worker needs: the core state, the fetcher (the SSRF guard's), its own queue (a long
/// crawl continues through it) and the ingest queue the pages' text goes on to. No knowledge adapter: a
/// page gone from its site is deleted as a document, and its vectors leave with the purge.
#[cfg(feature = "crawl")]
#[derive(Clone)]
pub struct CrawlState {
    pub app: AppState,
    pub fetcher: crate::fetch::Fetcher,
    pub queue: crate::queue::Queue,
    pub ingest: crate::queue::Queue,
}

/// What the Stripe route group needs: the core state and the Stripe API client, built once per cold start.
#[derive(Clone, Debug)]
pub struct BillingState {
    pub app: AppState,
    pub stripe: crate::billing::StripeClient,
}

impl FromRef<BillingState> for AppState {
    fn from_ref(state: &BillingState) -> Self {
        state.app.clone()
    }
}

impl BillingState {
    pub fn new(app: AppState) -> anyhow::Result<Self> {
        let stripe = anyhow::Context::context(
            crate::billing::StripeClient::new(&app.config.billing, app.config.app_url()),
            "building the Stripe API client (vendor TLS, timeout)",
        )?;
        Ok(Self { app, stripe })
    }
}
