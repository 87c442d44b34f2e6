//! The Qdrant adapter: a thin translation to qdrant-client. The requests are built by plain functions,
//! tested on their own; the shared vector-store suite runs against a real server when `QDRANT_URL` is set.

use super::{
    ChunkPoint, DENSE_VECTOR, DOCUMENT_KEY, Layout, Misconfigured, RRF_K, SPARSE_VECTOR, SearchHit,
    VERSION_KEY, VectorQuery, WORKSPACE_KEY, hit_from_payload, payload, point_id,
};
use crate::ids::WorkspaceId;
use anyhow::Context;
use qdrant_client::Qdrant;
use qdrant_client::qdrant::{
    Condition, CountPointsBuilder, CreateCollectionBuilder, CreateFieldIndexCollectionBuilder,
    DeletePointsBuilder, Distance, FieldType, Filter, KeywordIndexParamsBuilder, NamedVectors,
    PointStruct, PrefetchQueryBuilder, Query, QueryPointsBuilder, Rrf, ScoredPoint,
    SparseVectorParamsBuilder, SparseVectorsConfigBuilder, UpsertPointsBuilder, Vector,
    VectorInput, VectorParamsBuilder, VectorsConfigBuilder,
};
use secrecy::{ExposeSecret, SecretString};
use uuid::Uuid;

#[derive(Clone)]
pub struct QdrantStore {
    client: std::sync::Arc<Qdrant>,
    layout: Layout,
    /// The collection is checked (and created) on first use, not at cold start: init waits on no network
    /// but the secret fetch. A failed check is retried by the next call.
    ready: std::sync::Arc<tokio::sync::OnceCell<()>>,
}

impl std::fmt::Debug for QdrantStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QdrantStore")
            .field("collection", &self.layout.collection)
            .finish()
    }
}

/// Only this workspace's points.
pub fn tenant_filter(workspace: WorkspaceId) -> Filter {
    Filter::must([Condition::matches(WORKSPACE_KEY, workspace.to_string())])
}

/// One document's points, within its workspace.
pub fn document_filter(workspace: WorkspaceId, document: Uuid) -> Filter {
    Filter::must([
        Condition::matches(WORKSPACE_KEY, workspace.to_string()),
        Condition::matches(DOCUMENT_KEY, document.to_string()),
    ])
}

/// One document's points of versions before `current` (a point without a version is of version 1).
pub fn older_versions_filter(workspace: WorkspaceId, document: Uuid, current: u32) -> Filter {
    Filter {
        must: document_filter(workspace, document).must,
        must_not: vec![Condition::range(
            VERSION_KEY,
            qdrant_client::qdrant::Range {
                gte: Some(f64::from(current)),
                ..Default::default()
            },
        )],
        ..Default::default()
    }
}

/// A chunk as a point: its dense vector (if any) and its BM25 terms (if any) under their names.
pub fn to_point(workspace: WorkspaceId, chunk: &ChunkPoint) -> PointStruct {
    let mut vectors = NamedVectors::default();
    if let Some(dense) = &chunk.dense {
        vectors = vectors.add_vector(DENSE_VECTOR, Vector::new_dense(dense.clone()));
    }
    if !chunk.sparse.is_empty() {
        vectors = vectors.add_vector(
            SPARSE_VECTOR,
            Vector::new_sparse(chunk.sparse.indices.clone(), chunk.sparse.values.clone()),
        );
    }
    PointStruct::new(
        point_id(chunk.document_id, chunk.version, chunk.chunk_index).to_string(),
        vectors,
        qdrant_client::Payload::from(payload(workspace, chunk)),
    )
}

