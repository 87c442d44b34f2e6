//! The devserver: every route group on one port, from the same routers the Lambdas run, the ingest and
//! email workers in-process (or consuming the real queues), the extract and crawl workers likewise, the cron's jobs on a local schedule, the
//! merged OpenAPI document and an overall health route; and, on a second port, the widget's [`demo`] site.

pub mod crawl;
pub mod demo;
pub mod uploads;

use axum::Router;
use axum::routing::get;
use std::time::Duration;
use studio::AppState;
use studio::queue::{MAX_ATTEMPTS, Queue, retry_delay};
use studio::services::jobs::{self, Job};
use studio::state::BillingState;
use studio::state::KnowledgeState;
use utoipa::OpenApi;

/// Every route group's routes, merged (no layers: [`studio::http::app`] adds them once); the admin API
/// without dead-letter queues. Fails only if the Stripe API client cannot be built.
pub fn routes(knowledge: KnowledgeState) -> anyhow::Result<Router<AppState>> {
    let billing = BillingState::new(knowledge.app.clone())?;
    let admin = admin_api::AdminState {
        knowledge,
        ingest_dlq: None,
        email_dlq: None,
        extract: None,
        extract_dlq: None,
        crawl_dlq: None,
    };
    Ok(routes_with(admin, billing))
}

/// Every route group's routes, with the admin API's and the Stripe route group's own states.
pub fn routes_with(admin: admin_api::AdminState, billing: BillingState) -> Router<AppState> {
    let knowledge = admin.knowledge.clone();
    Router::new()
        .route(HEALTH.path, get(studio::http::health))
        .route("/api/v1/health/live", get(live))
        .route("/api/v1/openapi.json", get(openapi_json))
        .merge(auth_api::routes())
        .merge(workspaces_api::routes())
        .merge(stripe_webhook::routes().with_state(billing))
        .merge(
            agents_api::routes()
                .merge(agents_api::stream_routes())
                .merge(public_api::routes())
                .merge(public_api::stream_routes())
                .with_state(knowledge),
        )
        .merge(admin_api::routes().with_state(admin))
}

/// The whole API's OpenAPI 3.1 document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut doc = studio::openapi::merged([
        auth_api::ApiDoc::openapi(),
        workspaces_api::ApiDoc::openapi(),
        stripe_webhook::ApiDoc::openapi(),
        agents_api::ApiDoc::openapi(),
        public_api::ApiDoc::openapi(),
        admin_api::ApiDoc::openapi(),
        Local::openapi(),
    ]);
    // Relative, so the committed document is the same on every port and host it is served from.
    doc.servers = Some(vec![utoipa::openapi::Server::new("/")]);
    doc
}

/// The devserver's overall health: the database's state.
const HEALTH: studio::openapi::HealthRoute = studio::openapi::HealthRoute {
    path: "/api/v1/health",
    operation_id: "health",
    tag: "devserver",
    summary: "The devserver's overall health: the database's state.",
};

#[derive(OpenApi)]
#[openapi(paths(live, openapi_json, uploads::receive, uploads::download), tags((name = "devserver", description = "Served by the local devserver")), modifiers(&HEALTH))]
struct Local;

/// Liveness only: the process answers (no auth, no database). The load benchmark's anchor.
#[utoipa::path(operation_id = "live", get, path = "/api/v1/health/live", tag = "devserver",
    responses((status = 200, description = "The process is up")))]
