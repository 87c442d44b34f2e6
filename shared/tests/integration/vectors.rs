//! The vector-store suite: the same checks against the embedded engine and, when `QDRANT_URL` is set,
//! against a real Qdrant server.

use studio::WorkspaceId;
use studio::knowledge::bm25::SparseVector;
use studio::knowledge::vectors::Layout;
use studio::knowledge::{ChunkPoint, VectorQuery, VectorStore};
use studio_testing::TempDir;
use uuid::Uuid;

const DIM: u32 = 8;

fn query(
    workspace: WorkspaceId,
    vector: Vec<f32>,
    limit: u64,
    score_threshold: Option<f32>,
) -> VectorQuery {
    VectorQuery {
        workspace,
        dense: Some(vector),
        sparse: None,
        limit,
        score_threshold,
    }
}

/// A sparse vector of one term.
fn term(t: u32, weight: f32) -> SparseVector {
    SparseVector {
        indices: vec![t],
        values: vec![weight],
    }
}

fn sparse_query(
    workspace: WorkspaceId,
    sparse: SparseVector,
    dense: Option<Vec<f32>>,
) -> VectorQuery {
    VectorQuery {
        workspace,
        dense,
        sparse: Some(sparse),
        limit: 10,
        score_threshold: None,
    }
}

fn unit(i: usize) -> Vec<f32> {
    let mut v = vec![0.0; DIM as usize];
    v[i % DIM as usize] = 1.0;
    v
}

fn chunk(doc: Uuid, index: u32, vector: Vec<f32>) -> ChunkPoint {
    ChunkPoint {
        document_id: doc,
        chunk_index: index,
        title: format!("doc {doc}"),
        text: format!("chunk {index}"),
        // Where a chunk sits, as a PDF's and a Markdown document's chunks say it.
        section: (index == 1).then(|| "Returns › Refunds".to_owned()),
        page: (index == 1).then_some(7),
        version: 1,
        dense: Some(vector),
        // Each chunk has the term of its index, and term 100 in common.
        sparse: SparseVector {
            indices: vec![index, 100],
            values: vec![1.0, 0.1],
        },
    }
}

