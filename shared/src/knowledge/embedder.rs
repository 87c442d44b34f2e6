//! Embeddings: OpenAI (or any OpenAI-compatible server) through async-openai; locally, when no key is
//! configured, none — search is BM25 alone, announced in the log — or, asked for by name
//! (`EMBEDDING_MODEL=offline-hash-256`), the old hashed-words vectors, kept for comparison.
//!
//! Requests are packed into as few calls as the API allows (≤ 2,048 inputs and ≤ 300,000 tokens each);
//! 429 and 5xx answers are retried by async-openai's retry layer with exponential backoff that honours
//! `Retry-After`.

use crate::config::KnowledgeConfig;
use crate::knowledge::chunking::count_tokens;
use async_openai::Client;
use async_openai::config::OpenAIConfig;
use async_openai::types::embeddings::{CreateEmbeddingRequest, EmbeddingInput};
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Dimensions of the offline embedder's vectors.
pub const OFFLINE_DIMENSIONS: u32 = 256;
/// The offline (hashed words) embedder's model name; `EMBEDDING_MODEL` set to it without an API key
/// selects it.
pub const OFFLINE_MODEL: &str = "offline-hash-256";
/// The local model's usual name (its folder may give another, see `LocalModel::name`).
pub const LOCAL_MODEL: &str = "all-MiniLM-L6-v2";

#[derive(Clone)]
pub struct Embedder {
    kind: Kind,
    model: String,
    dimensions: u32,
    max_inputs: usize,
    max_tokens: usize,
    /// Embedding API calls made by this process (observability and benchmarks).
    requests: Arc<AtomicU64>,
}

#[derive(Clone)]
enum Kind {
    OpenAi(Box<Client<OpenAIConfig>>),
    Offline,
    /// all-MiniLM-L6-v2 in-process (the devserver's semantic half without an API key).
    #[cfg(feature = "local-model")]
    Local(Arc<super::local_model::LocalModel>),
    /// No dense embedder: search is BM25 alone.
    None,
}

impl std::fmt::Debug for Embedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.kind {
            Kind::OpenAi(_) => "openai",
            Kind::Offline => "offline",
            #[cfg(feature = "local-model")]
            Kind::Local(_) => "local",
            Kind::None => "none",
        };
        f.debug_struct("Embedder")
            .field("kind", &kind)
            .field("model", &self.model)
            .finish()
    }
}

/// The embeddings API failed after its retries; the caller may try again later.
#[derive(Debug, thiserror::Error)]
#[error("the embeddings API failed: {0}")]
pub struct EmbedError(pub String);

impl From<EmbedError> for crate::ApiError {
    fn from(e: EmbedError) -> Self {
        crate::ApiError::unavailable("embeddings service", e)
    }
}

impl Embedder {
    pub fn from_config(cfg: &KnowledgeConfig) -> anyhow::Result<Self> {
        let requests = Arc::new(AtomicU64::new(0));
        let (max_inputs, max_tokens) = (cfg.embedding_batch_inputs, cfg.embedding_batch_tokens);
        match &cfg.openai_api_key {
            Some(key) => {
                let client = super::openai::client(cfg, key, cfg.openai_timeout)?;
                Ok(Self {
                    kind: Kind::OpenAi(Box::new(client)),
                    model: cfg.embedding_model.clone(),
                    dimensions: cfg.embedding_dimensions,
                    max_inputs,
                    max_tokens,
                    requests,
                })
            }
            None if cfg.embedding_model == OFFLINE_MODEL => {
                tracing::warn!(
                    "EMBEDDING_MODEL={OFFLINE_MODEL} without OPENAI_API_KEY: using the hashed-words embedder ({OFFLINE_DIMENSIONS} dimensions), \
                     lexical only and kept for comparison; BM25 already covers lexical search"
                );
                Ok(Self::offline_with(max_inputs, max_tokens))
            }
            None => match &cfg.embeddings_model_dir {
                Some(dir) => Ok(Self::local_or_none(std::path::Path::new(dir))),
                None => {
                    tracing::warn!(
                        "OPENAI_API_KEY is not set: no dense embedder, search is BM25 alone (lexical). \
                         Set OPENAI_API_KEY (and OPENAI_BASE_URL for a compatible server), or EMBEDDINGS_MODEL_DIR \
                         for the local model (devserver), for hybrid search."
                    );
                    Ok(Self::none())
                }
            },
        }
    }

