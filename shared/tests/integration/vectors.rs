//! The vector-store suite: the same checks against the embedded engine and, when `QDRANT_URL` is set,
//! against a real Qdrant server.

use studio::WorkspaceId;
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
        vector,
        limit,
        score_threshold,
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
        vector,
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

    // Deleting a document removes its vectors only, and only in its workspace.
    store.delete_document(a, doc_a1).await.unwrap();
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
    let store = VectorStore::embedded(dir.path_str(), DIM).unwrap();
    suite(&store).await;
    let ws = WorkspaceId::from_trusted_source(Uuid::now_v7());
    store
        .upsert(ws, vec![chunk(Uuid::now_v7(), 0, unit(3))])
        .await
        .unwrap();
    drop(store);
    // The engine releases its WAL lock from a background thread shortly after the last handle goes.
    let mut reopened = VectorStore::embedded(dir.path_str(), DIM);
    for _ in 0..50 {
        if reopened.is_ok() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        reopened = VectorStore::embedded(dir.path_str(), DIM);
    }
    let reopened = reopened.unwrap();
    assert_eq!(reopened.count(ws, None).await.unwrap(), 1);
    let err =
        VectorStore::embedded(dir.path_str(), DIM * 2).expect_err("dimension mismatch is refused");
    assert!(err.to_string().contains("dimensions"), "{err}");
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
        &collection,
        DIM,
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
    let store = VectorStore::from_config(&cfg.knowledge, DIM).await.unwrap();
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
