//! The index searches keep using while a new one is built: after a change of embedding model
//! (`EMBEDDING_MODEL_PREVIOUS` names the old one), the new collection starts empty and a re-index of
//! every workspace fills it. Until that job completes, searches go to the previous collection with the
//! previous embedder, and every write (ingestion, deletion) goes to both, so that neither misses a
//! document; once it completes — recorded in PostgreSQL, seen by every container within
//! [`RECHECK`] — searches switch to the new collection and the previous one is no longer written.
//!
//! The switch itself lives in [`crate::services::reindex`]; this is the per-container state.

use super::{Embedder, VectorStore};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// How often a container that has not seen the switch asks PostgreSQL again.
pub const RECHECK: Duration = Duration::from_secs(10);

#[derive(Debug)]
pub struct PreviousIndex {
    pub embedder: Embedder,
    pub vectors: VectorStore,
    switched: AtomicBool,
    checked: Mutex<Option<Instant>>,
}

impl PreviousIndex {
    pub fn new(embedder: Embedder, vectors: VectorStore) -> Self {
        Self {
            embedder,
            vectors,
            switched: AtomicBool::new(false),
            checked: Mutex::new(None),
        }
    }

    /// The previous index of the configuration, its collection named as its embedder's (`None` without
    /// `EMBEDDING_MODEL_PREVIOUS`). It must differ from the collection in use.
    pub async fn from_config(
        cfg: &crate::config::KnowledgeConfig,
        current: &VectorStore,
    ) -> anyhow::Result<Option<Self>> {
        let Some(embedder) = Embedder::previous_from_config(cfg)? else {
            return Ok(None);
        };
        let vectors = VectorStore::from_config(cfg, embedder.dense()).await?;
        anyhow::ensure!(
            vectors.collection() != current.collection(),
            "EMBEDDING_MODEL_PREVIOUS names the collection in use ({}): it must name the model the index was built with before EMBEDDING_MODEL, or be unset",
            current.collection()
        );
        tracing::info!(
            previous = vectors.collection(),
            current = current.collection(),
            "searches use the previous collection until a re-index of every workspace fills the current one"
        );
        Ok(Some(Self::new(embedder, vectors)))
    }

    /// Whether this container has seen the new index complete.
    pub fn is_switched(&self) -> bool {
        self.switched.load(Ordering::Acquire)
    }

    pub fn mark_switched(&self) {
        self.switched.store(true, Ordering::Release);
    }

    /// Whether it is time to ask again whether the new index is complete; counts as asking.
    pub fn check_due(&self) -> bool {
        let mut checked = self
            .checked
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if checked.is_some_and(|at| at.elapsed() < RECHECK) {
            return false;
        }
        *checked = Some(Instant::now());
        true
    }
}
