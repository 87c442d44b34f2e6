//! Fixtures the tests share: sample events as Lambda delivers them, a workspace's plan, documents
//! ingested and indexed, the knowledge base searched, and the shape of an error answer.

use crate::{TestApp, TestResponse};
use axum::body::Body;
use http::{Request, StatusCode};
use serde_json::{Value, json};
use studio::billing::Plan;
use studio::knowledge::queue::IngestMessage;
use studio::state::KnowledgeState;
use tokio::sync::mpsc::UnboundedReceiver;
use uuid::Uuid;

/// The text of a sample event in the repository's `events/` folder, with its access-token placeholder
/// (`REPLACE_WITH_ACCESS_TOKEN`) replaced by `token`.
pub fn event_text(name: &str, token: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../events")
        .join(name);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
        .replace("REPLACE_WITH_ACCESS_TOKEN", token)
}

/// A sample API Gateway (HTTP API v2) or Function URL event from `events/`, as the request `lambda_http`
/// hands the router on Lambda.
pub fn lambda_event(name: &str, token: &str) -> Request<Body> {
    lambda_http::request::from_str(&event_text(name, token))
        .unwrap_or_else(|e| panic!("{name} is not an HTTP API v2 / Function URL event: {e}"))
        .map(|body| Body::from(body.to_vec()))
}

/// Puts a workspace on `plan`, as a paid subscription would.
pub async fn set_plan(app: &TestApp, workspace: Uuid, plan: Plan) {
    app.sql()
        .await
        .execute(
            "UPDATE workspaces SET plan = $2 WHERE id = $1",
            &[&workspace, &plan.as_str()],
        )
        .await
        .expect("setting the plan");
}

/// Runs the ingest worker on every message the API has queued so far; how many it processed.
pub async fn index_queued(k: &KnowledgeState, rx: &mut UnboundedReceiver<String>) -> usize {
    let mut processed = 0;
    while let Ok(body) = rx.try_recv() {
        if let Ok(step) = serde_json::from_str::<studio::services::reindex::ReindexMessage>(&body) {
            studio::services::reindex::step(k, &step, false, Default::default())
                .await
                .expect("re-indexing");
            processed += 1;
            continue;
        }
        let message: IngestMessage = serde_json::from_str(&body).expect("an ingest message");
        studio::services::knowledge::process_ingestion(k, &message, false)
            .await
            .expect("indexing");
        processed += 1;
    }
    processed
}

/// The top three hits of `POST /api/v1/agents/search` for `query`, as `user` (the search must answer 200).
pub async fn search_hits(app: &TestApp, user: &crate::TestUser, query: &str) -> Vec<Value> {
    let res = app
        .post(
            "/api/v1/agents/search",
            Some(&user.access_token),
            json!({"query": query, "limit": 3}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    res.body.as_array().expect("hits").clone()
}

/// Ingests `documents` (`[{title, content, …}]`) through the route as `token`, checks that they were
/// accepted, and indexes them: they are searchable when this returns. The route's answer.
pub async fn ingest_indexed(
    app: &TestApp,
    k: &KnowledgeState,
    rx: &mut UnboundedReceiver<String>,
    token: &str,
    documents: Value,
) -> TestResponse {
    let res = app
        .post(
            "/api/v1/agents/ingest",
            Some(token),
            json!({"documents": documents}),
        )
        .await;
    assert_eq!(res.status, StatusCode::ACCEPTED, "{}", res.body);
    index_queued(k, rx).await;
    res
}

/// Asserts that `res` is an error answer with `status` and `code`, and the body every error has.
#[track_caller]
pub fn assert_error(res: &TestResponse, status: StatusCode, code: &str) {
    assert_eq!(
        (res.status, res.code()),
        (status, code),
        "expected {status} {code}, got {} {}",
        res.status,
        res.body
    );
    assert!(
        res.body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "an error answer says what was wrong: {}",
        res.body
    );
}

/// A secret key of `owner`'s workspace with `scopes` (`chat`, `ingest`, `read`), stored directly (the
/// route that creates keys is workspaces-api's, tested there): its id and the key.
pub async fn secret_key(app: &TestApp, owner: &crate::TestUser, scopes: &[&str]) -> (Uuid, String) {
    stored_key(
        app,
        owner,
        studio::auth::api_keys::KeyKind::Secret,
        scopes,
        &[],
    )
    .await
}

/// A publishable key of `owner`'s workspace allowing `origins`, stored directly: its id and the key.
pub async fn publishable_key(
    app: &TestApp,
    owner: &crate::TestUser,
    origins: &[&str],
) -> (Uuid, String) {
    stored_key(
        app,
        owner,
        studio::auth::api_keys::KeyKind::Publishable,
        &[],
        origins,
    )
    .await
}

async fn stored_key(
    app: &TestApp,
    owner: &crate::TestUser,
    kind: studio::auth::api_keys::KeyKind,
    scopes: &[&str],
    origins: &[&str],
) -> (Uuid, String) {
    use studio::auth::api_keys;
    let new = api_keys::generate(kind).expect("a key");
    let owned = |list: &[&str]| {
        list.iter()
            .map(|s| (*s).to_owned())
            .collect::<Vec<String>>()
    };
    let row = studio::repo::api_keys::insert(
        &app.sql().await,
        studio::WorkspaceId::from_trusted_source(owner.workspace_id),
        &studio::repo::api_keys::NewKeyRow {
            id: Uuid::now_v7(),
            name: kind.as_str(),
            kind: kind.as_str(),
            prefix: &new.prefix,
            hash: &new.hash,
            allowed_origins: &owned(origins),
            scopes: &owned(scopes),
            created_by: owner.id,
        },
    )
    .await
    .expect("store the key");
    (row.id, new.key)
}
