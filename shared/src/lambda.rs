//! The thin entry point every HTTP function's `main` calls: read configuration once, build the state once,
//! then hand the router to the Lambda runtime.

use crate::config::Config;
use crate::http::app;
use crate::state::AppState;
use axum::Router;

pub async fn run_http(routes: fn() -> Router<AppState>) -> Result<(), lambda_http::Error> {
    crate::telemetry::init();
    let config = Config::load()
        .await
        .inspect_err(|e| tracing::error!(error = %e, "configuration failed"))?;
    let state = AppState::new(config)
        .inspect_err(|e| tracing::error!(error = format!("{e:#}"), "start-up failed"))?;
    lambda_http::run(app(routes(), state)).await
}
