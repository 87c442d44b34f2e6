//! The widget's script files: the loader names the content-hashed bundle, which is `widget/dist/widget.js`
//! byte for byte; both revalidate with their `ETag`, the bundle is immutable and the loader cached for
//! minutes; a stale bundle name is a JSON 404; any page may load them, and no credentials are offered.

use crate::support::{setup, setup_with};
use axum::body::Body;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::BodyExt;
use std::io::Read;
use studio_testing::TestApp;
use tower::ServiceExt;

const BUNDLE: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../widget/dist/widget.js"
));
const LOADER: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../widget/dist/loader.js"
));

struct Raw {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Raw {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }

    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

/// A request through every layer the function runs behind, its body as bytes.
async fn fetch(app: &TestApp, method: Method, path: &str, headers: &[(&str, &str)]) -> Raw {
    let mut builder = Request::builder().method(method).uri(path);
    for (k, v) in headers {
        builder = builder.header(*k, *v);
    }
    let response = app
        .router
        .clone()
        .oneshot(builder.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let (parts, body) = response.into_parts();
    Raw {
        status: parts.status,
        headers: parts.headers,
        body: body.collect().await.unwrap().to_bytes().to_vec(),
    }
}

async fn get(app: &TestApp, path: &str, headers: &[(&str, &str)]) -> Raw {
    fetch(app, Method::GET, path, headers).await
}

fn sha256_hex16(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(&sha2::Sha256::digest(bytes)[..8])
}

/// The bundle's path as the served loader names it.
fn bundle_path_in(loader: &[u8]) -> String {
    let text = std::str::from_utf8(loader).unwrap();
    let start = text.find("widget.").expect("the loader names a bundle");
    let name: String = text[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '.')
        .collect();
    format!("/widget/v1/{name}")
}

fn assert_script_headers(res: &Raw) {
    assert_eq!(
        res.header("content-type"),
        Some("text/javascript; charset=utf-8")
    );
    assert_eq!(res.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(
        res.header("cross-origin-resource-policy"),
        Some("cross-origin")
    );
    assert_eq!(res.header("access-control-allow-origin"), Some("*"));
    assert!(res.header("access-control-allow-credentials").is_none());
    let etag = res.header("etag").expect("an ETag");
    assert!(
        etag.starts_with('"') && etag.ends_with('"') && !etag.starts_with("W/"),
        "a strong ETag: {etag}"
    );
    // Served from memory: the member API's rate limiter is not asked.
    assert!(res.header("ratelimit-limit").is_none());
}

#[tokio::test]
async fn when_a_page_loads_the_loader_it_names_the_bundle_which_is_the_built_file_byte_for_byte() {
    let p = setup().await;
    let loader = get(&p.app, "/widget/v1/widget.js", &[]).await;
    assert_eq!(loader.status, StatusCode::OK);
    assert_script_headers(&loader);
    assert_eq!(loader.header("cache-control"), Some("public, max-age=300"));
    let name = format!("widget.{}.js", sha256_hex16(BUNDLE));
    assert_eq!(
        std::str::from_utf8(&loader.body).unwrap(),
        LOADER.replacen("__STUDIO_WIDGET_BUNDLE__", &name, 1),
        "the loader is widget/dist/loader.js naming the bundle"
    );
    assert_eq!(bundle_path_in(&loader.body), format!("/widget/v1/{name}"));
    assert_eq!(public_api::widget::bundle_file_name(), name);
    assert_eq!(
        public_api::widget::bundle_path(),
        format!("/widget/v1/{name}")
    );

    let bundle = get(&p.app, &bundle_path_in(&loader.body), &[]).await;
    assert_eq!(bundle.status, StatusCode::OK);
    assert_script_headers(&bundle);
    assert_eq!(
        bundle.header("cache-control"),
        Some("public, max-age=31536000, immutable")
    );
    assert_eq!(bundle.body, BUNDLE, "the bundle is widget/dist/widget.js");
    assert_ne!(bundle.header("etag"), loader.header("etag"));

    // HEAD answers the same headers, no body.
    let head = fetch(&p.app, Method::HEAD, "/widget/v1/widget.js", &[]).await;
    assert_eq!(head.status, StatusCode::OK);
    assert_eq!(head.header("etag"), loader.header("etag"));
    assert!(head.body.is_empty());
}

#[tokio::test]
async fn when_the_client_holds_the_current_copy_both_files_answer_304_without_a_body() {
    let p = setup().await;
    for path in [
        "/widget/v1/widget.js".to_owned(),
        public_api::widget::bundle_path(),
    ] {
        let first = get(&p.app, &path, &[]).await;
        let etag = first.header("etag").unwrap().to_owned();
        for validator in [
            etag.clone(),
            format!("W/{etag}"),
            format!("\"other\", {etag}"),
        ] {
            let again = get(&p.app, &path, &[("if-none-match", &validator)]).await;
            assert_eq!(again.status, StatusCode::NOT_MODIFIED, "{path} {validator}");
            assert!(again.body.is_empty());
            assert_eq!(again.header("etag"), Some(etag.as_str()));
            assert_eq!(again.header("cache-control"), first.header("cache-control"));
        }
        let changed = get(&p.app, &path, &[("if-none-match", "\"0000000000000000\"")]).await;
        assert_eq!(changed.status, StatusCode::OK, "{path}");
        assert!(!changed.body.is_empty());
    }
}

#[tokio::test]
async fn when_the_client_accepts_gzip_the_files_come_gzipped_with_their_own_etag() {
    let p = setup().await;
    let plain = get(&p.app, &public_api::widget::bundle_path(), &[]).await;
    assert!(plain.header("content-encoding").is_none());
    assert_eq!(plain.header("vary"), Some("accept-encoding"));
    let gz = get(
        &p.app,
        &public_api::widget::bundle_path(),
        &[("accept-encoding", "gzip, deflate, br")],
    )
    .await;
    assert_eq!(gz.status, StatusCode::OK);
    assert_eq!(gz.header("content-encoding"), Some("gzip"));
    assert_eq!(gz.header("vary"), Some("accept-encoding"));
    assert_script_headers(&gz);
    assert_ne!(gz.header("etag"), plain.header("etag"));
    let mut inflated = Vec::new();
    flate2::read::GzDecoder::new(gz.body.as_slice())
        .read_to_end(&mut inflated)
        .unwrap();
    assert_eq!(inflated, BUNDLE);
    let again = get(
        &p.app,
        &public_api::widget::bundle_path(),
        &[
            ("accept-encoding", "gzip"),
            ("if-none-match", gz.header("etag").unwrap()),
        ],
    )
    .await;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);
    let refused = get(
        &p.app,
        "/widget/v1/widget.js",
        &[("accept-encoding", "gzip;q=0, br")],
    )
    .await;
    assert!(refused.header("content-encoding").is_none());
}

#[tokio::test]
async fn when_a_bundle_name_is_stale_or_unknown_the_answer_is_a_json_404_pointing_at_the_loader() {
    let p = setup().await;
    let current = public_api::widget::bundle_file_name();
    let stale = format!("widget.{}.js", "0123456789abcdef");
    assert_ne!(stale, current);
    for file in [
        stale.as_str(),
        "widget.js.map",
        "loader.js",
        &current.to_uppercase(),
        &format!("{current}x"),
    ] {
        let res = get(&p.app, &format!("/widget/v1/{file}"), &[]).await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{file}");
        let body = res.json();
        assert_eq!(body["error"]["code"], "not_found");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains("/widget/v1/widget.js"), "{message}");
        assert!(body["error"]["requestId"].is_string());
        assert!(
            res.header("cache-control")
                .is_none_or(|c| !c.contains("immutable"))
        );
    }
}

#[tokio::test]
async fn when_any_page_loads_the_files_with_any_origin_they_are_served_without_credentials() {
    // A member origin configured too: neither the member API's CORS nor the public routes' per-key CORS
    // refuses the widget's files, and neither offers credentials.
    let p = setup_with(&[("CORS_ALLOWED_ORIGINS", "https://app.example.com")]).await;
    for origin in [
        "https://evil.example.net",
        "null",
        "https://app.example.com",
        "http://localhost:3001",
    ] {
        for path in [
            "/widget/v1/widget.js".to_owned(),
            public_api::widget::bundle_path(),
        ] {
            let res = get(&p.app, &path, &[("origin", origin)]).await;
            assert_eq!(res.status, StatusCode::OK, "{origin} {path}");
            assert!(
                res.header("access-control-allow-credentials").is_none(),
                "{origin} {path}"
            );
            let allowed = res.header("access-control-allow-origin").unwrap();
            assert!(
                allowed == "*" || allowed == origin,
                "{origin} {path}: {allowed}"
            );
            assert_eq!(
                res.header("content-type"),
                Some("text/javascript; charset=utf-8")
            );
        }
    }
    // A page that is not on any list gets the wildcard: the script is public.
    let res = get(
        &p.app,
        "/widget/v1/widget.js",
        &[("origin", "https://evil.example.net")],
    )
    .await;
    assert_eq!(res.header("access-control-allow-origin"), Some("*"));
}

#[tokio::test]
async fn when_the_sample_events_are_replayed_the_loader_answers_gzipped_and_the_stale_bundle_404s()
{
    let p = setup().await;
    let loader = p
        .app
        .call(studio_testing::lambda_event(
            "public-widget-loader.json",
            "",
        ))
        .await;
    assert_eq!(loader.status, StatusCode::OK);
    assert_eq!(loader.headers.get("content-encoding").unwrap(), "gzip");
    assert_eq!(
        loader.headers.get("cache-control").unwrap(),
        "public, max-age=300"
    );
    let stale = p
        .app
        .call(studio_testing::lambda_event("public-widget-stale.json", ""))
        .await;
    assert_eq!(stale.status, StatusCode::NOT_FOUND);
    assert_eq!(stale.body["error"]["code"], "not_found");
}
