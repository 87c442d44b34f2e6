//! The thin entry points every function's `main` calls: read configuration once, build the state once,
//! then hand the router (or handler) to the Lambda runtime.

use crate::config::Config;
use crate::http::app;
use crate::state::AppState;
use axum::Router;

pub async fn run_http(routes: fn() -> Router<AppState>) -> Result<(), lambda_http::Error> {
    crate::telemetry::init();
    let state = app_state().await?;
    lambda_http::run(app(routes(), state)).await
}

/// Configuration and the core state, read and built once per cold start; a failure is logged with its
/// cause and stops the start.
pub async fn app_state() -> Result<AppState, lambda_http::Error> {
    let config = Config::load()
        .await
        .inspect_err(|e| tracing::error!(error = %e, "configuration failed"))?;
    crate::telemetry::init_sentry(&config);
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

/// The knowledge-base state on top of the core state (agents-api, ingest-worker).
#[cfg(feature = "knowledge")]
pub async fn knowledge_state() -> Result<crate::knowledge::KnowledgeState, lambda_http::Error> {
    let app = app_state().await?;
    Ok(crate::knowledge::KnowledgeState::new(app, None)
        .await
        .inspect_err(|e| tracing::error!(error = format!("{e:#}"), "start-up failed"))?)
}
