//! Logs through `tracing`: JSON on Lambda (or when `AWS_LAMBDA_LOG_FORMAT=JSON`), human-readable locally.
//! Filtered by `RUST_LOG` (default `info`). Logs carry ids, never passwords, tokens or message texts.
//!
//! Error tracking: when `SENTRY_DSN` is configured, [`init_sentry`] binds a Sentry client, and the tracing
//! layer installed by [`init`] turns every `error!` event into a Sentry event (warnings and info become
//! breadcrumbs); panics are reported too. Without a DSN the layer has no client and does nothing.

pub mod request_id;

use crate::config::Config;
use secrecy::ExposeSecret;
use sentry::integrations::tracing::{BreadcrumbLayer, ErrorLayer};
use std::sync::{Arc, OnceLock};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|v| v.eq_ignore_ascii_case("json"))
        || std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some();
    let registry = tracing_subscriber::registry()
        .with(filter)
        // error! events become Sentry events; info! and warn! the breadcrumbs that lead to them.
        .with(ErrorLayer::new().with_filter(LevelFilter::ERROR))
        .with(BreadcrumbLayer::new().with_filter(LevelFilter::INFO));
    let result = if json {
        // Lambda adds its own timestamp and request id to each line.
        registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_target(false)
                    .json()
                    .flatten_event(true)
                    .without_time()
                    .with_current_span(true),
            )
            .try_init()
    } else {
        registry
            .with(tracing_subscriber::fmt::layer().with_target(false))
            .try_init()
    };
    // A subscriber set already (tests) is fine.
    let _ = result;
}

static SENTRY: OnceLock<sentry::ClientInitGuard> = OnceLock::new();

/// Binds the Sentry client when `SENTRY_DSN` is configured (once per process; later calls do nothing).
/// Returns whether error tracking is on. A malformed DSN is logged and leaves it off: error tracking must
/// never stop the service from starting.
pub fn init_sentry(config: &Config) -> bool {
    let Some(dsn) = &config.ops.sentry_dsn else {
        return false;
    };
    if SENTRY.get().is_some() {
        return true;
    }
    let dsn = match dsn.expose_secret().parse::<sentry::types::Dsn>() {
        Ok(dsn) => dsn,
        Err(e) => {
            tracing::error!(error = %e, "SENTRY_DSN is not a valid DSN; error tracking is off");
            return false;
        }
    };
    let mut options = sentry::ClientOptions::new();
    options.dsn = Some(dsn);
    options.release = sentry::release_name!();
    options.environment = std::env::var("STAGE").ok().map(Into::into);
    // Personal data stays out of events, as it stays out of logs.
    options.send_default_pii = false;
    // Sentry's own transport over the service's one TLS set-up (ring, compiled-in roots).
    match crate::tls::client_builder().build() {
        Ok(client) => options.transport = Some(Arc::new(SentryTransport(client))),
        Err(e) => {
            tracing::error!(error = %e, "building Sentry's HTTP client failed; error tracking is off");
            return false;
        }
    }
    let guard = sentry::init(options);
    let on = guard.is_enabled();
    let _ = SENTRY.set(guard);
    tracing::info!(enabled = on, "error tracking with Sentry");
    on
}

/// Sentry's reqwest transport over a client built by [`crate::tls`].
struct SentryTransport(reqwest::Client);

impl sentry::TransportFactory for SentryTransport {
    fn create_transport_with_options(
        &self,
        options: sentry::TransportOptions,
    ) -> Arc<dyn sentry::Transport> {
        Arc::new(
            sentry::transports::ReqwestHttpTransportOptions::from(options)
                .with_client(self.0.clone())
                .build(),
        )
    }
}

/// Sends what Sentry has queued (a Lambda invocation may freeze right after it answers).
pub fn flush_sentry() {
    if let Some(guard) = SENTRY.get() {
        guard.flush(Some(std::time::Duration::from_secs(2)));
    }
}