    /// The embedder that made the index in use before this one (`EMBEDDING_MODEL_PREVIOUS`), for the
    /// searches it keeps serving until the new index is complete: `none` (a BM25-only index),
    /// `offline-hash-256`, the local model (by its name, from `EMBEDDINGS_MODEL_DIR`), or an embeddings
    /// API model with `EMBEDDING_DIMENSIONS_PREVIOUS` (the same key and base URL). `None` when unset.
    pub fn previous_from_config(cfg: &KnowledgeConfig) -> anyhow::Result<Option<Self>> {
        let Some(model) = cfg.embedding_model_previous.as_deref() else {
            return Ok(None);
        };
        let (max_inputs, max_tokens) = (cfg.embedding_batch_inputs, cfg.embedding_batch_tokens);
        let embedder = if model.eq_ignore_ascii_case("none") {
            Self::none()
        } else if model == OFFLINE_MODEL {
            Self::offline_with(max_inputs, max_tokens)
        } else if let Some(dir) = &cfg.embeddings_model_dir
            && (cfg.openai_api_key.is_none() || model.eq_ignore_ascii_case(LOCAL_MODEL))
        {
            let local = Self::local(std::path::Path::new(dir)).map_err(|e| {
                e.context(format!(
                    "EMBEDDING_MODEL_PREVIOUS={model}: the local model in EMBEDDINGS_MODEL_DIR cannot be loaded"
                ))
            })?;
            anyhow::ensure!(
                local.model() == model,
                "EMBEDDING_MODEL_PREVIOUS={model}, but the local model in EMBEDDINGS_MODEL_DIR is {}: name the model the index was built with (`none` for BM25 alone)",
                local.model()
            );
            local
        } else {
            let Some(key) = &cfg.openai_api_key else {
                anyhow::bail!(
                    "EMBEDDING_MODEL_PREVIOUS={model} is an embeddings API model, and OPENAI_API_KEY is not set: set it, or name the index's model as `none`, `{OFFLINE_MODEL}` or the local model's name"
                );
            };
            Self {
                kind: Kind::OpenAi(Box::new(super::openai::client(
                    cfg,
                    key,
                    cfg.openai_timeout,
                )?)),
                model: model.to_owned(),
                dimensions: cfg.embedding_dimensions_previous,
                max_inputs,
                max_tokens,
                requests: Arc::new(AtomicU64::new(0)),
            }
        };
        Ok(Some(embedder))
    }

    /// The local model in `dir`, or — when it cannot be loaded, or this binary has no local model — no
    /// dense embedder (BM25 alone), with an error in the log naming the file and what to do.
    pub fn local_or_none(dir: &std::path::Path) -> Self {
        match Self::local(dir) {
            Ok(embedder) => {
                tracing::info!(dir = %dir.display(), model = embedder.model(), "dense embeddings from the local model");
                embedder
            }
            Err(e) => {
                tracing::error!(
                    error = format!("{e:#}"),
                    "EMBEDDINGS_MODEL_DIR is set but the local model cannot be used: search is BM25 alone until it is fixed"
                );
                Self::none()
            }
        }
    }

    /// The local model in `dir` (all-MiniLM-L6-v2); an error names the missing or corrupt file.
    #[cfg(feature = "local-model")]
    pub fn local(dir: &std::path::Path) -> anyhow::Result<Self> {
        let model = super::local_model::LocalModel::load(dir)?;
        Ok(Self {
            model: model.name().to_owned(),
            dimensions: model.dimensions(),
            kind: Kind::Local(Arc::new(model)),
            max_inputs: 256,
            max_tokens: usize::MAX,
            requests: Arc::new(AtomicU64::new(0)),
        })
    }

    #[cfg(not(feature = "local-model"))]
    pub fn local(dir: &std::path::Path) -> anyhow::Result<Self> {
        anyhow::bail!(
            "EMBEDDINGS_MODEL_DIR={} is set, but this binary was built without the local model (the `local-model` feature: the devserver has it, Lambda functions never)",
            dir.display()
        )
    }

    /// No dense embedder: search is BM25 alone.
    pub fn none() -> Self {
        Self {
            kind: Kind::None,
            model: "none".into(),
            dimensions: 0,
            max_inputs: 1,
            max_tokens: 1,
            requests: Arc::new(AtomicU64::new(0)),
        }
    }

    /// The dense vectors this embedder makes (model and dimensions), or `None` without one.
    pub fn dense(&self) -> Option<(&str, u32)> {
        match self.kind {
            Kind::None => None,
            _ => Some((&self.model, self.dimensions)),
        }
    }

    /// The offline embedder (tests and local use).
    pub fn offline() -> Self {
        Self::offline_with(2048, 300_000)
    }

    fn offline_with(max_inputs: usize, max_tokens: usize) -> Self {
        Self {
            kind: Kind::Offline,
            model: format!("offline-hash-{OFFLINE_DIMENSIONS}"),
            dimensions: OFFLINE_DIMENSIONS,
            max_inputs,
            max_tokens,
            requests: Arc::new(AtomicU64::new(0)),
        }
    }

    /// The model name; cache entries are keyed by it, so switching models never mixes vectors.
    pub fn model(&self) -> &str {
        &self.model
    }

