//! The knowledge base: documents chunked, embedded and stored as vectors, searched per workspace.
//!
//! Ports with their adapters: [`Embedder`] (OpenAI through async-openai, or an offline deterministic
//! embedder), [`VectorStore`] (Qdrant, or the Qdrant engine in-process), [`Queue`] (SQS, or an in-process
//! channel). On Lambda no embedded default may stand in: the cold start fails naming what is missing
//! ([`crate::config::Need::Knowledge`]).

pub mod bm25;
pub mod chunking;
pub mod embedder;
pub mod llm;
#[cfg(feature = "local-model")]
pub mod local_model;
pub mod openai;
pub mod previous;
pub mod queue;
pub mod vectors;

pub use embedder::Embedder;
pub use llm::Llm;
pub use previous::PreviousIndex;
pub use queue::Queue;
pub use vectors::{ChunkPoint, SearchHit, VectorQuery, VectorStore};
