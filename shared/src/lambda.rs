//! The entry points every function's `main` calls, one per kind: [`http`] (buffered or streamed
//! responses), [`sqs`] and [`schedule`]. Each reads configuration once (failing the cold start, on
//! Lambda, naming every variable the function [`Need`]s that is missing), builds the state once, and
//! runs the Lambda runtime with Sentry flushed after every invocation, once its response has been sent:
//! the container may be frozen before the next one, and buffered events would be lost.

use crate::config::{Config, Need};
use crate::http::app;
use crate::state::AppState;
use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use axum::Router;
pub use lambda_http::Error;
use lambda_http::lambda_runtime::{
    self, LambdaEvent, LambdaInvocation, Runtime, layers::TracingLayer,
};
use lambda_http::tower::{Layer, Service};
use std::future::Future;
use std::task::{Context, Poll};

/// How an HTTP function answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Responses {
    /// Whole responses (API Gateway).
    Buffered,
    /// Response streaming (a Function URL): every route the function serves streams.
    Streamed,
}

/// An HTTP route group: `routes` over the state `state` builds, answering as `responses` says.
pub async fn http<S>(
    responses: Responses,
    routes: Router<S>,
    state: impl Future<Output = Result<S, Error>>,
) -> Result<(), Error>
where
    S: Clone + Send + Sync + 'static,
    AppState: axum::extract::FromRef<S>,
{
    crate::telemetry::init();
    let router = app(routes, state.await?);
    match responses {
        Responses::Buffered => start(Runtime::new(lambda_http::Adapter::from(router))).await,
        Responses::Streamed => start(lambda_http::streaming_runtime(router)).await,
    }
}

/// An SQS consumer with partial batch responses: `handle` answers each batch with the messages to retry.
pub async fn sqs<S, F, Fut>(
    state: impl Future<Output = Result<S, Error>>,
    handle: F,
) -> Result<(), Error>
where
    S: Send + Sync + 'static,
    F: Fn(&'static S, SqsEvent) -> Fut,
    Fut: Future<Output = SqsBatchResponse>,
{
    crate::telemetry::init();
    let state = process_state(state.await?);
    start(Runtime::new(lambda_runtime::service_fn(
        move |event: LambdaEvent<SqsEvent>| {
            let response = handle(state, event.payload);
            async move { Ok::<_, Error>(response.await) }
        },
    )))
    .await
}

/// A scheduled job (EventBridge): `handle` runs the event's job; a failure is logged and fails the
/// invocation.
pub async fn schedule<S, E, T, F, Fut>(
    state: impl Future<Output = Result<S, Error>>,
    handle: F,
) -> Result<(), Error>
where
    S: Send + Sync + 'static,
    E: serde::de::DeserializeOwned,
    T: serde::Serialize,
    F: Fn(&'static S, E) -> Fut,
    Fut: Future<Output = anyhow::Result<T>>,
{
    crate::telemetry::init();
    let state = process_state(state.await?);
    start(Runtime::new(lambda_runtime::service_fn(
        move |event: LambdaEvent<E>| {
            let result = handle(state, event.payload);
            async move {
                result
                    .await
                    .inspect_err(|e| {
                        tracing::error!(error = format!("{e:#}"), "scheduled job failed")
                    })
                    .map_err(Error::from)
            }
        },
    )))
    .await
}

/// The state of an event consumer lives as long as the process: handlers borrow it for good.
fn process_state<S>(state: S) -> &'static S {
    Box::leak(Box::new(state))
}

/// The runtime with the tracing `lambda_runtime::run` adds, and Sentry flushed after each invocation.
async fn start<S>(runtime: Runtime<S>) -> Result<(), Error>
where
    S: Service<LambdaInvocation, Response = (), Error = Error>,
{
    runtime
        .layer(TracingLayer::new())
        .layer(FlushSentryLayer)
        .run()
        .await
}

/// Flushes Sentry once an invocation is over (its response posted to the runtime API, a streamed body
/// included). Without a Sentry client the flush does nothing.
#[derive(Clone, Copy)]
struct FlushSentryLayer;

impl<S> Layer<S> for FlushSentryLayer {
    type Service = FlushSentry<S>;

    fn layer(&self, inner: S) -> FlushSentry<S> {
        FlushSentry(inner)
    }
}

struct FlushSentry<S>(S);

impl<S: Service<LambdaInvocation>> Service<LambdaInvocation> for FlushSentry<S> {
    type Response = S::Response;
    type Error = S::Error;
    type Future = futures::future::Inspect<S::Future, fn(&Result<S::Response, S::Error>)>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, invocation: LambdaInvocation) -> Self::Future {
        use futures::FutureExt;
        self.0.call(invocation).inspect(flush_after)
    }
}

