//! No lost work: when SQS is unreachable at request time the ingestion is still accepted, and the outbox
//! sweeper sends it once the queue is back — through the moto server's SQS.

use http::StatusCode;
use serde_json::json;
use studio::knowledge::queue::IngestMessage;
use studio::knowledge::{Embedder, Queue};
use studio::outbox::{Queues, sweep};
use studio::state::KnowledgeState;

/// Sweeps the ingest topic once; how many rows were sent.
async fn sweep_ingest(k: &KnowledgeState) -> usize {
    sweep(
        &k.app.db,
        Queues {
            ingest: Some(&k.queue),
            email: None,
            crawl: None,
        },
        0.0,
    )
    .await
    .unwrap()
    .sent
}
use studio_testing::knowledge_app;

async fn moto_queue() -> (aws_config::SdkConfig, String) {
    assert!(
        std::env::var("AWS_ENDPOINT_URL").is_ok(),
        "AWS_ENDPOINT_URL is not set: run the suite with scripts/test.sh (moto server)"
    );
    let sdk = studio::aws::load().await;
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let name = format!("ingest-{}", uuid::Uuid::new_v4().simple());
    let url = sqs
        .create_queue()
        .queue_name(name)
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    (sdk, url)
}

#[tokio::test]
async fn when_sqs_is_unreachable_the_request_succeeds_and_the_sweeper_sends_it_later() {
    let (sdk, url) = moto_queue().await;
    // Nothing listens on port 9: the queue is "down" for the request.
    let down = Queue::sqs_with(&sdk, url.clone(), Some("http://127.0.0.1:9"));
    let (app, k) = knowledge_app(Embedder::offline(), down, agents_api::routes()).await;
    let ada = app.user("Ada").await;
    let res = app
        .post(
            "/api/v1/agents/ingest",
            Some(&ada.access_token),
            json!({"documents": [{"title": "Refunds", "content": "5 days"}]}),
        )
        .await;
    assert_eq!(res.status, StatusCode::ACCEPTED, "{}", res.body);
    let row = app
        .sql()
        .await
        .query_one(
            "SELECT sent_at IS NULL, attempts, last_error FROM outbox WHERE topic = 'ingest'",
            &[],
        )
        .await
        .unwrap();
    assert!(row.get::<_, bool>(0), "not sent");
    assert_eq!(row.get::<_, i32>(1), 1);
    assert!(row.get::<_, Option<String>>(2).is_some());

    // A sweep while the queue is still down loses nothing.
    assert_eq!(sweep_ingest(&k).await, 0);
    // The queue is back.
    let up = KnowledgeState {
        queue: Queue::sqs_with(&sdk, url.clone(), None),
        ..k.clone()
    };
    assert_eq!(sweep_ingest(&up).await, 1);
    assert_eq!(sweep_ingest(&up).await, 0, "sent once");
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let got = sqs
        .receive_message()
        .queue_url(&url)
        .wait_time_seconds(1)
        .send()
        .await
        .unwrap();
    let messages = got.messages.unwrap_or_default();
    assert_eq!(messages.len(), 1);
    let msg: IngestMessage = serde_json::from_str(messages[0].body.as_deref().unwrap()).unwrap();
    assert_eq!(msg.ingestion_id.to_string(), res.str("/ingestionId"));
    assert_eq!(msg.workspace_id, ada.workspace_id);
}
