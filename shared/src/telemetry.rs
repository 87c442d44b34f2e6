//! Logs through `tracing`: JSON on Lambda (or when `AWS_LAMBDA_LOG_FORMAT=JSON`), human-readable locally.
//! Filtered by `RUST_LOG` (default `info`). Logs carry ids, never passwords, tokens or message texts.

use tracing_subscriber::EnvFilter;

pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|v| v.eq_ignore_ascii_case("json"))
        || std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    let result = if json {
        // Lambda adds its own timestamp and request id to each line.
        builder
            .json()
            .flatten_event(true)
            .without_time()
            .with_current_span(true)
            .try_init()
    } else {
        builder.try_init()
    };
    // A subscriber set already (tests) is fine.
    let _ = result;
}
