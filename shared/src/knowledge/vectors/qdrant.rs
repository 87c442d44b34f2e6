//! The Qdrant adapter: a thin translation to qdrant-client. The requests are built by plain functions,
//! tested on their own; the shared vector-store suite runs against a real server when `QDRANT_URL` is set.

use super::{
    ChunkPoint, DOCUMENT_KEY, SearchHit, VERSION_KEY, VectorQuery, WORKSPACE_KEY, hit_from_payload,
    payload, point_id,
};
use crate::ids::WorkspaceId;
use anyhow::Context;
use qdrant_client::Qdrant;
use qdrant_client::qdrant::{
    Condition, CountPointsBuilder, CreateCollectionBuilder, CreateFieldIndexCollectionBuilder,
    DeletePointsBuilder, Distance, FieldType, Filter, KeywordIndexParamsBuilder, PointStruct,
    QueryPointsBuilder, ScoredPoint, UpsertPointsBuilder, VectorParamsBuilder,
};
use secrecy::{ExposeSecret, SecretString};
use uuid::Uuid;

#[derive(Clone)]
pub struct QdrantStore {
    client: std::sync::Arc<Qdrant>,
    collection: String,
    dimensions: u32,
    /// The collection is checked (and created) on first use, not at cold start: init waits on no network
    /// but the secret fetch. A failed check is retried by the next call.
    ready: std::sync::Arc<tokio::sync::OnceCell<()>>,
}

impl std::fmt::Debug for QdrantStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QdrantStore")
            .field("collection", &self.collection)
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

pub fn to_point(workspace: WorkspaceId, chunk: &ChunkPoint) -> PointStruct {
    PointStruct::new(
        point_id(chunk.document_id, chunk.version, chunk.chunk_index).to_string(),
        chunk.vector.clone(),
        qdrant_client::Payload::from(payload(workspace, chunk)),
    )
}

pub fn search_request(collection: &str, query: VectorQuery) -> QueryPointsBuilder {
    let mut request = QueryPointsBuilder::new(collection)
        .query(query.vector)
        .filter(tenant_filter(query.workspace))
        .limit(query.limit)
        .with_payload(true);
    if let Some(threshold) = query.score_threshold {
        request = request.score_threshold(threshold);
    }
    request
}

pub fn hit(point: ScoredPoint) -> Option<SearchHit> {
    let payload: serde_json::Map<String, serde_json::Value> = point
        .payload
        .into_iter()
        .map(|(k, v)| (k, serde_json::Value::from(v)))
        .collect();
    hit_from_payload(&serde_json::Value::Object(payload), point.score)
}

/// The collection: cosine distance, and a keyword tenant index on the workspace id.
pub fn create_collection_request(collection: &str, dimensions: u32) -> CreateCollectionBuilder {
    CreateCollectionBuilder::new(collection).vectors_config(VectorParamsBuilder::new(
        u64::from(dimensions),
        Distance::Cosine,
    ))
}

pub fn tenant_index_request(collection: &str) -> CreateFieldIndexCollectionBuilder {
    CreateFieldIndexCollectionBuilder::new(collection, WORKSPACE_KEY, FieldType::Keyword)
        .field_index_params(KeywordIndexParamsBuilder::default().is_tenant(true))
}

impl QdrantStore {
    pub async fn connect(
        url: &str,
        api_key: Option<&SecretString>,
        collection: &str,
        dimensions: u32,
    ) -> anyhow::Result<Self> {
        let client = Qdrant::from_url(url)
            .api_key(api_key.map(|k| k.expose_secret().to_owned()))
            .timeout(std::time::Duration::from_secs(10))
            .skip_compatibility_check()
            .build()
            .with_context(|| format!("connecting to Qdrant at {url}"))?;
        Ok(Self {
            client: std::sync::Arc::new(client),
            collection: collection.to_owned(),
            dimensions,
            ready: std::sync::Arc::new(tokio::sync::OnceCell::new()),
        })
    }

    /// Checks the collection once per container, on first use.
    async fn ready(&self) -> anyhow::Result<()> {
        self.ready
            .get_or_try_init(|| self.ensure_collection(self.dimensions))
            .await
            .map(drop)
    }

    pub async fn ensure_collection(&self, dimensions: u32) -> anyhow::Result<()> {
        if !self
            .client
            .collection_exists(&self.collection)
            .await
            .context("checking the Qdrant collection")?
        {
            self.client
                .create_collection(create_collection_request(&self.collection, dimensions))
                .await?;
            self.client
                .create_field_index(tenant_index_request(&self.collection))
                .await?;
            self.client
                .create_field_index(CreateFieldIndexCollectionBuilder::new(
                    &self.collection,
                    DOCUMENT_KEY,
                    FieldType::Keyword,
                ))
                .await?;
        }
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
            .upsert_points(UpsertPointsBuilder::new(&self.collection, points).wait(true))
            .await
            .context("upserting points into Qdrant")?;
        Ok(())
    }

    pub async fn search(&self, query: VectorQuery) -> anyhow::Result<Vec<SearchHit>> {
        self.ready().await?;
        let response = self
            .client
            .query(search_request(&self.collection, query))
            .await
            .context("searching Qdrant")?;
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
                DeletePointsBuilder::new(&self.collection)
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
                DeletePointsBuilder::new(&self.collection)
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
                CountPointsBuilder::new(&self.collection)
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

    #[test]
    fn when_searching_the_request_is_filtered_to_the_tenant_with_limit_and_threshold() {
        let ws = WorkspaceId::from_trusted_source(Uuid::now_v7());
        let request = search_request(
            "kb",
            VectorQuery {
                workspace: ws,
                vector: vec![0.1, 0.2],
                limit: 7,
                score_threshold: Some(0.4),
            },
        )
        .build();
        assert_eq!(request.collection_name, "kb");
        assert_eq!(request.limit, Some(7));
        assert_eq!(request.score_threshold, Some(0.4));
        let filter = request.filter.expect("tenant filter");
        assert_eq!(
            keyword(&filter),
            vec![(WORKSPACE_KEY.to_owned(), ws.to_string())]
        );
        assert!(request.with_payload.is_some());
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
        let json = serde_json::Value::from(qdrant_client::Payload::from(a.payload));
        assert_eq!(json[WORKSPACE_KEY], ws.to_string());
        assert_eq!(json["chunk_index"], 1);
    }

    #[test]
    fn when_the_collection_is_created_it_is_cosine_with_a_tenant_index() {
        let c = create_collection_request("kb", 1536).build();
        assert_eq!(c.collection_name, "kb");
        let index = tenant_index_request("kb").build();
        assert_eq!(index.field_name, WORKSPACE_KEY);
        let debug = format!("{:?} {:?}", c.vectors_config, index.field_index_params);
        assert!(
            debug.contains("1536") && debug.contains("is_tenant: Some(true)"),
            "{debug}"
        );
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
