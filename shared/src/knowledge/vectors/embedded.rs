//! The embedded vector store: Qdrant's own engine in-process (`qdrant-edge`), persisted under a local
//! directory, with the server's payload filter semantics. Local use only (devserver, tests): the crate
//! feature `embedded-vectors` keeps it out of the Lambda binaries.
//!
//! Operations are built from the same JSON shapes as Qdrant's REST API (filters, points, indexes), and
//! the engine's API is synchronous, so every call runs on a blocking thread.

use super::{
    ChunkPoint, DOCUMENT_KEY, SearchHit, VERSION_KEY, VectorQuery, WORKSPACE_KEY, hit_from_payload,
    payload, point_id,
};
use crate::ids::WorkspaceId;
use anyhow::{Context, anyhow};
use qdrant_edge::{
    CountRequest, EdgeConfig, EdgeShard, Filter, NamedQuery, QueryEnum, SearchRequest,
    UpdateOperation, WithPayloadInterface,
};
use serde_json::json;
use std::path::Path;
use std::sync::Arc;
use uuid::Uuid;

#[derive(Clone)]
pub struct EmbeddedStore {
    shard: Arc<EdgeShard>,
}

impl std::fmt::Debug for EmbeddedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedStore")
            .field("path", &self.shard.path())
            .finish()
    }
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
    /// Opens the store under `dir`, creating it (cosine, `dimensions`, keyword indexes on the tenant and
    /// document ids) the first time.
    pub fn open(dir: &Path, dimensions: u32) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let config: EdgeConfig = from_json(json!({
            "vectors": { "": { "size": dimensions, "distance": "Cosine" } }
        }))?;
        let existing = match EdgeConfig::load(dir) {
            None => None,
            Some(loaded) => Some(engine(loaded, "reading its configuration")?),
        };
        let fresh = existing.is_none();
        if let Some(existing) = &existing {
            let size = existing.vectors.get("").map(|v| v.size);
            if size != Some(dimensions as usize) {
                anyhow::bail!(
                    "the vectors in {} have {size:?} dimensions but the embedder makes {dimensions}: remove the directory (VECTOR_DATA_DIR) or change the embedder back",
                    dir.display()
                );
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
        })
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
                json!({
                    "id": point_id(c.document_id, c.version, c.chunk_index).to_string(),
                    "vector": c.vector,
                    "payload": payload(workspace, c),
                })
            })
            .collect();
        let op: UpdateOperation = from_json(json!({ "upsert_points": { "points": points } }))?;
        self.blocking(move |shard| engine(shard.update(op), "upserting points"))
            .await
    }

    pub async fn search(&self, query: VectorQuery) -> anyhow::Result<Vec<SearchHit>> {
        let VectorQuery {
            workspace,
            vector,
            limit,
            score_threshold,
        } = query;
        let filter = must_match(&[(WORKSPACE_KEY, workspace.to_string())])?;
        let request = SearchRequest {
            query: QueryEnum::Nearest(NamedQuery::default_dense(vector)),
            filter: Some(filter),
            params: None,
            limit: usize::try_from(limit).unwrap_or(usize::MAX),
            offset: 0,
            with_payload: Some(WithPayloadInterface::Bool(true)),
            with_vector: None,
            score_threshold,
        };
        let points = self
            .blocking(move |shard| engine(shard.search(request), "searching"))
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
