//! A visitor's turn beside a member's, in the same run: the public turn's own overhead — the session
//! check (key, origin, expiry, budgets' caps: one query), every budget in one limiter round trip (IP, key,
//! visitor, the conversation's cap, the visitor's day, the workspace's tokens), the turn, and counting the
//! answer's tokens (a second limiter call) — against `POST /run` (the member's token and membership, its
//! per-IP and per-tenant limits in one limiter round trip, the same turn). Both limiters talk to Upstash's
//! REST protocol over the test Redis (the in-process double), so the round trips are counted on both sides;
//! the offline embedder and LLM stand in for OpenAI (pure, in-process, cheap).
//!
//! Run: `cargo bench -p public-api --bench public_turn` (PostgreSQL at TEST_DATABASE_URL, Redis at
//! TEST_REDIS_URL). Target: the public turn ≤ 1.2× the member's.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use axum::Router;
use axum::body::Body;
use criterion::{Criterion, criterion_group, criterion_main};
use http::{Request, StatusCode};
use serde_json::json;
use studio::knowledge::queue::IngestMessage;
use studio::knowledge::{Embedder, Llm};
use studio::services::knowledge::process_ingestion;
use studio_testing::{UpstashDouble, knowledge_app_with, local_queue, publishable_key};
use tower::ServiceExt;

const SHOP: &str = "https://shop.example.com";