/// One Query API call: the dense branch, the sparse branch, or both fused by reciprocal rank fusion —
/// each branch and the fusion filtered to the tenant; the cosine threshold on the dense branch only.
/// `None` when the query has neither vector (nothing can match).
pub fn search_request(collection: &str, query: VectorQuery) -> Option<QueryPointsBuilder> {
    let tenant = tenant_filter(query.workspace);
    let prefetch = query.prefetch_limit();
    let base = QueryPointsBuilder::new(collection)
        .filter(tenant.clone())
        .limit(query.limit)
        .with_payload(true);
    let sparse = query
        .sparse
        .filter(|s| !s.is_empty())
        .map(|s| VectorInput::new_sparse(s.indices, s.values));
    Some(match (query.dense, sparse) {
        (Some(dense), Some(sparse)) => {
            let mut dense_branch = PrefetchQueryBuilder::default()
                .query(Query::new_nearest(dense))
                .using(DENSE_VECTOR)
                .filter(tenant.clone())
                .limit(prefetch);
            if let Some(threshold) = query.score_threshold {
                dense_branch = dense_branch.score_threshold(threshold);
            }
            base.add_prefetch(dense_branch)
                .add_prefetch(
                    PrefetchQueryBuilder::default()
                        .query(Query::new_nearest(sparse))
                        .using(SPARSE_VECTOR)
                        .filter(tenant)
                        .limit(prefetch),
                )
                .query(Query::new_rrf(Rrf {
                    k: Some(RRF_K),
                    weights: Vec::new(),
                }))
        }
        (Some(dense), None) => {
            let request = base.query(Query::new_nearest(dense)).using(DENSE_VECTOR);
            match query.score_threshold {
                Some(threshold) => request.score_threshold(threshold),
                None => request,
            }
        }
        (None, Some(sparse)) => base.query(Query::new_nearest(sparse)).using(SPARSE_VECTOR),
        (None, None) => return None,
    })
}

pub fn hit(point: ScoredPoint) -> Option<SearchHit> {
    let payload: serde_json::Map<String, serde_json::Value> = point
        .payload
        .into_iter()
        .map(|(k, v)| (k, serde_json::Value::from(v)))
        .collect();
    hit_from_payload(&serde_json::Value::Object(payload), point.score)
}

/// The collection: the dense vector (cosine) when the layout has one, and the BM25 sparse vector (no
/// `idf` modifier: the query carries the workspace's own IDF).
pub fn create_collection_request(layout: &Layout) -> CreateCollectionBuilder {
    let mut sparse = SparseVectorsConfigBuilder::default();
    sparse.add_named_vector_params(SPARSE_VECTOR, SparseVectorParamsBuilder::default());
    let request = CreateCollectionBuilder::new(&layout.collection).sparse_vectors_config(sparse);
    match layout.dense_dimensions {
        Some(dimensions) => {
            let mut dense = VectorsConfigBuilder::default();
            dense.add_named_vector_params(
                DENSE_VECTOR,
                VectorParamsBuilder::new(u64::from(dimensions), Distance::Cosine),
            );
            request.vectors_config(dense)
        }
        None => request,
    }
}

/// Whether a Qdrant error says the request does not fit the collection (a vector of another size, a
/// vector name the collection does not have — one made by another embedder, or before hybrid search):
/// the configuration's fault, said as [`Misconfigured`], not an outage.
pub fn misfit(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("vector dimension error")
        || m.contains("wrong input: vector")
        || m.contains("not existing vector name")
        || (m.contains("vector") && m.contains("dimension") && m.contains("expected"))
}

pub fn tenant_index_request(collection: &str) -> CreateFieldIndexCollectionBuilder {
    CreateFieldIndexCollectionBuilder::new(collection, WORKSPACE_KEY, FieldType::Keyword)
        .field_index_params(KeywordIndexParamsBuilder::default().is_tenant(true))
}

impl QdrantStore {
    pub async fn connect(
        url: &str,
        api_key: Option<&SecretString>,
        layout: Layout,
    ) -> anyhow::Result<Self> {
        let client = Qdrant::from_url(url)
            .api_key(api_key.map(|k| k.expose_secret().to_owned()))
            .timeout(std::time::Duration::from_secs(10))
            .skip_compatibility_check()
            .build()
            .with_context(|| format!("connecting to Qdrant at {url}"))?;
        Ok(Self {
            client: std::sync::Arc::new(client),
            layout,
            ready: std::sync::Arc::new(tokio::sync::OnceCell::new()),
        })
    }

    pub fn collection(&self) -> &str {
        &self.layout.collection
    }

