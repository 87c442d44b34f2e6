//! The vector store port. Every read and delete takes a [`WorkspaceId`]: a search or delete without a
//! tenant filter cannot be written. Points carry the workspace id in their payload under a tenant index.
//!
//! Each point holds two named vectors: `dense` (the embedder's, when there is one) and `bm25` (the chunk's
//! BM25 terms, see [`crate::knowledge::bm25`]). A search asks for one or both: both are fused in the
//! store, in one query, by reciprocal rank fusion, each branch filtered to the tenant.
//!
//! Collections are named by what made their vectors ([`collection_name`]): changing the embedding model
//! builds a new collection beside the old one instead of mixing vectors of two models, and a collection
//! whose vectors do not fit the configuration is a [`Misconfigured`] error said at first use.

#[cfg(feature = "embedded-vectors")]
pub mod embedded;
pub mod qdrant;

use crate::config::KnowledgeConfig;
use crate::ids::WorkspaceId;
use crate::knowledge::bm25::SparseVector;
use uuid::Uuid;

/// The name of the dense vector in a point.
pub const DENSE_VECTOR: &str = "dense";
/// The name of the BM25 sparse vector in a point.
pub const SPARSE_VECTOR: &str = "bm25";
/// Reciprocal rank fusion's constant: a hit at rank r of a branch scores 1/(k + r). 60 is the value of
/// the method's paper (Cormack et al., 2009), stated here rather than tuned on any test collection; both
/// adapters pass it explicitly (Qdrant's own default is 2).
pub const RRF_K: u32 = 60;

/// The collection (Qdrant) or directory (embedded engine) of a configuration: the prefix, then the
/// embedding model and its dimensions (`kb_chunks_text-embedding-3-small_1536`), or `bm25` when there is
/// no dense embedder. Characters other than letters, digits, `-` and `_` become `-`.
pub fn collection_name(prefix: &str, dense: Option<(&str, u32)>) -> String {
    match dense {
        Some((model, dimensions)) => {
            let model: String = model
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                        c.to_ascii_lowercase()
                    } else {
                        '-'
                    }
                })
                .collect();
            format!("{prefix}_{model}_{dimensions}")
        }
        None => format!("{prefix}_bm25"),
    }
}

/// What a collection must hold to serve this configuration: a dense vector of this size (or none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    pub collection: String,
    pub dense_dimensions: Option<u32>,
}

/// The store's collection does not fit the configuration (another embedder made it, or it was made by
/// hand): a configuration error for the operator, not an outage — retrying cannot help.
#[derive(Debug, thiserror::Error)]
#[error(
    "the vector collection {collection} does not fit this configuration: {problem}. Point QDRANT_COLLECTION (or VECTOR_DATA_DIR) at another name, or re-index into a new collection (POST /api/v1/admin/reindex); collections are named by embedding model and dimensions, so a model change builds its own"
)]
pub struct Misconfigured {
    pub collection: String,
    pub problem: String,
}

