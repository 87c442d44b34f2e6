//! The embedded vector store: Qdrant's own engine in-process (`qdrant-edge`), persisted under a local
//! directory, with the server's payload filter semantics. Local use only (devserver, tests): the crate
//! feature `embedded-vectors` keeps it out of the Lambda binaries.
//!
//! Operations are built from the same JSON shapes as Qdrant's REST API (filters, points, indexes), and
//! the engine's API is synchronous, so every call runs on a blocking thread.

use super::{
    ChunkPoint, DENSE_VECTOR, DOCUMENT_KEY, Misconfigured, RRF_K, SPARSE_VECTOR, SearchHit,
    VERSION_KEY, VectorQuery, WORKSPACE_KEY, hit_from_payload, payload, point_id,
};
use crate::ids::WorkspaceId;
use anyhow::{Context, anyhow};
use qdrant_edge::{
    CountRequest, EdgeConfig, EdgeShard, Filter, Fusion, NamedQuery, Prefetch, QueryEnum,
    QueryRequest, ScoringQuery, SparseVector, UpdateOperation, VectorInternal,
    WithPayloadInterface, WithVector,
};
use serde_json::json;
use std::path::Path;
use std::sync::Arc;
use uuid::Uuid;

#[derive(Clone)]
pub struct EmbeddedStore {
    shard: Arc<EdgeShard>,
    collection: String,
}

impl std::fmt::Debug for EmbeddedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedStore")
            .field("path", &self.shard.path())
            .finish()
    }
}

fn ordered_float(x: f32) -> qdrant_edge::external::ordered_float::OrderedFloat<f32> {
    qdrant_edge::external::ordered_float::OrderedFloat(x)
}

fn engine<T>(result: Result<T, qdrant_edge::OperationError>, what: &str) -> anyhow::Result<T> {
    result.map_err(|e| anyhow!("embedded vector store: {what}: {e}"))
}

fn from_json<T: serde::de::DeserializeOwned>(value: serde_json::Value) -> anyhow::Result<T> {
    serde_json::from_value(value).context("building an embedded vector store request")
}

/// The same filter JSON as Qdrant's REST API: keyword matches that must all hold.
fn must_match(pairs: &[(&str, String)]) -> anyhow::Result<Filter> {
    let conditions: Vec<serde_json::Value> = pairs
        .iter()
        .map(|(key, value)| json!({"key": key, "match": {"value": value}}))
        .collect();
    from_json(json!({ "must": conditions }))
}

impl EmbeddedStore {
    /// Opens the store under `dir`, creating it the first time: a `dense` vector (cosine,
    /// `dense_dimensions`) when there is a dense embedder, the `bm25` sparse vector, and keyword indexes
    /// on the tenant and document ids. An existing store made for another embedder is refused, naming
    /// both.
    pub fn open(dir: &Path, dense_dimensions: Option<u32>) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let vectors = match dense_dimensions {
            Some(size) => json!({ DENSE_VECTOR: { "size": size, "distance": "Cosine" } }),
            None => json!({}),
        };
        let config: EdgeConfig = from_json(json!({
            "vectors": vectors,
            "sparse_vectors": { SPARSE_VECTOR: {} },
        }))?;
        let existing = match EdgeConfig::load(dir) {
            None => None,
            Some(loaded) => Some(engine(loaded, "reading its configuration")?),
        };
        let fresh = existing.is_none();
        let collection = dir.file_name().map_or_else(
            || dir.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        if let Some(existing) = &existing {
            let size = existing.vectors.get(DENSE_VECTOR).map(|v| v.size);
            let problem = if existing.vectors.contains_key("") {
                Some("it holds unnamed vectors (made before hybrid search)".to_owned())
            } else if size != dense_dimensions.map(|d| d as usize) {
                Some(format!(
                    "its dense vectors have {size:?} dimensions but the embedder makes {dense_dimensions:?}"
                ))
            } else if !existing.sparse_vectors.contains_key(SPARSE_VECTOR) {
                Some("it has no `bm25` sparse vector".to_owned())
            } else {
                None
            };
            if let Some(problem) = problem {
                return Err(Misconfigured {
                    collection: dir.display().to_string(),
                    problem,
                }
                .into());
            }
        }
        let shard = if fresh {
            engine(EdgeShard::new(dir, config), "creating")?
        } else {
            engine(EdgeShard::load(dir, None), "opening")?
        };
        if fresh {
            for field in [WORKSPACE_KEY, DOCUMENT_KEY] {
                let op: UpdateOperation = from_json(json!({
                    "create_index": { "field_name": field, "field_schema": {"type": "keyword", "is_tenant": field == WORKSPACE_KEY} }
                }))?;
                engine(shard.update(op), "creating a payload index")?;
            }
        }
        Ok(Self {
            shard: Arc::new(shard),
            collection,
        })
    }