/// One turn through the router at `path` with `headers`; it must answer 200.
async fn turn(
    router: Router,
    path: &'static str,
    headers: Vec<(&'static str, String)>,
    body: String,
) {
    let mut req = Request::post(path).header("content-type", "application/json");
    for (k, v) in headers {
        req = req.header(k, v);
    }
    let res = router
        .oneshot(req.body(Body::from(body)).unwrap())
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let upstash = rt.block_on(UpstashDouble::start());
    let (queue, mut rx) = local_queue();
    let routes = agents_api::routes().merge(public_api::routes());
    // Limits high enough that the run measures their cost, never a refusal.
    let extra = [
        ("UPSTASH_REDIS_REST_URL", upstash.url.as_str()),
        ("UPSTASH_REDIS_REST_TOKEN", upstash.token.as_str()),
        ("RATE_LIMIT_API_PER_IP_PER_MINUTE", "100000000"),
        ("RATE_LIMIT_API_PER_TENANT_PER_MINUTE", "100000000"),
        ("PUBLIC_RATE_PER_IP", "100000000"),
        ("PUBLIC_RATE_PER_KEY", "100000000"),
        ("PUBLIC_RATE_PER_VISITOR", "100000000"),
    ];
    let (app, k) = rt.block_on(knowledge_app_with(
        Embedder::offline(),
        Llm::offline(),
        queue,
        routes,
        &extra,
    ));
    let user = rt.block_on(app.user("Bench"));
    rt.block_on(async {
        studio_testing::set_plan(&app, user.workspace_id, studio::billing::Plan::Business).await;
        studio::repo::widget_settings::upsert(
            &app.sql().await,
            studio::WorkspaceId::from_trusted_source(user.workspace_id),
            &json!({"requireIdentity": false, "autoEscalateWithoutContext": false, "humanWaitMinutes": 10,
                    "budgets": {"messagesPerConversation": 1000, "messagesPerVisitorPerDay": 10000, "workspaceDailyTokens": 100000000}}),
            user.id,
        )
        .await
        .unwrap();
    });
    // The same knowledge base as the chat bench: 200 documents.
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
    let (_, key) = rt.block_on(publishable_key(&app, &user, &[SHOP]));
    // 50 members' and 50 visitors' conversations of 10 turns each; each iteration continues the next one.
    let question = "How long do refunds take for orders of type 3?";
    let (member_bodies, visitors): (Vec<String>, Vec<(String, String)>) = rt.block_on(async {
        let mut member = Vec::new();
        let mut public = Vec::new();
        for c in 0..50 {
            let mut conv: Option<String> = None;
            for t in 0..10 {
                let mut body = json!({"message": format!("Customer {c} question {t} about shipping and refunds")});
                if let Some(id) = &conv {
                    body["convId"] = json!(id);
                }
                conv = Some(app.post("/api/v1/agents/customer-service/run", Some(&user.access_token), body).await.str("/convId"));
            }
            member.push(json!({"message": question, "convId": conv.unwrap()}).to_string());
            let session = app
                .send_with(http::Method::POST, "/api/v1/public/sessions", Some(&key), Some(json!({})), &[("origin", SHOP)])
                .await
                .str("/sessionToken");
            let mut conv: Option<String> = None;
            for t in 0..10 {
                let mut body = json!({"message": format!("Visitor {c} question {t} about shipping and refunds")});
                if let Some(id) = &conv {
                    body["convId"] = json!(id);
                }
                let res = app
                    .send_with(http::Method::POST, "/api/v1/public/messages", Some(&session), Some(body), &[("origin", SHOP)])
                    .await;
                conv = Some(res.str("/convId"));
            }
            public.push((session, json!({"message": question, "convId": conv.unwrap()}).to_string()));
        }
        (member, public)
    });
    // Interleaved: a member's turn, then a visitor's, 600 times, so that the machine's drift over a run
    // (and PostgreSQL's background work) falls on both alike; the medians and their ratio are printed.
    let fresh_body = json!({"message": question}).to_string();
    for (name, ongoing) in [("ongoing conversation", true), ("new conversation", false)] {
        let (mut member, mut visitor) = (Vec::new(), Vec::new());
        rt.block_on(async {
            for i in 0..600 {
                let (session, body) = visitors[i % 50].clone();
                let (mbody, vbody) = if ongoing {
                    (member_bodies[i % 50].clone(), body)
                } else {
                    (fresh_body.clone(), fresh_body.clone())
                };
                let started = std::time::Instant::now();
                turn(
                    app.router.clone(),
                    "/api/v1/agents/customer-service/run",
                    vec![("authorization", format!("Bearer {}", user.access_token))],
                    mbody,
                )
                .await;
                member.push(started.elapsed());
                let started = std::time::Instant::now();
                turn(
                    app.router.clone(),
                    "/api/v1/public/messages",
                    vec![
                        ("authorization", format!("Bearer {session}")),
                        ("origin", SHOP.to_owned()),
                    ],
                    vbody,
                )
                .await;
                visitor.push(started.elapsed());
            }
        });
        member.sort();
        visitor.sort();
        let (m, v) = (member[member.len() / 2], visitor[visitor.len() / 2]);
        let (m90, v90) = (
            member[member.len() * 9 / 10],
            visitor[visitor.len() * 9 / 10],
        );
        eprintln!(
            "interleaved, {name}: member /run p50 {m:.2?} p90 {m90:.2?}; visitor /public/messages p50 {v:.2?} p90 {v90:.2?}; ratio p50 {:.2}",
            v.as_secs_f64() / m.as_secs_f64()
        );
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let pick = || next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % 50;
    let mut group = c.benchmark_group("public_turn");
    group.sample_size(100);
    group.measurement_time(std::time::Duration::from_secs(10));
    let member_auth = || vec![("authorization", format!("Bearer {}", user.access_token))];
    let visitor_auth = |session: &str| {
        vec![
            ("authorization", format!("Bearer {session}")),
            ("origin", SHOP.to_owned()),
        ]
    };
    group.bench_function("member_run_ongoing_conversation", |b| {
        b.to_async(&rt).iter(|| {
            let body = member_bodies[pick()].clone();
            turn(
                app.router.clone(),
                "/api/v1/agents/customer-service/run",
                member_auth(),
                body,
            )
        })
    });
    group.bench_function("visitor_message_ongoing_conversation", |b| {
        b.to_async(&rt).iter(|| {
            let (session, body) = visitors[pick()].clone();
            turn(
                app.router.clone(),
                "/api/v1/public/messages",
                visitor_auth(&session),
                body,
            )
        })
    });
    let fresh = json!({"message": question}).to_string();
    group.bench_function("member_run_new_conversation", |b| {
        b.to_async(&rt).iter(|| {
            turn(
                app.router.clone(),
                "/api/v1/agents/customer-service/run",
                member_auth(),
                fresh.clone(),
            )
        })
    });
    group.bench_function("visitor_message_new_conversation", |b| {
        b.to_async(&rt).iter(|| {
            let (session, _) = visitors[pick()].clone();
            turn(
                app.router.clone(),
                "/api/v1/public/messages",
                visitor_auth(&session),
                fresh.clone(),
            )
        })
    });
    group.finish();
    eprintln!(
        "limiter requests served during the run: {}",
        upstash.served()
    );
}

criterion_group!(public_turn, bench);
criterion_main!(public_turn);