/// One chunk's vector and what a search shows of it.
#[derive(Debug, Clone, PartialEq)]
pub struct ChunkPoint {
    pub document_id: Uuid,
    pub chunk_index: u32,
    pub title: String,
    pub text: String,
    /// The headings the chunk sits under (Markdown, HTML), if any.
    pub section: Option<String>,
    /// The page it is on (PDFs), from 1.
    pub page: Option<u32>,
    /// The document's version these chunks are of (from 1): a new version is written beside the current
    /// one and swapped in when complete.
    pub version: u32,
    /// The embedder's vector (none without a dense embedder).
    pub dense: Option<Vec<f32>>,
    /// The chunk's BM25 terms (document side).
    pub sparse: SparseVector,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SearchHit {
    pub document_id: Uuid,
    pub title: String,
    pub chunk_index: u32,
    pub text: String,
    /// The headings the chunk sits under (`Returns › Refunds`), when the document has them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub section: Option<String>,
    /// The page the chunk is on, from 1, when the document is a PDF.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page: Option<u32>,
    /// The document's `sourceUrl`, when it is an `http(s)` URL (filled in by the search, not stored).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// How well the chunk matches: cosine similarity in `dense` mode, the BM25 score in `sparse` mode, the
    /// reciprocal-rank-fusion score in `hybrid` mode (comparable within one answer only).
    pub score: f32,
    /// The document's version the chunk is of (a search keeps the current version's only).
    #[serde(skip)]
    pub version: u32,
}

/// A search: the chunks of one workspace best matching a dense vector, a sparse one, or both (fused),
/// at most `limit`. The threshold is a cosine similarity: it applies to the dense branch only (BM25 and
/// fused scores have no fixed scale, so a bound on them would mean something different per query).
#[derive(Debug, Clone, PartialEq)]
pub struct VectorQuery {
    pub workspace: WorkspaceId,
    pub dense: Option<Vec<f32>>,
    pub sparse: Option<SparseVector>,
    pub limit: u64,
    pub score_threshold: Option<f32>,
}

impl VectorQuery {
    /// How many candidates each branch of a hybrid search hands to the fusion.
    pub fn prefetch_limit(&self) -> u64 {
        self.limit.saturating_mul(2).clamp(50, 2000)
    }
}

/// Payload keys, shared by both adapters.
pub const WORKSPACE_KEY: &str = "workspace_id";
pub const DOCUMENT_KEY: &str = "document_id";

const POINT_NAMESPACE: Uuid = Uuid::from_u128(0x6b8f_2c1e_5d3a_4f7b_9e0c_1a2b_3c4d_5e6f);

/// The deterministic point id of a document version's chunk: reprocessing a version overwrites its
/// points, and a new version's points sit beside the current one's. Version 1 keeps the ids points had
/// before documents had versions.
pub fn point_id(document_id: Uuid, version: u32, chunk_index: u32) -> Uuid {
    let name = if version <= 1 {
        format!("{document_id}:{chunk_index}")
    } else {
        format!("{document_id}:v{version}:{chunk_index}")
    };
    Uuid::new_v5(&POINT_NAMESPACE, name.as_bytes())
}

/// The payload key of a chunk's document version.
pub const VERSION_KEY: &str = "version";

/// The payload stored with a chunk (both adapters use it, so filters mean the same thing).
pub fn payload(
    workspace: WorkspaceId,
    chunk: &ChunkPoint,
) -> serde_json::Map<String, serde_json::Value> {
    let mut map = serde_json::Map::new();
    map.insert(WORKSPACE_KEY.into(), workspace.to_string().into());
    map.insert(DOCUMENT_KEY.into(), chunk.document_id.to_string().into());
    map.insert("chunk_index".into(), chunk.chunk_index.into());
    map.insert("title".into(), chunk.title.clone().into());
    map.insert("text".into(), chunk.text.clone().into());
    if let Some(section) = &chunk.section {
        map.insert("section".into(), section.clone().into());
    }
    if let Some(page) = chunk.page {
        map.insert("page".into(), page.into());
    }
    map.insert(VERSION_KEY.into(), chunk.version.into());
    map
}

/// Reads a hit back from a stored payload; `None` for a point that is not one of ours.
pub fn hit_from_payload(payload: &serde_json::Value, score: f32) -> Option<SearchHit> {
    Some(SearchHit {
        document_id: payload.get(DOCUMENT_KEY)?.as_str()?.parse().ok()?,
        title: payload.get("title")?.as_str()?.to_owned(),
        chunk_index: u32::try_from(payload.get("chunk_index")?.as_u64()?).ok()?,
        text: payload.get("text")?.as_str()?.to_owned(),
        // Points stored before sections existed have none.
        section: payload
            .get("section")
            .and_then(|s| s.as_str())
            .map(str::to_owned),
        page: payload
            .get("page")
            .and_then(serde_json::Value::as_u64)
            .and_then(|p| u32::try_from(p).ok()),
        url: None,
        score,
        // Points stored before documents had versions are of version 1.
        version: payload
            .get(VERSION_KEY)
            .and_then(serde_json::Value::as_u64)
            .and_then(|v| u32::try_from(v).ok())
            .unwrap_or(1),
    })
}

/// The store: Qdrant in AWS, the Qdrant engine in-process locally.
#[derive(Clone, Debug)]
pub enum VectorStore {
    Qdrant(qdrant::QdrantStore),
    #[cfg(feature = "embedded-vectors")]
    Embedded(embedded::EmbeddedStore),
}

impl VectorStore {
    /// The store for an embedder making `dense` vectors (model and dimensions), or none (BM25 only): its
    /// collection named by them under `QDRANT_COLLECTION` (or `VECTOR_DATA_DIR`).
    pub async fn from_config(
        cfg: &KnowledgeConfig,
        dense: Option<(&str, u32)>,
    ) -> anyhow::Result<Self> {
        let layout = Layout {
            collection: collection_name(&cfg.qdrant_collection, dense),
            dense_dimensions: dense.map(|(_, d)| d),
        };
        if let Some(url) = &cfg.qdrant_url {
            let store =
                qdrant::QdrantStore::connect(url, cfg.qdrant_api_key.as_ref(), layout).await?;
            return Ok(Self::Qdrant(store));
        }
        let dir = std::path::Path::new(&cfg.vector_data_dir).join(&layout.collection);
        Self::embedded(&dir.to_string_lossy(), layout.dense_dimensions)
    }

