//! The devserver: every route group on one port, from the same routers the Lambdas run, the ingest
//! worker in-process (or consuming the real queue), the outbox sweeper, the merged OpenAPI document and
//! an overall health route.

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use std::time::Duration;
use studio::AppState;
use studio::knowledge::queue::{MAX_ATTEMPTS, retry_delay};
use studio::knowledge::{KnowledgeState, Queue};
use utoipa::OpenApi;

/// Every route group's routes, merged (no layers: [`studio::http::app`] adds them once).
pub fn routes(knowledge: KnowledgeState) -> Router<AppState> {
    Router::new()
        .route("/api/v1/health", get(health))
        .route("/api/v1/openapi.json", get(openapi_json))
        .merge(auth_api::routes())
        .merge(workspaces_api::routes())
        .merge(stripe_webhook::routes())
        .merge(
            agents_api::routes()
                .merge(agents_api::stream_routes())
                .with_state(knowledge),
        )
}

/// The whole API's OpenAPI 3.1 document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut doc = studio::openapi::merged([
        auth_api::ApiDoc::openapi(),
        workspaces_api::ApiDoc::openapi(),
        stripe_webhook::ApiDoc::openapi(),
        agents_api::ApiDoc::openapi(),
        Local::openapi(),
    ]);
    doc.servers = Some(vec![utoipa::openapi::Server::new("http://localhost:3000")]);
    doc
}

#[derive(OpenApi)]
#[openapi(paths(health, openapi_json), tags((name = "devserver", description = "Served by the local devserver")))]
struct Local;

/// The devserver's overall health: the database's state.
#[utoipa::path(operation_id = "health", get, path = "/api/v1/health", tag = "devserver",
    responses((status = 200, body = studio::http::app::Health), (status = 503, body = studio::http::app::Health)))]
async fn health(state: State<AppState>) -> Response {
    studio::http::health(state).await
}

/// This document.
#[utoipa::path(operation_id = "openapi", get, path = "/api/v1/openapi.json", tag = "devserver",
    responses((status = 200, description = "The OpenAPI 3.1 document")))]
async fn openapi_json() -> axum::Json<utoipa::openapi::OpenApi> {
    axum::Json(openapi())
}

/// Delay between local retries: the queue's growing delay, shortened for a developer's patience.
fn local_delay(attempt: u32) -> Duration {
    retry_delay(attempt).min(Duration::from_secs(5))
}

/// Runs the ingest worker on the in-process queue: each message on its own task, retried like SQS would
/// (three attempts, growing delay), through the same code the Lambda runs.
pub fn spawn_local_worker(
    state: KnowledgeState,
    mut rx: tokio::sync::mpsc::UnboundedReceiver<String>,
) {
    tokio::spawn(async move {
        while let Some(body) = rx.recv().await {
            let state = state.clone();
            tokio::spawn(async move {
                for attempt in 1..=MAX_ATTEMPTS {
                    match ingest_worker::process_body(&state, &body, attempt).await {
                        Ok(()) => return,
                        Err(e) if attempt < MAX_ATTEMPTS => {
                            tracing::warn!(
                                attempt,
                                error = format!("{e:#}"),
                                "local ingest attempt failed; retrying"
                            );
                            tokio::time::sleep(local_delay(attempt)).await;
                        }
                        Err(e) => tracing::error!(
                            error = format!("{e:#}"),
                            "local ingest message gave up (an SQS queue would dead-letter it)"
                        ),
                    }
                }
            });
        }
    });
}

/// Consumes the real SQS queue (when `SQS_INGEST_QUEUE_URL` is set) with long polling, handing each
/// batch to the Lambda handler and deleting what it did not report as failed.
pub fn spawn_sqs_worker(state: KnowledgeState) {
    let Queue::Sqs { client, url } = state.queue.clone() else {
        return;
    };
    tokio::spawn(async move {
        loop {
            let received = client
                .receive_message()
                .queue_url(&url)
                .max_number_of_messages(10)
                .wait_time_seconds(20)
                .message_system_attribute_names(
                    aws_sdk_sqs::types::MessageSystemAttributeName::ApproximateReceiveCount,
                )
                .send()
                .await;
            let messages = match received {
                Ok(out) => out.messages.unwrap_or_default(),
                Err(e) => {
                    tracing::warn!(error = %aws_sdk_sqs::error::DisplayErrorContext(&e), "receiving from the ingest queue failed");
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    continue;
                }
            };
            if messages.is_empty() {
                continue;
            }
            let event = sqs_event(&messages);
            let response = ingest_worker::handle(&state, event).await;
            for m in &messages {
                let failed = response
                    .batch_item_failures
                    .iter()
                    .any(|f| Some(&f.item_identifier) == m.message_id.as_ref());
                if !failed && let Some(receipt) = &m.receipt_handle {
                    let _ = client
                        .delete_message()
                        .queue_url(&url)
                        .receipt_handle(receipt)
                        .send()
                        .await;
                }
            }
        }
    });
}

/// The Lambda event SQS would have delivered for these messages.
pub fn sqs_event(
    messages: &[aws_sdk_sqs::types::Message],
) -> aws_lambda_events::event::sqs::SqsEvent {
    let records = messages
        .iter()
        .map(|m| {
            let mut record = aws_lambda_events::event::sqs::SqsMessage::default();
            record.message_id = m.message_id.clone();
            record.receipt_handle = m.receipt_handle.clone();
            record.body = m.body.clone();
            if let Some(attrs) = &m.attributes {
                for (k, v) in attrs {
                    record.attributes.insert(k.as_str().to_owned(), v.clone());
                }
            }
            record
        })
        .collect();
    let mut event = aws_lambda_events::event::sqs::SqsEvent::default();
    event.records = records;
    event
}

/// Re-sends outbox rows the queue did not take, every `every` (the cron function does this in AWS).
pub fn spawn_outbox_sweeper(state: KnowledgeState, every: Duration) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            if let Err(e) =
                studio::services::knowledge::sweep_outbox(&state, every.as_secs_f64()).await
            {
                tracing::warn!(error = format!("{e:#}"), "outbox sweep failed");
            }
        }
    });
}