    pub fn dimensions(&self) -> u32 {
        self.dimensions
    }

    /// How many embedding calls this embedder has made.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Embeds `texts` in order, in as few requests as the limits allow. Without a dense embedder this is
    /// an error: ask [`Embedder::dense`] first.
    pub async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        Ok(self.embed_metered(texts).await?.0)
    }

    /// [`Embedder::embed`], and the tokens the embedding read: the API's own count, or for a model run
    /// here the count of the tokenizer the chunker uses (what the usage records: they cost nothing).
    pub async fn embed_metered(
        &self,
        texts: &[String],
    ) -> Result<(Vec<Vec<f32>>, u64), EmbedError> {
        if matches!(self.kind, Kind::None) {
            return Err(EmbedError(
                "there is no dense embedder (search is BM25 alone)".into(),
            ));
        }
        let mut out = Vec::with_capacity(texts.len());
        let mut tokens = 0u64;
        for range in batches(texts, self.max_inputs, self.max_tokens) {
            self.requests.fetch_add(1, Ordering::Relaxed);
            let batch = &texts[range];
            if !matches!(self.kind, Kind::OpenAi(_)) {
                tokens += batch.iter().map(|t| count_tokens(t) as u64).sum::<u64>();
            }
            match &self.kind {
                Kind::Offline => out.extend(
                    batch
                        .iter()
                        .map(|t| offline_vector(t, self.dimensions as usize)),
                ),
                Kind::OpenAi(client) => {
                    let (vectors, used) = self.call(client, batch).await?;
                    tokens += used;
                    out.extend(vectors);
                }
                #[cfg(feature = "local-model")]
                Kind::Local(model) => {
                    let (model, batch) = (model.clone(), batch.to_vec());
                    let vectors = tokio::task::spawn_blocking(move || model.embed(&batch))
                        .await
                        .map_err(|e| EmbedError(format!("the local model's task failed: {e}")))?
                        .map_err(|e| EmbedError(format!("{e:#}")))?;
                    out.extend(vectors);
                }
                Kind::None => {}
            }
        }
        Ok((out, tokens))
    }

    async fn call(
        &self,
        client: &Client<OpenAIConfig>,
        batch: &[String],
    ) -> Result<(Vec<Vec<f32>>, u64), EmbedError> {
        let request = CreateEmbeddingRequest {
            model: self.model.clone(),
            input: EmbeddingInput::StringArray(batch.to_vec()),
            dimensions: self
                .model
                .starts_with("text-embedding-3")
                .then_some(self.dimensions),
            ..CreateEmbeddingRequest::default()
        };
        let response = client
            .embeddings()
            .create(request)
            .await
            .map_err(|e| EmbedError(e.to_string()))?;
        let used = u64::from(response.usage.prompt_tokens);
        let mut data = response.data;
        if data.len() != batch.len() {
            return Err(EmbedError(format!(
                "asked for {} embeddings, got {}",
                batch.len(),
                data.len()
            )));
        }
        data.sort_by_key(|e| e.index);
        let vectors: Vec<Vec<f32>> = data.into_iter().map(|e| e.embedding).collect();
        if let Some(bad) = vectors.iter().find(|v| v.len() != self.dimensions as usize) {
            return Err(EmbedError(format!(
                "the model returned {} dimensions, EMBEDDING_DIMENSIONS says {}",
                bad.len(),
                self.dimensions
            )));
        }
        Ok((vectors, used))
    }
}

/// Packs consecutive texts into request-sized ranges: at most `max_inputs` texts and `max_tokens` tokens
/// each (a single text over the token limit goes alone; the API will say why it refuses it).
pub fn batches(texts: &[String], max_inputs: usize, max_tokens: usize) -> Vec<Range<usize>> {
    let tokens: Vec<usize> = texts.iter().map(|t| count_tokens(t)).collect();
    consecutive(&tokens, max_inputs, max_tokens)
}

/// Greedily packs consecutive items into ranges of at most `max_items` items whose weights add up to at
/// most `max_weight` (an item heavier than that goes alone). Requests to the embeddings API and the ingest
/// worker's pieces of documents are both cut this way.
pub fn consecutive(weights: &[usize], max_items: usize, max_weight: usize) -> Vec<Range<usize>> {
    let mut ranges = Vec::new();
    let (mut start, mut weight) = (0, 0);
    for (i, &w) in weights.iter().enumerate() {
        if i > start && (i - start >= max_items || weight + w > max_weight) {
            ranges.push(start..i);
            start = i;
            weight = 0;
        }
        weight += w;
    }
    if start < weights.len() {
        ranges.push(start..weights.len());
    }
    ranges
}