fn flush_after<T>(_: &T) {
    crate::telemetry::flush_sentry();
}

/// Configuration, read once per cold start and checked for what the function `needs` on Lambda; a
/// failure is logged with its cause and stops the start. Binds Sentry when it is configured.
pub async fn config(needs: &[Need]) -> Result<Config, Error> {
    let config = Config::load()
        .await
        .and_then(|config| config.require_on_lambda(needs).map(|()| config))
        .inspect_err(|e| tracing::error!(error = %e, "configuration failed"))?;
    crate::telemetry::init_sentry(&config);
    Ok(config)
}

/// Configuration and the core state, read and built once per cold start, for a function that needs
/// `needs` besides the core's shared rate limits.
pub async fn app_state(needs: &[Need]) -> Result<AppState, Error> {
    let needs: Vec<Need> = [Need::RateLimits].iter().chain(needs).copied().collect();
    let config = config(&needs).await?;
    let email_queue = match &config.ops.email_queue_url {
        Some(url) => Some(crate::queue::Queue::sqs(url.clone())),
        None => {
            if config.on_lambda {
                tracing::warn!(
                    "SQS_EMAIL_QUEUE_URL is not set: mail waits in the outbox for the cron's resend-outbox job"
                );
            }
            None
        }
    };
    let state = AppState::new(config)
        .inspect_err(|e| tracing::error!(error = format!("{e:#}"), "start-up failed"))?;
    Ok(match email_queue {
        Some(queue) => state.with_email_queue(queue),
        None => state,
    })
}

/// The knowledge-base state on top of the core state (agents-stream, ingest-worker, cron, admin-api,
/// public-api).
#[cfg(feature = "knowledge")]
pub async fn knowledge_state() -> Result<crate::state::KnowledgeState, Error> {
    knowledge_state_needing(&[]).await
}

/// The extract worker's state: the uploads bucket, its own queue and the ingest queue, all required on
/// Lambda (checked by [`app_state`] before this runs).
#[cfg(feature = "extract")]
pub async fn extract_state() -> Result<crate::state::ExtractState, Error> {
    let app = app_state(&[Need::Uploads, Need::ExtractQueue, Need::IngestQueue]).await?;
    let cfg = &app.config;
    let missing = |name: &str| format!("{name} is not set: the extract worker needs it");
    let files = crate::storage::FileStore::from_config(&cfg.uploads, cfg.on_lambda)
        .ok_or_else(|| missing("UPLOADS_BUCKET"))?;
    let queue = cfg
        .uploads
        .extract_queue_url
        .clone()
        .ok_or_else(|| missing("SQS_EXTRACT_QUEUE_URL"))?;
    let ingest = cfg
        .knowledge
        .ingest_queue_url
        .clone()
        .ok_or_else(|| missing("SQS_INGEST_QUEUE_URL"))?;
    Ok(crate::state::ExtractState {
        files,
        queue: crate::queue::Queue::sqs(queue),
        ingest: crate::queue::Queue::sqs(ingest),
        app,
    })
}

/// The crawl worker's state: the fetcher under the configured policy, its own queue and the ingest
/// queue, both required on Lambda (checked by [`app_state`] before this runs).
#[cfg(feature = "crawl")]
pub async fn crawl_state() -> Result<crate::state::CrawlState, Error> {
    let app = app_state(&[Need::CrawlQueue, Need::IngestQueue]).await?;
    let cfg = &app.config;
    let missing = |name: &str| format!("{name} is not set: the crawl worker needs it");
    let queue = cfg
        .crawl
        .queue_url
        .clone()
        .ok_or_else(|| missing("SQS_CRAWL_QUEUE_URL"))?;
    let ingest = cfg
        .knowledge
        .ingest_queue_url
        .clone()
        .ok_or_else(|| missing("SQS_INGEST_QUEUE_URL"))?;
    let fetcher = crate::crawl::fetcher(cfg)?;
    Ok(crate::state::CrawlState {
        fetcher,
        queue: crate::queue::Queue::sqs(queue),
        ingest: crate::queue::Queue::sqs(ingest),
        app,
    })
}

/// The knowledge-base state for a function that also needs `more` (agents-api: the uploads bucket).
#[cfg(feature = "knowledge")]
pub async fn knowledge_state_needing(more: &[Need]) -> Result<crate::state::KnowledgeState, Error> {
    let needs: Vec<Need> = [Need::Knowledge, Need::IngestQueue]
        .iter()
        .chain(more)
        .copied()
        .collect();
    let app = app_state(&needs).await?;
    Ok(crate::state::KnowledgeState::new(app, None)
        .await
        .inspect_err(|e| tracing::error!(error = format!("{e:#}"), "start-up failed"))?)
}