    pub fn collection(&self) -> &str {
        &self.collection
    }

    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&EdgeShard) -> anyhow::Result<T> + Send + 'static,
    ) -> anyhow::Result<T> {
        let shard = self.shard.clone();
        tokio::task::spawn_blocking(move || f(&shard)).await?
    }

    pub async fn upsert(
        &self,
        workspace: WorkspaceId,
        chunks: Vec<ChunkPoint>,
    ) -> anyhow::Result<()> {
        let points: Vec<serde_json::Value> = chunks
            .iter()
            .map(|c| {
                let mut vectors = serde_json::Map::new();
                if let Some(dense) = &c.dense {
                    vectors.insert(DENSE_VECTOR.into(), json!(dense));
                }
                if !c.sparse.is_empty() {
                    vectors.insert(
                        SPARSE_VECTOR.into(),
                        json!({"indices": c.sparse.indices, "values": c.sparse.values}),
                    );
                }
                json!({
                    "id": point_id(c.document_id, c.version, c.chunk_index).to_string(),
                    "vector": vectors,
                    "payload": payload(workspace, c),
                })
            })
            .collect();
        let op: UpdateOperation = from_json(json!({ "upsert_points": { "points": points } }))?;
        self.blocking(move |shard| engine(shard.update(op), "upserting points"))
            .await
    }

    /// The same query as the Qdrant adapter's: one branch, or a dense and a sparse prefetch fused by
    /// reciprocal rank fusion, every branch filtered to the tenant.
    pub async fn search(&self, query: VectorQuery) -> anyhow::Result<Vec<SearchHit>> {
        let tenant = must_match(&[(WORKSPACE_KEY, query.workspace.to_string())])?;
        let prefetch = usize::try_from(query.prefetch_limit()).unwrap_or(usize::MAX);
        let limit = usize::try_from(query.limit).unwrap_or(usize::MAX);
        let threshold = query.score_threshold.map(ordered_float);
        let dense = query.dense.map(|v| {
            ScoringQuery::Vector(QueryEnum::Nearest(NamedQuery::new(
                VectorInternal::Dense(v),
                DENSE_VECTOR,
            )))
        });
        let sparse = match query.sparse.filter(|s| !s.is_empty()) {
            Some(s) => Some(ScoringQuery::Vector(QueryEnum::Nearest(NamedQuery::new(
                VectorInternal::Sparse(
                    SparseVector::new(s.indices, s.values)
                        .map_err(|e| anyhow!("embedded vector store: a bad sparse vector: {e}"))?,
                ),
                SPARSE_VECTOR,
            )))),
            None => None,
        };
        let branch = |query: ScoringQuery, threshold| Prefetch {
            prefetches: Vec::new(),
            query: Some(query),
            limit: prefetch,
            params: None,
            filter: Some(tenant.clone()),
            score_threshold: threshold,
        };
        let (prefetches, query, threshold) = match (dense, sparse) {
            (Some(d), Some(s)) => (
                vec![branch(d, threshold), branch(s, None)],
                ScoringQuery::Fusion(Fusion::Rrf {
                    k: RRF_K as usize,
                    weights: None,
                }),
                None,
            ),
            (Some(d), None) => (Vec::new(), d, threshold),
            (None, Some(s)) => (Vec::new(), s, None),
            (None, None) => return Ok(Vec::new()),
        };
        let request = QueryRequest {
            prefetches,
            query: Some(query),
            filter: Some(tenant.clone()),
            score_threshold: threshold,
            limit,
            offset: 0,
            params: None,
            with_vector: WithVector::Bool(false),
            with_payload: WithPayloadInterface::Bool(true),
        };
        let points = self
            .blocking(move |shard| engine(shard.query(request), "searching"))
            .await?;
        Ok(points
            .into_iter()
            .filter_map(|p| {
                let payload = serde_json::to_value(p.payload?).ok()?;
                hit_from_payload(&payload, p.score)
            })
            .collect())
    }

    /// Deletes one document's points, or (`None`) every point of the workspace.
    pub async fn delete(
        &self,
        workspace: WorkspaceId,
        document: Option<Uuid>,
    ) -> anyhow::Result<()> {
        let mut pairs = vec![(WORKSPACE_KEY, workspace.to_string())];
        if let Some(d) = document {
            pairs.push((DOCUMENT_KEY, d.to_string()));
        }
        let filter = must_match(&pairs)?;
        let op: UpdateOperation = from_json(json!({ "delete_points_by_filter": filter }))?;
        self.blocking(move |shard| engine(shard.update(op), "deleting points"))
            .await
    }

    /// Deletes one document's points of versions before `current` (a point without a version is of 1).
    pub async fn delete_versions_before(
        &self,
        workspace: WorkspaceId,
        document: Uuid,
        current: u32,
    ) -> anyhow::Result<()> {
        let filter: Filter = from_json(json!({
            "must": [
                {"key": WORKSPACE_KEY, "match": {"value": workspace.to_string()}},
                {"key": DOCUMENT_KEY, "match": {"value": document.to_string()}},
            ],
            // Not (version >= current): older versions, and points written before versions existed.
            "must_not": [{"key": VERSION_KEY, "range": {"gte": current}}],
        }))?;
        let op: UpdateOperation = from_json(json!({ "delete_points_by_filter": filter }))?;
        self.blocking(move |shard| engine(shard.update(op), "deleting old versions' points"))
            .await
    }

    pub async fn count(
        &self,
        workspace: WorkspaceId,
        document: Option<Uuid>,
    ) -> anyhow::Result<u64> {
        let mut pairs = vec![(WORKSPACE_KEY, workspace.to_string())];
        if let Some(d) = document {
            pairs.push((DOCUMENT_KEY, d.to_string()));
        }
        let request: CountRequest =
            from_json(json!({ "filter": must_match(&pairs)?, "exact": true }))?;
        let n = self
            .blocking(move |shard| engine(shard.count(request), "counting"))
            .await?;
        Ok(n as u64)
    }
}