/// A deterministic bag-of-words vector: each lower-cased word hashed (FNV-1a) into a signed bucket,
/// L2-normalised. Texts sharing words are close; it is lexical, not semantic.
pub fn offline_vector(text: &str, dimensions: usize) -> Vec<f32> {
    let mut v = vec![0f32; dimensions];
    for word in text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        let h = super::bm25::fnv1a(word.to_lowercase().as_bytes());
        let bucket = (h % dimensions as u64) as usize;
        v[bucket] += if h >> 63 == 1 { -1.0 } else { 1.0 };
    }
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    } else {
        // An empty text still needs a valid (non-zero) vector for cosine distance.
        v[0] = 1.0;
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn knowledge(pairs: &[(&str, &str)]) -> KnowledgeConfig {
        let mut src = crate::config::Source::from_pairs([
            ("DATABASE_URL", "postgres://u:p@localhost/db"),
            ("JWT_SECRET", "0123456789abcdef0123456789abcdef"),
        ]);
        for &(k, v) in pairs {
            src.set(k, v);
        }
        crate::config::Config::from_source(&src)
            .expect("valid")
            .knowledge
    }

    #[test]
    fn when_a_previous_model_is_named_its_embedder_is_built_or_the_error_says_what_is_missing() {
        assert!(
            Embedder::previous_from_config(&knowledge(&[]))
                .expect("valid")
                .is_none()
        );
        assert!(
            Embedder::previous_from_config(&knowledge(&[("EMBEDDING_MODEL_PREVIOUS", " ")]))
                .expect("valid")
                .is_none(),
            "blank is unset"
        );
        let none =
            Embedder::previous_from_config(&knowledge(&[("EMBEDDING_MODEL_PREVIOUS", "none")]))
                .expect("valid")
                .expect("named");
        assert_eq!(none.dense(), None, "a BM25-only index");
        let hashed = Embedder::previous_from_config(&knowledge(&[(
            "EMBEDDING_MODEL_PREVIOUS",
            OFFLINE_MODEL,
        )]))
        .expect("valid")
        .expect("named");
        assert_eq!(hashed.dense(), Some((OFFLINE_MODEL, OFFLINE_DIMENSIONS)));
        let err = Embedder::previous_from_config(&knowledge(&[(
            "EMBEDDING_MODEL_PREVIOUS",
            "text-embedding-ada-002",
        )]))
        .expect_err("refused");
        assert!(
            err.to_string().contains("OPENAI_API_KEY is not set"),
            "{err}"
        );
        let api = Embedder::previous_from_config(&knowledge(&[
            ("EMBEDDING_MODEL_PREVIOUS", "text-embedding-ada-002"),
            ("EMBEDDING_DIMENSIONS_PREVIOUS", "1024"),
            ("OPENAI_API_KEY", "sk-test"),
        ]))
        .expect("valid")
        .expect("named");
        assert_eq!(api.dense(), Some(("text-embedding-ada-002", 1024)));
        // A model folder that cannot be loaded is said, naming the setting.
        let err = Embedder::previous_from_config(&knowledge(&[
            ("EMBEDDING_MODEL_PREVIOUS", LOCAL_MODEL),
            ("EMBEDDINGS_MODEL_DIR", "/nonexistent/model"),
        ]))
        .expect_err("refused");
        assert!(
            format!("{err:#}").contains("EMBEDDING_MODEL_PREVIOUS=all-MiniLM-L6-v2"),
            "{err:#}"
        );
    }

    #[test]
    fn when_texts_exceed_a_limit_they_are_packed_into_the_fewest_batches() {
        let texts: Vec<String> = (0..5000).map(|i| format!("chunk {i}")).collect();
        let ranges = batches(&texts, 2048, 300_000);
        assert_eq!(ranges, vec![0..2048, 2048..4096, 4096..5000]);
        let long: Vec<String> = (0..10).map(|_| "word ".repeat(100)).collect();
        let per_text = count_tokens(&long[0]);
        let ranges = batches(&long, 2048, per_text * 3);
        assert_eq!(ranges.len(), 4, "{ranges:?}");
        assert!(batches(&[], 10, 10).is_empty());
    }

    #[tokio::test]
    async fn when_the_offline_embedder_runs_it_is_deterministic_and_lexically_meaningful() {
        let e = Embedder::offline();
        let v = e
            .embed(&[
                "refund policy for orders".into(),
                "refund policy for orders".into(),
                "shipping to Mars".into(),
            ])
            .await
            .expect("offline");
        assert_eq!(v[0], v[1]);
        assert_eq!(v[0].len(), OFFLINE_DIMENSIONS as usize);
        let q = offline_vector("what is the refund policy", OFFLINE_DIMENSIONS as usize);
        let dot = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>();
        assert!(dot(&q, &v[0]) > dot(&q, &v[2]));
        assert_eq!(e.requests(), 1);
    }
}