async fn live() -> axum::Json<serde_json::Value> {
    axum::Json(serde_json::json!({"status": "ok"}))
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

/// Runs a queue consumer on its in-process queue: each message on its own task, retried like SQS would
/// (three attempts, growing delay), through the same code the Lambda runs.
pub fn spawn_local_consumer<F, Fut>(
    name: &'static str,
    mut rx: tokio::sync::mpsc::UnboundedReceiver<String>,
    process: F,
) where
    F: Fn(String, u32) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send + 'static,
{
    tokio::spawn(async move {
        while let Some(body) = rx.recv().await {
            let process = process.clone();
            tokio::spawn(async move {
                for attempt in 1..=MAX_ATTEMPTS {
                    match process(body.clone(), attempt).await {
                        Ok(()) => return,
                        Err(e) if attempt < MAX_ATTEMPTS => {
                            tracing::warn!(
                                queue = name,
                                attempt,
                                error = format!("{e:#}"),
                                "local attempt failed; retrying"
                            );
                            tokio::time::sleep(local_delay(attempt)).await;
                        }
                        Err(e) => tracing::error!(
                            queue = name,
                            error = format!("{e:#}"),
                            "local message gave up (an SQS queue would dead-letter it)"
                        ),
                    }
                }
            });
        }
    });
}

/// The ingest worker on the in-process queue.
pub fn spawn_local_worker(state: KnowledgeState, rx: tokio::sync::mpsc::UnboundedReceiver<String>) {
    spawn_local_consumer("ingest", rx, move |body, attempt| {
        let state = state.clone();
        async move { ingest_worker::process_body(&state, &body, attempt).await }
    });
}

/// The email worker on the in-process queue.
pub fn spawn_local_mailer(
    state: email_worker::EmailState,
    rx: tokio::sync::mpsc::UnboundedReceiver<String>,
) {
    spawn_local_consumer("email", rx, move |body, _attempt| {
        let state = state.clone();
        async move { email_worker::process_body(&state, &body).await.map(drop) }
    });
}

/// Consumes the real ingest queue (when `SQS_INGEST_QUEUE_URL` is set).
pub fn spawn_sqs_worker(state: KnowledgeState) {
    let queue = state.queue.clone();
    spawn_sqs_consumer("ingest", queue, move |event| {
        let state = state.clone();
        async move { ingest_worker::handle(&state, event).await }
    });
}

/// Consumes the real email queue (when `SQS_EMAIL_QUEUE_URL` is set).
pub fn spawn_sqs_mailer(state: email_worker::EmailState) {
    let queue = state.queue.clone();
    spawn_sqs_consumer("email", queue, move |event| {
        let state = state.clone();
        async move { email_worker::handle(&state, event).await }
    });
}

/// Consumes an SQS queue with long polling, handing each batch to the Lambda handler and deleting what
/// it did not report as failed — what the SQS event source does in AWS.
pub fn spawn_sqs_consumer<F, Fut>(name: &'static str, queue: Queue, handle: F)
where
    F: Fn(aws_lambda_events::event::sqs::SqsEvent) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = aws_lambda_events::event::sqs::SqsBatchResponse> + Send,
{
    let Queue::Sqs { client, url } = queue else {
        return;
    };
    tokio::spawn(async move {
        let client = client.get().await.clone();
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
                    tracing::warn!(queue = name, error = %aws_sdk_sqs::error::DisplayErrorContext(&e), "receiving from the queue failed");
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    continue;
                }
            };
            if messages.is_empty() {
                continue;
            }
            let event = sqs_event(&messages);
            let response = handle(event).await;
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

/// The cron's schedules, locally: each job at its own interval, through the same code the cron runs.
pub fn spawn_scheduler(state: KnowledgeState, schedule: Vec<(Job, Duration)>) {
    for (job, every) in schedule {
        let state = state.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if let Err(e) = jobs::run(&state, job).await {
                    tracing::warn!(
                        job = job.name(),
                        error = format!("{e:#}"),
                        "scheduled job failed"
                    );
                }
            }
        });
    }
}

/// The local schedule: exports every 5 s (someone is waiting for the link), the outbox every 30 s (so a
/// queue that was down catches up quickly), stuck ingestions every 5 minutes, the rest hourly.
pub fn local_schedule() -> Vec<(Job, Duration)> {
    Job::ALL
        .into_iter()
        .map(|job| {
            let every = match job {
                Job::BuildExports => Duration::from_secs(5),
                Job::ResendOutbox => Duration::from_secs(30),
                Job::FailStuckIngestions | Job::SyncSources | Job::Reindex => {
                    Duration::from_secs(300)
                }
                _ => Duration::from_secs(3600),
            };
            (job, every)
        })
        .collect()
}

/// Serves the app on `listener` over HTTP/1.1 until `shutdown` completes, then lets the requests in flight
/// finish. Not `axum::serve`: its connection task (hyper-util's HTTP/1-or-2 connection) cost ~130 KB per
/// open connection before any request was read (BENCHMARKS.md, the authenticated read against the
/// peer); a local server talking to browsers, curl and tests over plain HTTP needs HTTP/1.1 only, and
/// server-sent events work on it.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let http1 = hyper::server::conn::http1::Builder::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of file descriptors and the like: wait a moment instead of spinning.
                tracing::warn!(error = %e, "accepting a connection failed");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!(error = %e, "TCP_NODELAY not set");
        }
        let service = hyper_util::service::TowerToHyperService::new(app.clone());
        let connection =
            graceful.watch(http1.serve_connection(hyper_util::rt::TokioIo::new(stream), service));
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
}
