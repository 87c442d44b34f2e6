//! The SSRF guard's fetcher against real HTTP servers on loopback: what a tenant's URL may reach, what
//! it may be redirected to, and how much it may send back. Names resolve through a test resolver, so a
//! "public" site can stand on loopback (its one address, 127.0.0.1, exempted) while every other private address
//! stays refused.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use studio::fetch::{FetchError, FetchPolicy, Fetcher, Guard, Refusal, StaticResolver};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const AGENT: &str = "SoftSystemsStudio-test/1";

fn names(pairs: &[(&str, &str)]) -> Arc<StaticResolver> {
    Arc::new(StaticResolver(HashMap::from_iter(pairs.iter().map(
        |(name, addr)| ((*name).to_owned(), vec![addr.parse::<IpAddr>().unwrap()]),
    ))))
}

/// A strict guard (private addresses refused) whose only exception is the test's "public" site.
fn strict(site: &MockServer, resolver: Arc<StaticResolver>) -> Fetcher {
    let addr: SocketAddr = *site.address();
    let policy = FetchPolicy {
        ports: vec![80, 443, addr.port()],
        max_bytes: 1024,
        ..FetchPolicy::default()
    };
    Fetcher::new(
        Guard::with_resolver(policy, resolver).exempting(addr.ip()),
        AGENT,
    )
    .unwrap()
}

fn refused(result: Result<studio::fetch::Fetched, FetchError>) -> Refusal {
    match result {
        Err(FetchError::Refused(r)) => r,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn a_public_site_is_fetched_and_what_it_sends_is_bounded() {
    let site = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/page"))
        .respond_with(ResponseTemplate::new(200).set_body_raw("<h1>Hello</h1>", "text/html"))
        .mount(&site)
        .await;
    Mock::given(method("GET"))
        .and(path("/huge"))
        .respond_with(ResponseTemplate::new(200).set_body_string("x".repeat(4096)))
        .mount(&site)
        .await;
    let port = site.address().port();
    let fetcher = strict(&site, names(&[("public.test", "127.0.0.1")]));
    let page = fetcher
        .get(&format!("http://public.test:{port}/page"))
        .await
        .unwrap();
    assert_eq!(page.status, 200);
    assert_eq!(page.body, b"<h1>Hello</h1>");
    assert_eq!(page.content_type.as_deref(), Some("text/html"));
    assert!(matches!(
        fetcher
            .get(&format!("http://public.test:{port}/huge"))
            .await,
        Err(FetchError::TooLarge(1024))
    ));
    // No credentials or cookies are forwarded: the request carried only our user agent.
    let seen = site.received_requests().await.unwrap();
    assert!(seen.iter().all(|r| r.headers.get("authorization").is_none()
        && r.headers.get("cookie").is_none()
        && r.headers.get("user-agent").map(|v| v.to_str().unwrap()) == Some(AGENT)));
}

#[tokio::test]
async fn loopback_private_and_metadata_addresses_are_refused_before_any_connection() {
    let site = MockServer::start().await;
    let port = site.address().port();
    let fetcher = strict(
        &site,
        names(&[
            ("public.test", "127.0.0.1"),
            ("sneaky.test", "127.0.0.2"),
            ("intranet.test", "10.0.0.1"),
        ]),
    );
    for (url, kind) in [
        (format!("http://127.0.0.2:{port}/"), "loopback"),
        ("http://[::1]/".to_owned(), "loopback"),
        ("http://10.0.0.1/".to_owned(), "private"),
        (
            "http://169.254.169.254/latest/meta-data/".to_owned(),
            "link-local",
        ),
        (format!("http://sneaky.test:{port}/"), "loopback"),
        ("http://intranet.test/".to_owned(), "private"),
    ] {
        match refused(fetcher.get(&url).await) {
            Refusal::Address { kind: k, .. } => assert_eq!(k, kind, "{url}"),
            other => panic!("{url}: {other:?}"),
        }
    }
    assert!(site.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_redirect_to_a_private_address_or_name_is_refused() {
    let site = MockServer::start().await;
    let port = site.address().port();
    for (from, to) in [
        (
            "/to-metadata",
            "http://169.254.169.254/latest/meta-data/".to_owned(),
        ),
        ("/to-loopback", format!("http://127.0.0.3:{port}/")),
        ("/to-intranet", "http://intranet.test/admin".to_owned()),
        ("/to-file", "file:///etc/passwd".to_owned()),
        ("/to-ssh", "http://public.test:22/".to_owned()),
    ] {
        Mock::given(method("GET"))
            .and(path(from))
            .respond_with(ResponseTemplate::new(302).insert_header("location", to.as_str()))
            .mount(&site)
            .await;
    }
    let fetcher = strict(
        &site,
        names(&[("public.test", "127.0.0.1"), ("intranet.test", "10.0.0.1")]),
    );
    let base = format!("http://public.test:{port}");
    assert!(matches!(
        refused(fetcher.get(&format!("{base}/to-metadata")).await),
        Refusal::Address {
            kind: "link-local",
            ..
        }
    ));
    assert!(matches!(
        refused(fetcher.get(&format!("{base}/to-loopback")).await),
        Refusal::Address {
            kind: "loopback",
            ..
        }
    ));
    assert!(matches!(
        refused(fetcher.get(&format!("{base}/to-intranet")).await),
        Refusal::Address {
            kind: "private",
            ..
        }
    ));
    assert_eq!(
        refused(fetcher.get(&format!("{base}/to-file")).await),
        Refusal::Scheme("file".into())
    );
    assert_eq!(
        refused(fetcher.get(&format!("{base}/to-ssh")).await),
        Refusal::Port(22)
    );
}

#[tokio::test]
async fn the_development_setting_reaches_a_local_site_and_nothing_else_changes() {
    let site = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_string("local"))
        .mount(&site)
        .await;
    let port = site.address().port();
    let policy = FetchPolicy {
        ports: vec![port],
        allow_private: true,
        ..FetchPolicy::default()
    };
    let fetcher = Fetcher::new(Guard::new(policy), AGENT).unwrap();
    let page = fetcher
        .get(&format!("http://127.0.0.1:{port}/"))
        .await
        .unwrap();
    assert_eq!(page.body, b"local");
    assert_eq!(
        refused(fetcher.get("http://127.0.0.1:80/").await),
        Refusal::Port(80)
    );
}
