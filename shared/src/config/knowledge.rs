//! The knowledge base's outside systems: OpenAI (embeddings, chat), Qdrant, the ingest queue, chunking.

use super::{ConfigError, Source};
use secrecy::SecretString;
use std::time::Duration;

/// The knowledge base's outside systems. Each is optional locally (an embedded default stands in) and
/// required on Lambda (see [`super::Need::Knowledge`]).
#[derive(Debug, Clone)]
pub struct KnowledgeConfig {
    pub openai_api_key: Option<SecretString>,
    /// Any OpenAI-compatible server (vLLM, Ollama, llama.cpp); default OpenAI's.
    pub openai_base_url: Option<String>,
    pub embedding_model: String,
    pub embedding_dimensions: u32,
    /// The embedding model (and its dimensions) the index was built with before `embedding_model`:
    /// searches keep using its collection until a re-index of every workspace has filled the new one
    /// (`none` for a BM25-only index, `offline-hash-256`, the local model's name, or an API model).
    pub embedding_model_previous: Option<String>,
    pub embedding_dimensions_previous: u32,
    pub openai_timeout: Duration,
    /// Retries of a 429 or 5xx answer from the OpenAI API.
    pub openai_max_retries: usize,
    pub qdrant_url: Option<String>,
    pub qdrant_api_key: Option<SecretString>,
    pub qdrant_collection: String,
    /// Where the embedded vector store keeps its data (local use only).
    pub vector_data_dir: String,
    /// A folder holding a local sentence-embedding model (`config.json`, `tokenizer.json`,
    /// `model.safetensors`: all-MiniLM-L6-v2), used without an OpenAI key by binaries built with the
    /// `local-model` feature (the devserver; never a Lambda function).
    pub embeddings_model_dir: Option<String>,
    pub ingest_queue_url: Option<String>,
    pub chunk_size_tokens: usize,
    pub chunk_overlap_tokens: usize,
    /// Inputs per embeddings request (the API allows 2,048).
    pub embedding_batch_inputs: usize,
    /// Tokens per embeddings request (the API allows 300,000).
    pub embedding_batch_tokens: usize,
    /// Chunks the ingest worker embeds and stores before it marks those documents ready and goes on:
    /// progress is reported document by document, not at the end of a large ingestion.
    pub ingest_piece_chunks: usize,
    pub chat_model: String,
    pub chat_temperature: f32,
    pub chat_timeout: Duration,
    /// Chunks retrieved for a chat turn, and the weakest score kept.
    pub chat_top_k: u64,
    pub chat_score_threshold: Option<f32>,
    /// Tokens of conversation history the prompt carries (newest turns kept).
    pub chat_history_tokens: usize,
}

impl KnowledgeConfig {
    pub(super) fn from_source(src: &Source) -> Result<Self, ConfigError> {
        let cfg = Self {
            openai_api_key: src
                .get("OPENAI_API_KEY")
                .map(|k| SecretString::from(k.to_owned())),
            openai_base_url: src.get("OPENAI_BASE_URL").map(str::to_owned),
            embedding_model: src
                .get("EMBEDDING_MODEL")
                .unwrap_or("text-embedding-3-small")
                .to_owned(),
            embedding_dimensions: src.parsed("EMBEDDING_DIMENSIONS", 1536u32)?,
            embedding_model_previous: src
                .get("EMBEDDING_MODEL_PREVIOUS")
                .map(str::trim)
                .filter(|m| !m.is_empty())
                .map(str::to_owned),
            embedding_dimensions_previous: src.parsed("EMBEDDING_DIMENSIONS_PREVIOUS", 1536u32)?,
            openai_timeout: Duration::from_secs(src.parsed("OPENAI_TIMEOUT_SECONDS", 30u64)?),
            openai_max_retries: src.parsed("OPENAI_MAX_RETRIES", 3usize)?,
            qdrant_url: src.get("QDRANT_URL").map(str::to_owned),
            qdrant_api_key: src
                .get("QDRANT_API_KEY")
                .map(|k| SecretString::from(k.to_owned())),
            qdrant_collection: src
                .get("QDRANT_COLLECTION")
                .unwrap_or("kb_chunks")
                .to_owned(),
            vector_data_dir: src
                .get("VECTOR_DATA_DIR")
                .unwrap_or(".data/vectors")
                .to_owned(),
            embeddings_model_dir: src.get("EMBEDDINGS_MODEL_DIR").map(str::to_owned),
            ingest_queue_url: src.get("SQS_INGEST_QUEUE_URL").map(str::to_owned),
            chunk_size_tokens: src.parsed("CHUNK_SIZE_TOKENS", 512usize)?,
            chunk_overlap_tokens: src.parsed("CHUNK_OVERLAP_TOKENS", 64usize)?,
            embedding_batch_inputs: src.parsed("EMBEDDING_BATCH_INPUTS", 2048usize)?,
            embedding_batch_tokens: src.parsed("EMBEDDING_BATCH_TOKENS", 300_000usize)?,
            ingest_piece_chunks: src.parsed("INGEST_PIECE_CHUNKS", 64usize)?,
            chat_model: src.get("CHAT_MODEL").unwrap_or("gpt-4o-mini").to_owned(),
            chat_temperature: src.parsed("CHAT_TEMPERATURE", 0.7f32)?,
            chat_timeout: Duration::from_secs(src.parsed("CHAT_TIMEOUT_SECONDS", 30u64)?),
            chat_top_k: src.parsed("CHAT_TOP_K", 5u64)?,
            chat_score_threshold: match src.get("CHAT_SCORE_THRESHOLD") {
                None => None,
                Some(_) => Some(src.parsed("CHAT_SCORE_THRESHOLD", 0.0f32)?),
            },
            chat_history_tokens: src.parsed("CHAT_HISTORY_TOKENS", 2000usize)?,
        };
        if cfg.chunk_size_tokens < 16 || cfg.chunk_overlap_tokens >= cfg.chunk_size_tokens {
            return Err(ConfigError::Invalid {
                name: "CHUNK_OVERLAP_TOKENS",
                reason:
                    "CHUNK_SIZE_TOKENS must be at least 16 and larger than CHUNK_OVERLAP_TOKENS"
                        .into(),
            });
        }
        if !(1..=2048).contains(&cfg.embedding_batch_inputs) {
            return Err(ConfigError::Invalid {
                name: "EMBEDDING_BATCH_INPUTS",
                reason: "must be 1 to 2048".into(),
            });
        }
        if !(1..=300_000).contains(&cfg.embedding_batch_tokens) {
            return Err(ConfigError::Invalid {
                name: "EMBEDDING_BATCH_TOKENS",
                reason: "must be 1 to 300000".into(),
            });
        }
        if !(1..=2048).contains(&cfg.ingest_piece_chunks) {
            return Err(ConfigError::Invalid {
                name: "INGEST_PIECE_CHUNKS",
                reason: "must be 1 to 2048".into(),
            });
        }
        Ok(cfg)
    }
}
