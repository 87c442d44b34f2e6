//! A chat turn's own overhead: the database (config, history, two messages in a transaction), the vector
//! search and the prompt building — with the offline embedder and the offline LLM standing in for the
//! embedding and LLM calls (both are pure, in-process and cheap), through the real router.
//!
//! Run: `cargo bench -p agents-api --bench chat` (PostgreSQL at TEST_DATABASE_URL). Target: ≤ 5 ms p50.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use axum::Router;
use axum::body::Body;
use criterion::{Criterion, criterion_group, criterion_main};
use http::{Request, StatusCode};
use serde_json::json;
use studio::knowledge::Embedder;
use studio::knowledge::queue::IngestMessage;
use studio::services::knowledge::process_ingestion;
use studio_testing::{knowledge_app, local_queue};
use tower::ServiceExt;

/// One turn through the router, as the holder of `token`, with the JSON `body`; it must answer 200.
async fn run_turn(router: Router, token: String, body: String) {
    let req = Request::post("/api/v1/agents/customer-service/run")
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {token}"))
        .body(Body::from(body))
        .unwrap();
    assert_eq!(router.oneshot(req).await.unwrap().status(), StatusCode::OK);
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let (queue, mut rx) = local_queue();
    let (app, k) = rt.block_on(knowledge_app(
        Embedder::offline(),
        queue,
        agents_api::routes(),
    ));
    let user = rt.block_on(app.user("Bench"));
    // Thousands of turns: the business plan's quota, not the free one's, applies.
    rt.block_on(async {
        studio_testing::set_plan(&app, user.workspace_id, studio::billing::Plan::Business).await;
    });
    // A knowledge base of 200 documents to search in.
    rt.block_on(async {
        for batch in 0..2 {
            let docs: Vec<_> = (0..100)
                .map(|i| json!({"title": format!("Policy {batch}-{i}"), "content": format!("Orders of type {i} ship in {} days and refunds take {} days.", i % 7 + 1, i % 10 + 1)}))
                .collect();
            app.post("/api/v1/agents/ingest", Some(&user.access_token), json!({"documents": docs})).await;
        }
        while let Ok(body) = rx.try_recv() {
            let msg: IngestMessage = serde_json::from_str(&body).unwrap();
            process_ingestion(&k, &msg, false).await.unwrap();
        }
    });
    // 50 ongoing conversations of 10 turns (20 messages) each; each iteration continues the next one, as
    // concurrent customers would (hammering one row thousands of times a second measures vacuum, not us).
    let convs: Vec<String> = rt.block_on(async {
        let mut convs = Vec::new();
        for c in 0..50 {
            let mut conv: Option<String> = None;
            for t in 0..10 {
                let mut body = json!({"message": format!("Customer {c} question {t} about shipping and refunds")});
                if let Some(id) = &conv {
                    body["convId"] = json!(id);
                }
                conv = Some(app.post("/api/v1/agents/customer-service/run", Some(&user.access_token), body).await.str("/convId"));
            }
            convs.push(conv.unwrap());
        }
        convs
    });
    let bodies: Vec<String> = convs
        .iter()
        .map(|conv| {
            json!({"message": "How long do refunds take for orders of type 3?", "convId": conv})
                .to_string()
        })
        .collect();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut group = c.benchmark_group("chat_turn");
    group.sample_size(50);
    group.bench_function("run_overhead_ongoing_conversation", |b| {
        b.to_async(&rt).iter(|| {
            let body = bodies
                [next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % bodies.len()]
            .clone();
            run_turn(app.router.clone(), user.access_token.clone(), body)
        })
    });
    let fresh = json!({"message": "How long do refunds take for orders of type 3?"}).to_string();
    group.bench_function("run_overhead_new_conversation", |b| {
        b.to_async(&rt)
            .iter(|| run_turn(app.router.clone(), user.access_token.clone(), fresh.clone()))
    });
    let ws = studio::WorkspaceId::from_trusted_source(user.workspace_id);
    let query = studio::knowledge::VectorQuery {
        workspace: ws,
        dense: Some(studio::knowledge::embedder::offline_vector(
            "How long do refunds take for orders of type 3?",
            256,
        )),
        sparse: None,
        limit: 5,
        score_threshold: None,
    };
    group.bench_function("vector_search_only", |b| {
        b.to_async(&rt).iter(|| {
            let k = k.clone();
            let query = query.clone();
            async move { k.vectors.search(query).await.unwrap() }
        })
    });
    group.finish();
}

criterion_group!(chat, bench);
criterion_main!(chat);