    /// The collection's name.
    pub fn collection(&self) -> &str {
        match self {
            Self::Qdrant(q) => q.collection(),
            #[cfg(feature = "embedded-vectors")]
            Self::Embedded(e) => e.collection(),
        }
    }

    /// The embedded engine under `dir`, with dense vectors of `dense_dimensions` (or none).
    #[cfg(feature = "embedded-vectors")]
    pub fn embedded(dir: &str, dense_dimensions: Option<u32>) -> anyhow::Result<Self> {
        tracing::warn!(
            dir,
            "QDRANT_URL is not set: using the embedded Qdrant engine in-process (local use only)"
        );
        Ok(Self::Embedded(embedded::EmbeddedStore::open(
            std::path::Path::new(dir),
            dense_dimensions,
        )?))
    }

    #[cfg(not(feature = "embedded-vectors"))]
    pub fn embedded(_dir: &str, _dense_dimensions: Option<u32>) -> anyhow::Result<Self> {
        anyhow::bail!(
            "QDRANT_URL is not set, and this binary has no embedded vector store: set QDRANT_URL"
        )
    }

    /// Inserts or overwrites the chunks' points.
    pub async fn upsert(
        &self,
        workspace: WorkspaceId,
        chunks: Vec<ChunkPoint>,
    ) -> anyhow::Result<()> {
        if chunks.is_empty() {
            return Ok(());
        }
        match self {
            Self::Qdrant(q) => q.upsert(workspace, &chunks).await,
            #[cfg(feature = "embedded-vectors")]
            Self::Embedded(e) => e.upsert(workspace, chunks).await,
        }
    }

    /// The best matching chunks in this workspace only.
    pub async fn search(&self, query: VectorQuery) -> anyhow::Result<Vec<SearchHit>> {
        match self {
            Self::Qdrant(q) => q.search(query).await,
            #[cfg(feature = "embedded-vectors")]
            Self::Embedded(e) => e.search(query).await,
        }
    }

    /// Removes every point of one document of this workspace.
    pub async fn delete_document(
        &self,
        workspace: WorkspaceId,
        document: Uuid,
    ) -> anyhow::Result<()> {
        match self {
            Self::Qdrant(q) => q.delete(workspace, Some(document)).await,
            #[cfg(feature = "embedded-vectors")]
            Self::Embedded(e) => e.delete(workspace, Some(document)).await,
        }
    }

