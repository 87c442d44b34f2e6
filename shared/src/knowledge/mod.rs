//! The knowledge base: documents chunked, embedded and stored as vectors, searched per workspace.
//!
//! Ports with their adapters: [`Embedder`] (OpenAI through async-openai, or an offline deterministic
//! embedder), [`VectorStore`] (Qdrant, or the Qdrant engine in-process), [`Queue`] (SQS, or an in-process
//! channel). On Lambda no embedded default may stand in: the cold start fails naming what is missing
//! ([`crate::config::Need::Knowledge`]).

pub mod chunking;
pub mod embedder;
pub mod llm;
pub mod openai;
pub mod queue;
pub mod vectors;

pub use embedder::Embedder;
pub use llm::Llm;
pub use queue::Queue;
pub use vectors::{ChunkPoint, SearchHit, VectorStore};

use crate::state::AppState;
use axum::extract::FromRef;

/// What the knowledge-base route group and the ingest worker need, built once per cold start.
#[derive(Clone, Debug)]
pub struct KnowledgeState {
    pub app: AppState,
    pub embedder: Embedder,
    pub llm: Llm,
    pub vectors: VectorStore,
    pub queue: Queue,
}

impl FromRef<KnowledgeState> for AppState {
    fn from_ref(state: &KnowledgeState) -> Self {
        state.app.clone()
    }
}

impl KnowledgeState {
    /// Builds the adapters from configuration. `local_queue` is the devserver's in-process channel, used
    /// when no SQS queue is configured.
    pub async fn new(
        app: AppState,
        local_queue: Option<tokio::sync::mpsc::UnboundedSender<String>>,
    ) -> anyhow::Result<Self> {
        let cfg = &app.config.knowledge;
        let embedder = Embedder::from_config(cfg)?;
        let llm = Llm::from_config(cfg)?;
        let vectors = VectorStore::from_config(cfg, embedder.dimensions()).await?;
        let queue = match (&cfg.ingest_queue_url, local_queue) {
            (Some(url), _) => Queue::sqs(url.clone()),
            (None, Some(tx)) => Queue::Local(tx),
            (None, None) => anyhow::bail!(
                "SQS_INGEST_QUEUE_URL is not set and there is no in-process queue: set it to the ingest queue's URL"
            ),
        };
        Ok(Self {
            app,
            embedder,
            llm,
            vectors,
            queue,
        })
    }
}
