//! The ingest worker as SQS delivers to it: batches with partial failures, redelivery, retries with a
//! growing delay, the third attempt, the embeddings API doubled with wiremock, and the moto server's SQS.

use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use studio::knowledge::Llm;
use studio::knowledge::{Embedder, Queue};
use studio::state::KnowledgeState;
use studio_testing::{
    EmbeddingsDouble, TestApp, TestUser, knowledge_app, knowledge_app_with, local_queue,
    openai_embedder,
};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const DIM: u32 = 8;

/// The sample event from `events/`, carrying this message body and receive count.
fn event(bodies: &[(String, u32)]) -> SqsEvent {
    let text = std::fs::read_to_string(format!(
        "{}/../../events/sqs-ingest.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let template: SqsEvent =
        serde_json::from_str(&text).expect("events/sqs-ingest.json is an SQS event");
    let mut event = SqsEvent::default();
    for (i, (body, count)) in bodies.iter().enumerate() {
        let mut record: SqsMessage = template.records[0].clone();
        record.message_id = Some(format!("msg-{i}"));
        record.body = Some(body.clone());
        record
            .attributes
            .insert("ApproximateReceiveCount".into(), count.to_string());
        event.records.push(record);
    }
    event
}

async fn accept(
    app: &TestApp,
    user: &TestUser,
    docs: serde_json::Value,
) -> (String, serde_json::Value) {
    accept_body(app, user, json!({ "documents": docs })).await
}

/// Accepts a whole ingest request body; returns the queue message's body and the 202 answer.
async fn accept_body(
    app: &TestApp,
    user: &TestUser,
    body: serde_json::Value,
) -> (String, serde_json::Value) {
    let res = app
        .post("/api/v1/agents/ingest", Some(&user.access_token), body)
        .await;
    assert_eq!(res.status, http::StatusCode::ACCEPTED, "{}", res.body);
    (
        json!({"ingestionId": res.body["ingestionId"], "workspaceId": user.workspace_id})
            .to_string(),
        res.body,
    )
}

async fn status(app: &TestApp, user: &TestUser, accepted: &serde_json::Value) -> serde_json::Value {
    let id = accepted["ingestionId"].as_str().unwrap();
    app.get(
        &format!("/api/v1/agents/ingest/{id}"),
        Some(&user.access_token),
    )
    .await
    .body
}

/// The agents routes over `embedder` and the offline LLM, the worker with the `extra` settings, and a
/// member (Ada) to ingest with.
async fn app_with(
    embedder: Embedder,
    extra: &[(&str, &str)],
) -> (TestApp, KnowledgeState, TestUser) {
    let (queue, _rx) = local_queue();
    let (app, k) =
        knowledge_app_with(embedder, Llm::offline(), queue, agents_api::routes(), extra).await;
    let ada = app.user("Ada").await;
    (app, k, ada)
}

/// The embeddings of the OpenAI double at `server`.
fn embedder_at(server: &MockServer) -> Embedder {
    openai_embedder(&format!("{}/v1", server.uri()), DIM)
}

/// An OpenAI double (its embeddings answered by the test), the agents routes over it, and Ada.
async fn openai_setup() -> (
    MockServer,
    EmbeddingsDouble,
    TestApp,
    KnowledgeState,
    TestUser,
) {
    let server = MockServer::start().await;
    let double = EmbeddingsDouble::new(DIM as usize);
    let (app, k, ada) = app_with(embedder_at(&server), &[]).await;
    (server, double, app, k, ada)
}

/// The agents routes over the OpenAI double at `server`, the worker indexing `piece_chunks` chunks a
/// piece, and a member to ingest with.
async fn app_over(server: &MockServer, piece_chunks: usize) -> (TestApp, KnowledgeState, TestUser) {
    let piece_chunks = piece_chunks.to_string();
    app_with(
        embedder_at(server),
        &[("INGEST_PIECE_CHUNKS", &piece_chunks)],
    )
    .await
}

/// Has the double at `server` answer `POST /v1/embeddings` with `answer`, for the first `times` requests
/// it matches if given; of the answers that match, the one of the lowest `priority` is given (wiremock's
/// default is 5).
async fn embeddings_answer(
    server: &MockServer,
    answer: impl wiremock::Respond + 'static,
    times: Option<u64>,
    priority: u8,
) {
    let mock = Mock::given(method("POST"))
        .and(path("/v1/embeddings"))
        .respond_with(answer)
        .with_priority(priority);
    match times {
        Some(n) => mock.up_to_n_times(n).mount(server).await,
        None => mock.mount(server).await,
    }
}

/// The embeddings API's answer when it fails on its side.
fn server_error() -> ResponseTemplate {
    ResponseTemplate::new(500).set_body_json(json!({"error": {"message": "upstream exploded", "type": "server_error", "param": null, "code": null}}))
}

/// One short document, as the body of an ingest request.
fn refunds() -> serde_json::Value {
    json!([{"title": "Refunds", "content": "Refunds take 5 days."}])
}

/// Hands the worker `body` as SQS's `receive_count`th delivery and asserts that it did not fail.
async fn delivered_cleanly(k: &KnowledgeState, body: String, receive_count: u32) {
    let response = ingest_worker::handle(k, event(&[(body, receive_count)])).await;
    assert!(response.batch_item_failures.is_empty());
}

/// `n` policies of one chunk each.
fn policies(n: usize) -> serde_json::Value {
    (0..n)
        .map(|i| json!({"title": format!("Policy {i}"), "content": format!("Policy number {i} covers case {i}.")}))
        .collect()
}

#[tokio::test]
async fn when_a_batch_holds_a_poison_message_only_it_fails_and_its_batch_mates_are_indexed() {
    let (app, k, ada) = app_with(Embedder::offline(), &[]).await;
    let (good, accepted) = accept(&app, &ada, refunds()).await;
    let (good2, accepted2) = accept(
        &app,
        &ada,
        json!([{"title": "Hours", "content": "Open 9 to 5."}]),
    )
    .await;
    let response =
        ingest_worker::handle(&k, event(&[(good, 1), ("{not json".into(), 1), (good2, 1)])).await;
    let failed: Vec<&str> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    assert_eq!(failed, vec!["msg-1"]);
    assert_eq!(status(&app, &ada, &accepted).await["status"], "completed");
    assert_eq!(status(&app, &ada, &accepted2).await["status"], "completed");
}

#[tokio::test]
async fn when_the_same_message_is_delivered_twice_nothing_is_embedded_or_stored_twice() {
    let (server, double, app, k, ada) = openai_setup().await;
    embeddings_answer(&server, double.clone(), None, 5).await;
    let (body, accepted) = accept(&app, &ada, refunds()).await;
    delivered_cleanly(&k, body.clone(), 1).await;
    let calls = server.received_requests().await.unwrap().len();
    // The embedding call is in the workspace's usage, with the API's own token count (the double's 1).
    let used = app.usage_today(ada.workspace_id, "embedding").await;
    assert_eq!(used, (1, 1, 0));
    delivered_cleanly(&k, body, 2).await;
    assert_eq!(
        server.received_requests().await.unwrap().len(),
        calls,
        "no second embedding call"
    );
    assert_eq!(
        app.usage_today(ada.workspace_id, "embedding").await,
        used,
        "and none counted"
    );
    let doc: uuid::Uuid = accepted["documentIds"][0]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let ws = studio::WorkspaceId::from_trusted_source(ada.workspace_id);
    assert_eq!(k.vectors.count(ws, Some(doc)).await.unwrap(), 1);
    assert_eq!(
        status(&app, &ada, &accepted).await["documents"][0]["status"],
        "ready"
    );
}

#[tokio::test]
async fn when_two_documents_share_text_it_is_embedded_once_in_one_request() {
    let (server, double, app, k, ada) = openai_setup().await;
    embeddings_answer(&server, double.clone(), None, 5).await;
    let shared = "Our support line is open around the clock.";
    // Identical documents are stored twice only when asked: here, to share their text. What is embedded
    // is the chunk under its document's title, so documents titled alike share their embedding.
    let (body, accepted) = accept_body(
        &app,
        &ada,
        json!({"documents": [{"title": "Support", "content": shared}, {"title": "Support", "content": shared}, {"title": "C", "content": "Something else entirely."}], "allowDuplicates": true}),
    )
    .await;
    delivered_cleanly(&k, body, 1).await;
    let seen = double.seen();
    let embedded = format!("Support\n\n{shared}");
    assert_eq!(
        seen.iter().filter(|t| **t == embedded).count(),
        1,
        "{seen:?}"
    );
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(
        server.received_requests().await.unwrap().len(),
        1,
        "packed into one request"
    );
    assert_eq!(status(&app, &ada, &accepted).await["completed"], 3);
    // A later upload of the same text is served from the cache.
    let (body, _) = accept_body(
        &app,
        &ada,
        json!({"documents": [{"title": "Support", "content": shared}], "allowDuplicates": true}),
    )
    .await;
    delivered_cleanly(&k, body, 1).await;
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn when_the_embeddings_api_rate_limits_once_the_retry_honours_retry_after_and_succeeds() {
    let (server, double, app, k, ada) = openai_setup().await;
    let slow_down = ResponseTemplate::new(429).insert_header("retry-after", "1").set_body_json(json!({"error": {"message": "slow down", "type": "rate_limit_error", "param": null, "code": null}}));
    embeddings_answer(&server, slow_down, Some(1), 1).await;
    embeddings_answer(&server, double.clone(), None, 2).await;
    let (body, accepted) = accept(&app, &ada, refunds()).await;
    let started = std::time::Instant::now();
    delivered_cleanly(&k, body, 1).await;
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(900),
        "waited for Retry-After"
    );
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
    assert_eq!(status(&app, &ada, &accepted).await["status"], "completed");
}

#[tokio::test]
async fn when_the_embeddings_api_keeps_failing_the_message_is_retried_then_its_documents_fail_with_the_reason()
 {
    let (server, _double, app, k, ada) = openai_setup().await;
    embeddings_answer(&server, server_error(), None, 5).await;
    let (body, accepted) = accept(&app, &ada, refunds()).await;
    let first = ingest_worker::handle(&k, event(&[(body.clone(), 1)])).await;
    assert_eq!(first.batch_item_failures.len(), 1);
    let after_first = status(&app, &ada, &accepted).await;
    assert_eq!(after_first["status"], "pending", "{after_first}");
    assert!(
        after_first["documents"][0]["error"]
            .as_str()
            .unwrap()
            .contains("embeddings"),
        "{after_first}"
    );
    assert!(
        server.received_requests().await.unwrap().len() >= 2,
        "the client retried the 500s"
    );

    let last = ingest_worker::handle(&k, event(&[(body, 3)])).await;
    assert_eq!(
        last.batch_item_failures.len(),
        1,
        "still reported, so SQS moves it to the dead-letter queue"
    );
    let done = status(&app, &ada, &accepted).await;
    assert_eq!(done["status"], "failed");
    assert!(
        done["documents"][0]["error"]
            .as_str()
            .unwrap()
            .contains("last attempt"),
        "{done}"
    );
}

#[tokio::test]
async fn when_a_document_has_no_text_it_fails_alone_with_the_reason() {
    let (app, k, ada) = app_with(Embedder::offline(), &[]).await;
    let (body, accepted) = accept(
        &app,
        &ada,
        json!([{"title": "Empty page", "content": "<script>track()</script>", "contentType": "text/html"}, {"title": "Fine", "content": "Real text."}]),
    )
    .await;
    delivered_cleanly(&k, body, 1).await;
    let s = status(&app, &ada, &accepted).await;
    assert_eq!(
        (
            s["status"].as_str(),
            s["completed"].as_u64(),
            s["failed"].as_u64()
        ),
        (Some("completed"), Some(1), Some(1)),
        "{s}"
    );
    assert!(
        s["documents"][0]["error"]
            .as_str()
            .unwrap()
            .contains("no text")
    );
}

#[tokio::test]
async fn when_messages_go_through_the_moto_sqs_queue_they_are_consumed_and_failures_are_delayed() {
    assert!(
        std::env::var("AWS_ENDPOINT_URL").is_ok(),
        "AWS_ENDPOINT_URL is not set: run the suite with scripts/test.sh (moto server)"
    );
    let sdk = studio::aws::load().await;
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let url = sqs
        .create_queue()
        .queue_name(format!("ingest-{}", uuid::Uuid::new_v4().simple()))
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let (app, k) = knowledge_app(
        Embedder::offline(),
        Queue::sqs_with(&sdk, url.clone(), None),
        agents_api::routes(),
    )
    .await;
    let ada = app.user("Ada").await;
    let (_, accepted) = accept(&app, &ada, refunds()).await;
    sqs.send_message()
        .queue_url(&url)
        .message_body("poison")
        .send()
        .await
        .unwrap();

    let received = sqs
        .receive_message()
        .queue_url(&url)
        .max_number_of_messages(10)
        .wait_time_seconds(1)
        .message_system_attribute_names(
            aws_sdk_sqs::types::MessageSystemAttributeName::ApproximateReceiveCount,
        )
        .send()
        .await
        .unwrap()
        .messages
        .unwrap_or_default();
    assert_eq!(received.len(), 2);
    let event = studio_testing::sqs_event_of(&received);
    let response = ingest_worker::handle(&k, event).await;
    assert_eq!(response.batch_item_failures.len(), 1);
    assert_eq!(status(&app, &ada, &accepted).await["status"], "completed");
    // The poison message's visibility was pushed out (30 s), so it is not redelivered at once.
    let again = sqs
        .receive_message()
        .queue_url(&url)
        .wait_time_seconds(1)
        .send()
        .await
        .unwrap()
        .messages
        .unwrap_or_default();
    assert!(
        again.iter().all(|m| m.body.as_deref() != Some("poison")),
        "delayed, not immediately visible"
    );
}

/// Answers like the embeddings double, tells the test the number of each request as it arrives, and
/// holds every request after the first for a while: time to look at the progress while a piece is being
/// embedded.
#[derive(Clone)]
struct HeldAfterFirst {
    double: EmbeddingsDouble,
    received: Arc<AtomicUsize>,
    arrivals: tokio::sync::mpsc::UnboundedSender<usize>,
    hold: Duration,
}

impl wiremock::Respond for HeldAfterFirst {
    fn respond(&self, request: &wiremock::Request) -> ResponseTemplate {
        let n = self.received.fetch_add(1, Ordering::SeqCst) + 1;
        let _ = self.arrivals.send(n);
        let answer = self.double.respond(request);
        if n > 1 {
            answer.set_delay(self.hold)
        } else {
            answer
        }
    }
}

#[tokio::test]
async fn when_many_documents_are_ingested_they_become_ready_piece_by_piece_not_all_at_the_end() {
    let server = MockServer::start().await;
    let (arrivals, mut arrived) = tokio::sync::mpsc::unbounded_channel();
    let held = HeldAfterFirst {
        double: EmbeddingsDouble::new(DIM as usize),
        received: Arc::default(),
        arrivals,
        hold: Duration::from_millis(1500),
    };
    embeddings_answer(&server, held, None, 5).await;
    // One chunk per document, three chunks per piece: four pieces of three documents.
    let (app, k, ada) = app_over(&server, 3).await;
    let (body, accepted) = accept(&app, &ada, policies(12)).await;
    let worker = {
        let k = k.clone();
        tokio::spawn(async move { ingest_worker::handle(&k, event(&[(body, 1)])).await })
    };

    for (request, ready) in [(2, 3), (3, 6), (4, 9)] {
        // While piece `request` is being embedded, the pieces before it are ready, it is processing and
        // the ones after it are pending.
        tokio::time::timeout(Duration::from_secs(20), async {
            while arrived.recv().await.expect("the double is alive") < request {}
        })
        .await
        .unwrap_or_else(|_| {
            panic!("no embeddings request {request}: the batch was not embedded in pieces")
        });
        let s = status(&app, &ada, &accepted).await;
        let seen: Vec<&str> = s["documents"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["status"].as_str().unwrap())
            .collect();
        let expected: Vec<&str> = (0..12)
            .map(|i| match i {
                i if i < ready => "ready",
                i if i < ready + 3 => "processing",
                _ => "pending",
            })
            .collect();
        assert_eq!(seen, expected, "{s}");
        assert_eq!(
            (s["status"].as_str(), s["completed"].as_u64()),
            (Some("processing"), Some(ready as u64)),
            "{s}"
        );
    }

    let response = worker.await.unwrap();
    assert!(response.batch_item_failures.is_empty());
    let done = status(&app, &ada, &accepted).await;
    assert_eq!(
        (done["status"].as_str(), done["completed"].as_u64()),
        (Some("completed"), Some(12)),
        "{done}"
    );
    assert_eq!(server.received_requests().await.unwrap().len(), 4);
    let ws = studio::WorkspaceId::from_trusted_source(ada.workspace_id);
    assert_eq!(k.vectors.count(ws, None).await.unwrap(), 12);
}

#[tokio::test]
async fn when_a_later_piece_cannot_be_embedded_the_ready_documents_stay_ready_and_the_rest_are_retried()
 {
    let server = MockServer::start().await;
    let double = EmbeddingsDouble::new(DIM as usize);
    embeddings_answer(&server, double.clone(), Some(1), 1).await;
    // Every attempt of the client's retries of the second piece (1 + 3).
    embeddings_answer(&server, server_error(), Some(4), 2).await;
    embeddings_answer(&server, double.clone(), None, 3).await;
    let (app, k, ada) = app_over(&server, 2).await;
    let (body, accepted) = accept(&app, &ada, policies(5)).await;

    let first = ingest_worker::handle(&k, event(&[(body.clone(), 1)])).await;
    assert_eq!(first.batch_item_failures.len(), 1, "retried by the queue");
    let s = status(&app, &ada, &accepted).await;
    let seen: Vec<(&str, bool)> = s["documents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["status"].as_str().unwrap(), d["error"].is_string()))
        .collect();
    assert_eq!(
        seen,
        vec![
            ("ready", false),
            ("ready", false),
            ("pending", true),
            ("pending", true),
            ("pending", true)
        ],
        "{s}"
    );

    // The retry embeds only what is not ready yet.
    let before = double.seen().len();
    delivered_cleanly(&k, body, 2).await;
    assert_eq!(double.seen().len() - before, 3);
    let done = status(&app, &ada, &accepted).await;
    assert_eq!(
        (done["status"].as_str(), done["completed"].as_u64()),
        (Some("completed"), Some(5)),
        "{done}"
    );
}