    /// Removes one document's points of versions older than `current` (after `current` is swapped in).
    pub async fn delete_versions_before(
        &self,
        workspace: WorkspaceId,
        document: Uuid,
        current: u32,
    ) -> anyhow::Result<()> {
        match self {
            Self::Qdrant(q) => q.delete_versions_before(workspace, document, current).await,
            #[cfg(feature = "embedded-vectors")]
            Self::Embedded(e) => e.delete_versions_before(workspace, document, current).await,
        }
    }

    /// Removes every point of this workspace (its hard deletion).
    pub async fn delete_workspace(&self, workspace: WorkspaceId) -> anyhow::Result<()> {
        match self {
            Self::Qdrant(q) => q.delete(workspace, None).await,
            #[cfg(feature = "embedded-vectors")]
            Self::Embedded(e) => e.delete(workspace, None).await,
        }
    }

    /// How many points this workspace has (all of them, or one document's).
    pub async fn count(
        &self,
        workspace: WorkspaceId,
        document: Option<Uuid>,
    ) -> anyhow::Result<u64> {
        match self {
            Self::Qdrant(q) => q.count(workspace, document).await,
            #[cfg(feature = "embedded-vectors")]
            Self::Embedded(e) => e.count(workspace, document).await,
        }
    }
}

#[cfg(test)]
impl ChunkPoint {
    /// A chunk of a new document, for the adapters' unit tests.
    pub(crate) fn sample(chunk_index: u32, title: &str, text: &str, vector: Vec<f32>) -> Self {
        Self {
            document_id: Uuid::now_v7(),
            chunk_index,
            title: title.into(),
            text: text.into(),
            section: None,
            page: None,
            version: 1,
            dense: Some(vector),
            sparse: SparseVector {
                indices: vec![7, 9],
                values: vec![0.5, 1.0],
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn when_a_chunk_is_reprocessed_its_point_id_is_the_same_and_each_version_has_its_own() {
        let doc = Uuid::now_v7();
        assert_eq!(point_id(doc, 1, 3), point_id(doc, 1, 3));
        assert_ne!(point_id(doc, 1, 3), point_id(doc, 1, 4));
        assert_ne!(point_id(doc, 1, 0), point_id(Uuid::now_v7(), 1, 0));
        assert_ne!(
            point_id(doc, 1, 0),
            point_id(doc, 2, 0),
            "a new version beside the old"
        );
        // Version 1 keeps the ids points had before versions (no re-index needed on upgrade).
        assert_eq!(
            point_id(doc, 1, 5),
            Uuid::new_v5(&POINT_NAMESPACE, format!("{doc}:5").as_bytes())
        );
    }

    #[test]
    fn when_collections_are_named_the_model_and_dimensions_are_in_the_name() {
        assert_eq!(
            collection_name("kb_chunks", Some(("text-embedding-3-small", 1536))),
            "kb_chunks_text-embedding-3-small_1536"
        );
        assert_eq!(
            collection_name("kb", Some(("BAAI/bge-small-en-v1.5", 384))),
            "kb_baai-bge-small-en-v1-5_384"
        );
        assert_eq!(collection_name("kb", None), "kb_bm25");
        assert_ne!(
            collection_name("kb", Some(("m", 256))),
            collection_name("kb", Some(("m", 1536))),
            "a dimension change is another collection"
        );
    }

    #[test]
    fn when_a_payload_is_written_and_read_back_the_hit_is_whole() {
        let ws = WorkspaceId::from_trusted_source(Uuid::now_v7());
        let chunk = ChunkPoint::sample(2, "T", "x", vec![]);
        let p = serde_json::Value::Object(payload(ws, &chunk));
        assert_eq!(p[WORKSPACE_KEY], ws.to_string());
        let hit = hit_from_payload(&p, 0.5).expect("ours");
        assert_eq!(
            (hit.document_id, hit.chunk_index, hit.title.as_str()),
            (chunk.document_id, 2, "T")
        );
        assert!(hit_from_payload(&serde_json::json!({"foreign": 1}), 0.1).is_none());
    }
}