async fn suite(store: &VectorStore) {
    let a = WorkspaceId::from_trusted_source(Uuid::now_v7());
    let b = WorkspaceId::from_trusted_source(Uuid::now_v7());
    let (doc_a1, doc_a2, doc_b) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    store
        .upsert(
            a,
            vec![chunk(doc_a1, 0, unit(0)), chunk(doc_a1, 1, unit(1))],
        )
        .await
        .unwrap();
    store
        .upsert(a, vec![chunk(doc_a2, 0, unit(2))])
        .await
        .unwrap();
    // Workspace B holds a chunk identical to one of A's.
    store
        .upsert(b, vec![chunk(doc_b, 0, unit(0))])
        .await
        .unwrap();

    // A search in B never returns A's chunks, even the identical one.
    let hits = store.search(query(b, unit(0), 10, None)).await.unwrap();
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert_eq!(hits[0].document_id, doc_b);
    assert!((hits[0].score - 1.0).abs() < 1e-4);

    // Ranked, limited, thresholded, with the payload read back.
    let hits = store.search(query(a, unit(1), 2, None)).await.unwrap();
    assert_eq!(hits.len(), 2);
    assert_eq!(
        (
            hits[0].document_id,
            hits[0].chunk_index,
            hits[0].text.as_str()
        ),
        (doc_a1, 1, "chunk 1")
    );
    assert_eq!(
        (hits[0].section.as_deref(), hits[0].page),
        (Some("Returns › Refunds"), Some(7)),
        "where the chunk sits is read back"
    );
    assert_eq!((hits[1].section.as_deref(), hits[1].page), (None, None));
    assert!(hits[0].score >= hits[1].score);
    let strict = store
        .search(query(a, unit(1), 10, Some(0.5)))
        .await
        .unwrap();
    assert_eq!(strict.len(), 1);

    // BM25 alone: the chunk with the term, scored by the dot product; another workspace's chunk with the
    // same term never appears.
    let hits = store
        .search(sparse_query(a, term(1, 2.0), None))
        .await
        .unwrap();
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert_eq!((hits[0].document_id, hits[0].chunk_index), (doc_a1, 1));
    assert!((hits[0].score - 2.0).abs() < 1e-4, "{}", hits[0].score);
    let hits = store
        .search(sparse_query(b, term(1, 2.0), None))
        .await
        .unwrap();
    assert!(hits.is_empty(), "B has no chunk with term 1: {hits:?}");

    // Hybrid: both branches fused; another workspace's match never reaches the fusion. B's chunk is
    // identical to A's first (term 0, unit 0): without the tenant filter on each branch it would rank
    // at the top of both.
    let hits = store
        .search(sparse_query(a, term(0, 1.0), Some(unit(0))))
        .await
        .unwrap();
    let found: Vec<(uuid::Uuid, u32)> = hits
        .iter()
        .map(|h| (h.document_id, h.chunk_index))
        .collect();
    assert!(
        !found.iter().any(|(d, _)| *d == doc_b),
        "another tenant's sparse hit: {found:?}"
    );
    assert_eq!(
        found[0],
        (doc_a1, 0),
        "in both branches' top: ranked first by the fusion ({found:?})"
    );
    assert!(
        found.contains(&(doc_a2, 0)),
        "the sparse-only hit is fused in: {found:?}"
    );
    // The cosine threshold bounds the dense branch only: a sparse match survives it.
    let mut strict_hybrid = sparse_query(a, term(1, 1.0), Some(unit(5)));
    strict_hybrid.score_threshold = Some(0.9);
    let hits = store.search(strict_hybrid).await.unwrap();
    assert_eq!(hits.len(), 1, "only the BM25 match: {hits:?}");
    assert_eq!(hits[0].chunk_index, 1);

    // Reprocessing the same chunks creates no duplicates.
    store
        .upsert(
            a,
            vec![chunk(doc_a1, 0, unit(0)), chunk(doc_a1, 1, unit(1))],
        )
        .await
        .unwrap();
    assert_eq!(store.count(a, None).await.unwrap(), 3);
    assert_eq!(store.count(a, Some(doc_a1)).await.unwrap(), 2);

    // A new version's points sit beside the current one's (their own ids); after the swap the older
    // versions' points go, and only this document's.
    let mut v2 = chunk(doc_a2, 0, unit(3));
    v2.version = 2;
    store.upsert(a, vec![v2]).await.unwrap();
    assert_eq!(
        store.count(a, Some(doc_a2)).await.unwrap(),
        2,
        "both versions stored"
    );
    let hits = store.search(query(a, unit(3), 1, None)).await.unwrap();
    assert_eq!(
        (hits[0].document_id, hits[0].version),
        (doc_a2, 2),
        "a hit says its version"
    );
    store.delete_versions_before(a, doc_a2, 2).await.unwrap();
    assert_eq!(store.count(a, Some(doc_a2)).await.unwrap(), 1);
    assert_eq!(
        store.count(a, Some(doc_a1)).await.unwrap(),
        2,
        "other documents untouched"
    );
    let hits = store.search(query(a, unit(2), 10, None)).await.unwrap();
    assert!(
        hits.iter()
            .filter(|h| h.document_id == doc_a2)
            .all(|h| h.version == 2)
    );
    store.delete_versions_before(b, doc_a1, 5).await.unwrap();
    assert_eq!(
        store.count(a, Some(doc_a1)).await.unwrap(),
        2,
        "scoped to its workspace"
    );

    // Deleting a document removes its vectors only, and only in its workspace: neither its dense nor its
    // sparse vectors are found afterwards.
    store.delete_document(a, doc_a1).await.unwrap();
    assert!(
        store
            .search(sparse_query(a, term(1, 1.0), None))
            .await
            .unwrap()
            .is_empty(),
        "no sparse trace"
    );
    assert!(
        store
            .search(query(a, unit(1), 10, Some(0.99)))
            .await
            .unwrap()
            .is_empty(),
        "no dense trace"
    );
    assert_eq!(store.count(a, Some(doc_a1)).await.unwrap(), 0);
    assert_eq!(store.count(a, None).await.unwrap(), 1);
    store.delete_document(a, doc_b).await.unwrap();
    assert_eq!(
        store.count(b, None).await.unwrap(),
        1,
        "a delete scoped to A cannot touch B's document"
    );
    assert!(
        store
            .search(query(a, unit(0), 10, Some(0.9)))
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn when_the_embedded_engine_is_used_the_vector_store_suite_passes_and_data_survives_a_reopen()
{
    let dir = TempDir::new("vectors-suite");
    let store = VectorStore::embedded(dir.path_str(), Some(DIM)).unwrap();
    suite(&store).await;
    let ws = WorkspaceId::from_trusted_source(Uuid::now_v7());
    store
        .upsert(ws, vec![chunk(Uuid::now_v7(), 0, unit(3))])
        .await
        .unwrap();
    drop(store);
    // The engine releases its WAL lock from a background thread shortly after the last handle goes.
    let mut reopened = VectorStore::embedded(dir.path_str(), Some(DIM));
    for _ in 0..50 {
        if reopened.is_ok() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        reopened = VectorStore::embedded(dir.path_str(), Some(DIM));
    }
    let reopened = reopened.unwrap();
    assert_eq!(reopened.count(ws, None).await.unwrap(), 1);
    drop(reopened);
    // Another embedder's store is refused as a configuration error, naming both sizes.
    let mut err = VectorStore::embedded(dir.path_str(), Some(DIM * 2)).expect_err("refused");
    for _ in 0..50 {
        if err.to_string().contains("dimensions") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        err = VectorStore::embedded(dir.path_str(), Some(DIM * 2)).expect_err("refused");
    }
    assert!(
        err.downcast_ref::<studio::knowledge::vectors::Misconfigured>()
            .is_some(),
        "{err:#}"
    );
    assert!(
        err.to_string().contains("Some(8)") && err.to_string().contains("Some(16)"),
        "{err}"
    );
}

#[tokio::test]
async fn when_there_is_no_dense_embedder_the_store_holds_and_searches_bm25_alone() {
    let dir = TempDir::new("vectors-bm25");
    let store = VectorStore::embedded(dir.path_str(), None).unwrap();
    let ws = WorkspaceId::from_trusted_source(Uuid::now_v7());
    let other = WorkspaceId::from_trusted_source(Uuid::now_v7());
    let doc = Uuid::now_v7();
    let bm25_only = |doc| {
        let mut chunks = vec![chunk(doc, 0, vec![]), chunk(doc, 1, vec![])];
        for c in &mut chunks {
            c.dense = None;
        }
        chunks
    };
    store.upsert(ws, bm25_only(doc)).await.unwrap();
    store
        .upsert(other, bm25_only(Uuid::now_v7()))
        .await
        .unwrap();
    let hits = store
        .search(sparse_query(ws, term(100, 1.0), None))
        .await
        .unwrap();
    assert_eq!(hits.len(), 2, "{hits:?}");
    assert!(hits.iter().all(|h| h.document_id == doc));
    store.delete_document(ws, doc).await.unwrap();
    assert!(
        store
            .search(sparse_query(ws, term(100, 1.0), None))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store.count(other, None).await.unwrap(),
        2,
        "the other tenant's untouched"
    );
}

#[tokio::test]
async fn when_qdrant_url_is_set_the_vector_store_suite_passes_against_the_server() {
    let Ok(url) = std::env::var("QDRANT_URL") else {
        eprintln!(
            "SKIPPED: QDRANT_URL is not set; the Qdrant adapter was not run against a real server (its requests are tested as plain functions)"
        );
        return;
    };
    let collection = format!("studio_test_{}", Uuid::new_v4().simple());
    let api_key = std::env::var("QDRANT_API_KEY")
        .ok()
        .map(secrecy::SecretString::from);
    let store = studio::knowledge::vectors::qdrant::QdrantStore::connect(
        &url,
        api_key.as_ref(),
        Layout {
            collection,
            dense_dimensions: Some(DIM),
        },
    )
    .await
    .unwrap();
    // The collection is created on first use.
    suite(&VectorStore::Qdrant(store)).await;
}

#[tokio::test]
async fn when_qdrant_is_configured_the_cold_start_does_not_wait_on_it_and_first_use_says_what_failed()
 {
    let mut src = studio_testing::source("postgres://unused@127.0.0.1/unused");
    src.set("QDRANT_URL", "http://127.0.0.1:9");
    let cfg = studio::Config::from_source(&src).unwrap();
    // Nothing listens on port 9: building the store must not need it.
    let store = VectorStore::from_config(&cfg.knowledge, Some(("m", DIM)))
        .await
        .unwrap();
    assert_eq!(
        store.collection(),
        "kb_chunks_m_8",
        "named by model and dimensions"
    );
    let ws = studio::WorkspaceId::from_trusted_source(Uuid::now_v7());
    let err = store
        .search(query(ws, vec![0.0; DIM as usize], 5, None))
        .await
        .unwrap_err();
    assert!(
        format!("{err:#}").contains("checking the Qdrant collection"),
        "{err:#}"
    );
}
