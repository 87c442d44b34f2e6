//! Per-request cost of authentication and tenancy, and the login handler against a bare argon2id verify.
//!
//! Run: `cargo bench -p auth-api --bench auth` with PostgreSQL reachable at TEST_DATABASE_URL (default
//! the local server). Targets (BENCHMARKS.md): token verification + workspace check ≤ 50 µs beyond the
//! database round trip; login ≤ 1.2× a bare argon2id verify.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::routing::get;
use criterion::{Criterion, criterion_group, criterion_main};
use http::{Request, StatusCode};
use secrecy::SecretString;
use studio::AppState;
use studio::auth::{Tenant, Viewer};
use studio_testing::TestApp;
use tower::ServiceExt;

fn bench_routes() -> Router<AppState> {
    Router::new()
        // One database round trip and nothing else: the baseline.
        .route(
            "/baseline",
            get(|State(state): State<AppState>| async move {
                let client = state.db.get().await.unwrap();
                client.simple_query("SELECT 1").await.unwrap();
                StatusCode::NO_CONTENT
            }),
        )
        // The same round trip behind the same layers with the same token, but no workspace check: what the
        // check adds is `token_and_workspace_check` minus this (the rate-limit layer verifies the token
        // for the tenant's budget either way).
        .route(
            "/baseline_typed",
            get(|State(state): State<AppState>| async move {
                let client = state.db.get().await.unwrap();
                let id = uuid::Uuid::nil();
                client
                    .query_typed(
                        "SELECT $1::uuid",
                        &[(&id, tokio_postgres::types::Type::UUID)],
                    )
                    .await
                    .unwrap();
                StatusCode::NO_CONTENT
            }),
        )
        // Token verification + workspace membership check (one round trip), as every tenant route does.
        .route(
            "/tenant",
            get(|_t: Tenant<Viewer>| async { StatusCode::NO_CONTENT }),
        )
        // Row-level security's cost (issue 18): a tenant route's read and write, on a plain pooled
        // connection as the login role (as before) and in a scoped transaction as `studio_app` (now).
        .route(
            "/tenant_read_plain",
            get(
                |State(state): State<AppState>, t: Tenant<Viewer>| async move {
                    let client = state.db.get().await.unwrap();
                    tenant_read(&client, &t).await;
                    StatusCode::NO_CONTENT
                },
            ),
        )
        .route(
            "/tenant_read_scoped",
            get(
                |State(state): State<AppState>, t: Tenant<Viewer>| async move {
                    let scoped = studio::db::Scoped::tenant(&state.db, &t).await.unwrap();
                    tenant_read(&scoped, &t).await;
                    StatusCode::NO_CONTENT
                },
            ),
        )
        .route(
            "/tenant_write_plain",
            get(
                |State(state): State<AppState>, t: Tenant<Viewer>| async move {
                    let client = state.db.get().await.unwrap();
                    tenant_write(&client, &t).await;
                    StatusCode::NO_CONTENT
                },
            ),
        )
        .route(
            "/tenant_write_scoped",
            get(
                |State(state): State<AppState>, t: Tenant<Viewer>| async move {
                    let scoped = studio::db::Scoped::tenant(&state.db, &t).await.unwrap();
                    tenant_write(&scoped, &t).await;
                    scoped.commit().await.unwrap();
                    StatusCode::NO_CONTENT
                },
            ),
        )
        .merge(auth_api::routes())
}

/// A tenant table read by its workspace (one typed statement).
async fn tenant_read(db: &tokio_postgres::Client, t: &Tenant<Viewer>) {
    db.query_typed(
        "SELECT count(*) FROM kb_documents WHERE workspace_id = $1",
        &[(&t.workspace_id.as_uuid(), tokio_postgres::types::Type::UUID)],
    )
    .await
    .unwrap();
}

/// A tenant table's row written (one typed statement).
async fn tenant_write(db: &tokio_postgres::Client, t: &Tenant<Viewer>) {
    db.query_typed(
        "UPDATE workspaces SET name = name WHERE id = $1",
        &[(&t.workspace_id.as_uuid(), tokio_postgres::types::Type::UUID)],
    )
    .await
    .unwrap();
}

fn benches(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let app = rt.block_on(TestApp::new(bench_routes()));
    let user = rt.block_on(app.user("Bench"));
    // Warm the pool so no measurement pays for a connection.
    rt.block_on(app.get("/baseline", None));

    let call = |path: &'static str, token: Option<String>| {
        let router = app.router.clone();
        move || {
            let router = router.clone();
            let token = token.clone();
            async move {
                let mut req = Request::get(path);
                if let Some(t) = token {
                    req = req.header("authorization", format!("Bearer {t}"));
                }
                let res = router
                    .oneshot(req.body(Body::empty()).unwrap())
                    .await
                    .unwrap();
                assert_eq!(res.status(), StatusCode::NO_CONTENT);
            }
        }
    };
    let mut group = c.benchmark_group("per_request");
    group.bench_function("db_round_trip_baseline", |b| {
        b.to_async(&rt).iter(call("/baseline", None))
    });
    group.bench_function("db_round_trip_typed_with_token", |b| {
        b.to_async(&rt)
            .iter(call("/baseline_typed", Some(user.access_token.clone())))
    });
    group.bench_function("token_and_workspace_check", |b| {
        b.to_async(&rt)
            .iter(call("/tenant", Some(user.access_token.clone())))
    });
    for path in [
        "/tenant_read_plain",
        "/tenant_read_scoped",
        "/tenant_write_plain",
        "/tenant_write_scoped",
    ] {
        group.bench_function(&path[1..], |b| {
            b.to_async(&rt)
                .iter(call(path, Some(user.access_token.clone())))
        });
    }
    group.bench_function("token_verify_only", |b| {
        b.iter(|| app.state.jwt.verify(&user.access_token).unwrap())
    });
    group.finish();

    let stored: String = rt.block_on(async {
        app.sql()
            .await
            .query_one("SELECT password_hash FROM users", &[])
            .await
            .unwrap()
            .get(0)
    });
    let mut group = c.benchmark_group("login");
    group.sample_size(30);
    group.bench_function("argon2id_verify_bare", |b| {
        b.to_async(&rt).iter(|| {
            let stored = stored.clone();
            let passwords = app.state.passwords.clone();
            async move {
                assert!(
                    passwords
                        .verify(SecretString::from("correct horse battery"), Some(stored))
                        .await
                        .unwrap()
                )
            }
        })
    });
    let body =
        serde_json::json!({"email": user.email, "password": "correct horse battery"}).to_string();
    group.bench_function("login_handler", |b| {
        b.to_async(&rt).iter(|| {
            let router = app.router.clone();
            let body = body.clone();
            async move {
                let req = Request::post("/api/v1/auth/login")
                    .header("content-type", "application/json")
                    .body(Body::from(body))
                    .unwrap();
                let res = router.oneshot(req).await.unwrap();
                assert_eq!(res.status(), StatusCode::OK);
            }
        })
    });
    group.finish();
}

criterion_group!(auth, benches);
criterion_main!(auth);