    /// A failed request as an error: [`Misconfigured`] when the request does not fit the collection,
    /// else the failure with what was being done.
    fn classify(&self, e: qdrant_client::QdrantError, doing: &'static str) -> anyhow::Error {
        let text = e.to_string();
        if misfit(&text) {
            anyhow::Error::new(Misconfigured {
                collection: self.layout.collection.clone(),
                problem: text,
            })
        } else {
            anyhow::Error::new(e).context(doing)
        }
    }

    /// Checks the collection once per container, on first use.
    async fn ready(&self) -> anyhow::Result<()> {
        self.ready
            .get_or_try_init(|| self.ensure_collection())
            .await
            .map(drop)
    }

    /// Creates the collection if it is missing. An existing one that does not fit the layout fails its
    /// first request as [`Misconfigured`] (never a retried 503: the operator must act).
    pub async fn ensure_collection(&self) -> anyhow::Result<()> {
        let collection = &self.layout.collection;
        if self
            .client
            .collection_exists(collection)
            .await
            .context("checking the Qdrant collection")?
        {
            // Whether it fits is said by the first request that does not (see `misfit`): reading the
            // collection's whole configuration here would link its every message type into each binary.
            return Ok(());
        }
        tracing::info!(collection, dense = ?self.layout.dense_dimensions, "creating the Qdrant collection");
        self.client
            .create_collection(create_collection_request(&self.layout))
            .await?;
        self.client
            .create_field_index(tenant_index_request(collection))
            .await?;
        self.client
            .create_field_index(CreateFieldIndexCollectionBuilder::new(
                collection,
                DOCUMENT_KEY,
                FieldType::Keyword,
            ))
            .await?;
        Ok(())
    }

    pub async fn upsert(
        &self,
        workspace: WorkspaceId,
        chunks: &[ChunkPoint],
    ) -> anyhow::Result<()> {
        self.ready().await?;
        let points: Vec<PointStruct> = chunks.iter().map(|c| to_point(workspace, c)).collect();
        self.client
            .upsert_points(UpsertPointsBuilder::new(self.collection(), points).wait(true))
            .await
            .map_err(|e| self.classify(e, "upserting points into Qdrant"))?;
        Ok(())
    }

    pub async fn search(&self, query: VectorQuery) -> anyhow::Result<Vec<SearchHit>> {
        self.ready().await?;
        let Some(request) = search_request(self.collection(), query) else {
            return Ok(Vec::new());
        };
        let response = self
            .client
            .query(request)
            .await
            .map_err(|e| self.classify(e, "searching Qdrant"))?;
        Ok(response.result.into_iter().filter_map(hit).collect())
    }

    /// Deletes one document's points, or (`None`) every point of the workspace.
    pub async fn delete(
        &self,
        workspace: WorkspaceId,
        document: Option<Uuid>,
    ) -> anyhow::Result<()> {
        self.ready().await?;
        let filter = match document {
            Some(d) => document_filter(workspace, d),
            None => tenant_filter(workspace),
        };
        self.client
            .delete_points(
                DeletePointsBuilder::new(self.collection())
                    .points(filter)
                    .wait(true),
            )
            .await
            .context("deleting points from Qdrant")?;
        Ok(())
    }

    pub async fn delete_versions_before(
        &self,
        workspace: WorkspaceId,
        document: Uuid,
        current: u32,
    ) -> anyhow::Result<()> {
        self.ready().await?;
        self.client
            .delete_points(
                DeletePointsBuilder::new(self.collection())
                    .points(older_versions_filter(workspace, document, current))
                    .wait(true),
            )
            .await
            .context("deleting old versions' points from Qdrant")?;
        Ok(())
    }

    pub async fn count(
        &self,
        workspace: WorkspaceId,
        document: Option<Uuid>,
    ) -> anyhow::Result<u64> {
        self.ready().await?;
        let filter = match document {
            Some(d) => document_filter(workspace, d),
            None => tenant_filter(workspace),
        };
        let response = self
            .client
            .count(
                CountPointsBuilder::new(self.collection())
                    .filter(filter)
                    .exact(true),
            )
            .await
            .context("counting Qdrant points")?;
        Ok(response.result.map_or(0, |r| r.count))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::knowledge::bm25::SparseVector;
    use qdrant_client::qdrant::condition::ConditionOneOf;
    use qdrant_client::qdrant::r#match::MatchValue;

    fn keyword(filter: &Filter) -> Vec<(String, String)> {
        filter
            .must
            .iter()
            .filter_map(|c| match &c.condition_one_of {
                Some(ConditionOneOf::Field(f)) => {
                    match f.r#match.as_ref().and_then(|m| m.match_value.clone()) {
                        Some(MatchValue::Keyword(k)) => Some((f.key.clone(), k)),
                        _ => None,
                    }
                }
                _ => None,
            })
            .collect()
    }

