//! End-to-end ingestion benchmark on the devserver's stack: 1,000 documents of ~5 KB from
//! `POST /api/v1/agents/ingest` (10 requests of 100) to all searchable, with the offline embedder, the
//! embedded vector engine and the in-process worker, against the local PostgreSQL.
//!
//! Run: `cargo run --profile bench -p devserver --example ingest_bench` (see BENCHMARKS.md).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::json;
use std::time::{Duration, Instant};
use studio::knowledge::{Embedder, Queue, VectorStore};
use studio::state::KnowledgeState;
use studio_testing::{TestApp, TestDb, state};

const DOCUMENTS: usize = 1000;
const PER_REQUEST: usize = 100;

fn document(i: usize) -> serde_json::Value {
    // ~5 KB of varied prose per document.
    let mut text = format!("# Policy {i}\n\n");
    let mut n = 0;
    while text.len() < 5 * 1024 {
        text.push_str(&format!(
            "Customers asking about topic {i}-{n} should be told that orders ship within {} days, refunds take {} days, and support answers within {} hours. ",
            (i + n) % 7 + 1,
            (i * 3 + n) % 10 + 1,
            (n * 5 + i) % 24 + 1
        ));
        n += 1;
        if n % 6 == 0 {
            text.push_str("\n\n");
        }
    }
    json!({"title": format!("Policy {i}"), "content": text, "contentType": "text/markdown"})
}

#[tokio::main]
async fn main() {
    let db = TestDb::new().await;
    let app_state = state(&db.url);
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    // The worker task holds the store until the runtime shuts down, after `main`'s locals are gone: keep
    // its directory out of any drop guard (the next run clears it).
    let dir = std::env::temp_dir().join("studio-ingest-bench-vectors");
    let _ = std::fs::remove_dir_all(&dir);
    let vectors = VectorStore::embedded(
        dir.to_str().unwrap(),
        Some(Embedder::offline().dimensions()),
    )
    .unwrap();
    let k = KnowledgeState {
        app: app_state.clone(),
        embedder: Embedder::offline(),
        llm: studio::knowledge::Llm::offline(),
        vectors,
        queue: Queue::Local(tx),
        files: None,
        crawl: None,
        previous: None,
    };
    devserver::spawn_local_worker(k.clone(), rx);
    let app = TestApp::with_state(
        devserver::routes(k.clone()).unwrap(),
        app_state,
        db.url.clone(),
    );
    let user = app.user("Bench").await;
    app.sql()
        .await
        .execute(
            "UPDATE workspaces SET plan = 'business' WHERE id = $1",
            &[&user.workspace_id],
        )
        .await
        .unwrap();
    let bodies: Vec<serde_json::Value> = (0..DOCUMENTS / PER_REQUEST)
        .map(|r| json!({"documents": (0..PER_REQUEST).map(|i| document(r * PER_REQUEST + i)).collect::<Vec<_>>()}))
        .collect();

    let started = Instant::now();
    let mut ingestions = Vec::new();
    for body in bodies {
        let res = app
            .post("/api/v1/agents/ingest", Some(&user.access_token), body)
            .await;
        assert_eq!(res.status, http::StatusCode::ACCEPTED, "{}", res.body);
        ingestions.push(res.str("/ingestionId"));
    }
    let accepted = started.elapsed();
    loop {
        let mut done = true;
        for id in &ingestions {
            let s = app
                .get(
                    &format!("/api/v1/agents/ingest/{id}"),
                    Some(&user.access_token),
                )
                .await;
            if s.body["status"] != "completed" {
                assert_ne!(s.body["status"], "failed", "{}", s.body);
                done = false;
                break;
            }
        }
        if done {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "not done after 5 minutes"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let total = started.elapsed();
    let hits = app
        .post(
            "/api/v1/agents/search",
            Some(&user.access_token),
            json!({"query": "refunds take days", "limit": 5}),
        )
        .await;
    assert_eq!(hits.body.as_array().map(Vec::len), Some(5));
    let chunks: i64 = app
        .sql()
        .await
        .query_one("SELECT sum(chunk_count)::bigint FROM kb_documents", &[])
        .await
        .unwrap()
        .get(0);
    let requests = k.embedder.requests() - 1; // the search above embedded its query
    println!("documents: {DOCUMENTS} (~5 KB each), chunks: {chunks}");
    println!("accepted (10 POSTs): {:.2} s", accepted.as_secs_f64());
    println!(
        "POST /ingest -> all searchable: {:.2} s (target <= 10 s)",
        total.as_secs_f64()
    );
    println!(
        "embedding requests: {requests} ({:.1} per 1,000 chunks)",
        requests as f64 * 1000.0 / chunks as f64
    );
}
