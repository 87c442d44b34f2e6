//! The agents handlers reached through the API Gateway and Function URL events in `events/`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use http::StatusCode;
use studio::knowledge::Embedder;
use studio_testing::{knowledge_app, local_queue};

fn event(name: &str, token: &str) -> axum::http::Request<axum::body::Body> {
    let path = format!("{}/../../events/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
    let request = lambda_http::request::from_str(&text.replace("REPLACE_WITH_ACCESS_TOKEN", token))
        .expect("an HTTP API v2 / Function URL event");
    request.map(|b| axum::body::Body::from(b.to_vec()))
}

#[tokio::test]
async fn when_the_agents_events_arrive_through_lambda_they_are_served() {
    let (queue, mut rx) = local_queue();
    let routes = agents_api::routes().merge(agents_api::stream_routes());
    let (app, k) = knowledge_app(Embedder::offline(), queue, routes).await;
    let ada = app.user("Ada").await;
    let ingested = app
        .call(event("agents-ingest.json", &ada.access_token))
        .await;
    assert_eq!(ingested.status, StatusCode::ACCEPTED, "{}", ingested.body);
    let msg = serde_json::from_str(&rx.try_recv().unwrap()).unwrap();
    studio::services::knowledge::process_ingestion(&k, &msg, false)
        .await
        .unwrap();
    let found = app
        .call(event("agents-search.json", &ada.access_token))
        .await;
    assert_eq!(found.body[0]["title"], "Refund policy");
    let answered = app.call(event("agents-run.json", &ada.access_token)).await;
    assert_eq!(answered.status, StatusCode::OK, "{}", answered.body);
    assert_eq!(answered.body["sources"][0]["title"], "Refund policy");
    let streamed = app
        .call(event("agents-stream.json", &ada.access_token))
        .await;
    assert_eq!(streamed.status, StatusCode::OK);
    assert!(streamed.body.as_str().unwrap().contains("event: done"));
}