    fn sparse() -> SparseVector {
        SparseVector {
            indices: vec![3, 11],
            values: vec![1.5, 0.2],
        }
    }

    fn query(ws: WorkspaceId, dense: bool, sparse_on: bool) -> VectorQuery {
        VectorQuery {
            workspace: ws,
            dense: dense.then(|| vec![0.1, 0.2]),
            sparse: sparse_on.then(sparse),
            limit: 7,
            score_threshold: Some(0.4),
        }
    }

    #[test]
    fn when_searching_hybrid_both_branches_and_the_fusion_are_filtered_to_the_tenant() {
        let ws = WorkspaceId::from_trusted_source(Uuid::now_v7());
        let request = search_request("kb", query(ws, true, true))
            .expect("a query")
            .build();
        assert_eq!(request.collection_name, "kb");
        assert_eq!(request.limit, Some(7));
        let tenant = vec![(WORKSPACE_KEY.to_owned(), ws.to_string())];
        assert_eq!(
            keyword(request.filter.as_ref().expect("outer filter")),
            tenant
        );
        assert!(
            format!("{:?}", request.query).contains("Rrf")
                && format!("{:?}", request.query).contains("k: Some(60)"),
            "fused: {:?}",
            request.query
        );
        assert_eq!(
            request.score_threshold, None,
            "fused scores have no threshold"
        );
        assert_eq!(request.prefetch.len(), 2);
        let by_name = |name: &str| {
            request
                .prefetch
                .iter()
                .find(|p| p.using.as_deref() == Some(name))
                .unwrap_or_else(|| panic!("a {name} branch"))
        };
        let (dense, bm25) = (by_name(DENSE_VECTOR), by_name(SPARSE_VECTOR));
        for branch in [dense, bm25] {
            assert_eq!(
                keyword(branch.filter.as_ref().expect("branch filter")),
                tenant
            );
            assert_eq!(
                branch.limit,
                Some(50),
                "each branch hands the fusion 50 candidates at least"
            );
        }
        assert_eq!(
            dense.score_threshold,
            Some(0.4),
            "the cosine threshold on the dense branch"
        );
        assert_eq!(bm25.score_threshold, None);
        let sparse_query = format!("{:?}", bm25.query);
        assert!(sparse_query.contains("[3, 11]"), "{sparse_query}");
    }

    #[test]
    fn when_searching_one_mode_the_request_names_its_vector_and_keeps_the_threshold_for_cosine() {
        let ws = WorkspaceId::from_trusted_source(Uuid::now_v7());
        let dense = search_request("kb", query(ws, true, false))
            .expect("q")
            .build();
        assert_eq!(dense.using.as_deref(), Some(DENSE_VECTOR));
        assert_eq!(dense.score_threshold, Some(0.4));
        assert!(dense.prefetch.is_empty());
        assert_eq!(keyword(dense.filter.as_ref().expect("filter")).len(), 1);
        let bm25 = search_request("kb", query(ws, false, true))
            .expect("q")
            .build();
        assert_eq!(bm25.using.as_deref(), Some(SPARSE_VECTOR));
        assert_eq!(bm25.score_threshold, None, "a BM25 score is not a cosine");
        assert_eq!(keyword(bm25.filter.as_ref().expect("filter")).len(), 1);
        assert!(search_request("kb", query(ws, false, false)).is_none());
        // An empty sparse vector is no branch.
        let mut q = query(ws, true, false);
        q.sparse = Some(SparseVector::default());
        assert!(
            search_request("kb", q)
                .expect("q")
                .build()
                .prefetch
                .is_empty()
        );
    }

