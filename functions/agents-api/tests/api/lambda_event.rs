//! The agents handlers reached through the API Gateway and Function URL events in `events/`.

use http::StatusCode;
use studio::knowledge::Embedder;
use studio_testing::{index_queued, knowledge_app, lambda_event, local_queue};

#[tokio::test]
async fn when_the_agents_events_arrive_through_lambda_they_are_served() {
    let (queue, mut rx) = local_queue();
    let routes = agents_api::routes().merge(agents_api::stream_routes());
    let (app, k) = knowledge_app(Embedder::offline(), queue, routes).await;
    let ada = app.user("Ada").await;
    let ingested = app
        .call(lambda_event("agents-ingest.json", &ada.access_token))
        .await;
    assert_eq!(ingested.status, StatusCode::ACCEPTED, "{}", ingested.body);
    assert_eq!(index_queued(&k, &mut rx).await, 1);
    let found = app
        .call(lambda_event("agents-search.json", &ada.access_token))
        .await;
    assert_eq!(found.body[0]["title"], "Refund policy");
    let answered = app
        .call(lambda_event("agents-run.json", &ada.access_token))
        .await;
    assert_eq!(answered.status, StatusCode::OK, "{}", answered.body);
    assert_eq!(answered.body["sources"][0]["title"], "Refund policy");
    let streamed = app
        .call(lambda_event("agents-stream.json", &ada.access_token))
        .await;
    assert_eq!(streamed.status, StatusCode::OK);
    assert!(streamed.body.as_str().unwrap().contains("event: done"));
}
