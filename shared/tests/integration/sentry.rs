//! Error tracking: with `SENTRY_DSN` set, an `error!` event reaches Sentry (an HTTP double of its ingest
//! endpoint stands in for sentry.io); a malformed DSN leaves tracking off without stopping the start.

use studio::Config;
use wiremock::matchers::{method, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn config(dsn: &str) -> Config {
    let mut src = studio_testing::source("postgres://unused@127.0.0.1/unused");
    src.set("SENTRY_DSN", dsn);
    Config::from_source(&src).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn when_sentry_dsn_is_set_error_events_reach_sentry_and_a_bad_dsn_only_turns_it_off() {
    studio::telemetry::init();
    assert!(!studio::telemetry::init_sentry(&config("not a dsn")));
    assert!(!studio::telemetry::init_sentry(
        &Config::from_source(&studio_testing::source("postgres://u@h/d")).unwrap()
    ));

    let sentry = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path_regex(r"^/api/42/(envelope|store)/$"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&sentry)
        .await;
    let address = sentry.address();
    let dsn = format!("http://publickey@{}:{}/42", address.ip(), address.port());
    assert!(studio::telemetry::init_sentry(&config(&dsn)));

    tracing::info!("a breadcrumb before the error");
    tracing::error!(
        workspace_id = "ws-1",
        "payment webhook could not be applied"
    );
    tokio::task::spawn_blocking(studio::telemetry::flush_sentry)
        .await
        .unwrap();

    let received = sentry.received_requests().await.unwrap();
    let bodies: Vec<String> = received
        .iter()
        .map(|r| String::from_utf8_lossy(&r.body).into_owned())
        .collect();
    assert!(
        bodies
            .iter()
            .any(|b| b.contains("payment webhook could not be applied")),
        "no event with the error's message reached Sentry: {bodies:?}"
    );
    assert!(
        bodies
            .iter()
            .any(|b| b.contains("a breadcrumb before the error"))
    );
    assert!(
        received.iter().all(|r| r
            .headers
            .get("x-sentry-auth")
            .is_some_and(|v| v.to_str().unwrap().contains("sentry_key=publickey"))),
        "each request carries the DSN's key"
    );
}