    #[test]
    fn when_deleting_a_document_the_filter_names_workspace_and_document() {
        let ws = WorkspaceId::from_trusted_source(Uuid::now_v7());
        let doc = Uuid::now_v7();
        let pairs = keyword(&document_filter(ws, doc));
        assert_eq!(
            pairs,
            vec![
                (WORKSPACE_KEY.to_owned(), ws.to_string()),
                (DOCUMENT_KEY.to_owned(), doc.to_string())
            ]
        );
    }

    #[test]
    fn when_a_chunk_becomes_a_point_its_id_is_deterministic_and_its_payload_names_the_tenant() {
        let ws = WorkspaceId::from_trusted_source(Uuid::now_v7());
        let chunk = ChunkPoint::sample(1, "Refunds", "5 days", vec![1.0, 0.0]);
        let a = to_point(ws, &chunk);
        let b = to_point(ws, &chunk);
        assert_eq!(a.id, b.id);
        let vectors = format!("{:?}", a.vectors);
        assert!(
            vectors.contains(DENSE_VECTOR) && vectors.contains(SPARSE_VECTOR),
            "both named vectors: {vectors}"
        );
        let json = serde_json::Value::from(qdrant_client::Payload::from(a.payload));
        assert_eq!(json[WORKSPACE_KEY], ws.to_string());
        assert_eq!(json["chunk_index"], 1);
    }

    #[test]
    fn when_the_collection_is_created_it_has_named_dense_and_bm25_vectors_and_a_tenant_index() {
        let layout = Layout {
            collection: "kb_m_1536".into(),
            dense_dimensions: Some(1536),
        };
        let c = create_collection_request(&layout).build();
        assert_eq!(c.collection_name, "kb_m_1536");
        let index = tenant_index_request("kb").build();
        assert_eq!(index.field_name, WORKSPACE_KEY);
        let debug = format!(
            "{:?} {:?} {:?}",
            c.vectors_config, c.sparse_vectors_config, index.field_index_params
        );
        for part in [
            "\"dense\"",
            "1536",
            "Cosine",
            "\"bm25\"",
            "is_tenant: Some(true)",
        ] {
            assert!(debug.contains(part), "{part} in {debug}");
        }
        assert!(
            !debug.contains("modifier: Some(1)"),
            "no collection-wide idf: {debug}"
        );
        let bm25_only = create_collection_request(&Layout {
            collection: "kb_bm25".into(),
            dense_dimensions: None,
        })
        .build();
        assert!(bm25_only.vectors_config.is_none());
        assert!(bm25_only.sparse_vectors_config.is_some());
    }

    #[test]
    fn when_qdrant_says_a_request_does_not_fit_the_collection_it_is_a_misconfiguration() {
        // Qdrant's own answers for a vector of another size, and for a vector name the collection lacks
        // (a collection made before hybrid search has one unnamed vector).
        for message in [
            "status: InvalidArgument, message: \"Wrong input: Vector dimension error: expected dim: 1536, got 256\"",
            "Wrong input: Not existing vector name error: dense",
        ] {
            assert!(misfit(message), "{message}");
        }
        for message in [
            "status: Unavailable, message: \"error trying to connect: tcp connect error\"",
            "status: NotFound, message: \"Collection `kb` doesn't exist!\"",
            "deadline has elapsed",
        ] {
            assert!(
                !misfit(message),
                "an outage or a bug, not the configuration: {message}"
            );
        }
    }

    #[test]
    fn when_older_versions_are_deleted_the_filter_keeps_the_current_one_and_reaches_unversioned_points()
     {
        let ws = WorkspaceId::from_trusted_source(Uuid::now_v7());
        let doc = Uuid::now_v7();
        let filter = older_versions_filter(ws, doc, 3);
        assert_eq!(
            keyword(&filter),
            vec![
                (WORKSPACE_KEY.to_owned(), ws.to_string()),
                (DOCUMENT_KEY.to_owned(), doc.to_string())
            ]
        );
        // `must_not (version >= 3)`: versions 1 and 2, and points stored before versions (no field).
        let debug = format!("{:?}", filter.must_not);
        assert!(
            debug.contains("\"version\"") && debug.contains("gte: Some(3.0)"),
            "{debug}"
        );
        assert_eq!(filter.must_not.len(), 1);
    }
}
