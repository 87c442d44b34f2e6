//! The widget demo: a second port (`DEMO_PORT`) serving a pretend tenant's site with the widget's script
//! tag on it, so that the page is on another origin than the API, as a real site is. `GET /demo?key=pk_…`
//! is the page; `GET /` redirects to it with the key this start made (see [`studio::services::demo`]).

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use html_escape::{encode_double_quoted_attribute as attr, encode_text as text};
use serde::Deserialize;
use std::sync::Arc;
use studio::state::KnowledgeState;

/// The demo page's origins, which the demo key allows.
pub fn origins(demo_port: u16) -> Vec<String> {
    vec![
        format!("http://localhost:{demo_port}"),
        format!("http://127.0.0.1:{demo_port}"),
    ]
}

/// The demo page's address with `key`, as printed at start.
pub fn url(demo_port: u16, key: &str) -> String {
    format!("http://localhost:{demo_port}/demo?key={key}")
}

/// Sets up the demo account, workspace, key and welcome document for the demo page on `demo_port`.
pub async fn bootstrap(
    knowledge: &KnowledgeState,
    demo_port: u16,
) -> anyhow::Result<studio::services::demo::Demo> {
    studio::services::demo::bootstrap(knowledge, &origins(demo_port))
        .await
        .map_err(anyhow::Error::from)
}

#[derive(Clone)]
struct Site {
    api_port: u16,
    key: Arc<str>,
}

/// The demo site: `GET /demo?key=pk_…` (the page, loading the widget from the API on `api_port`) and
/// `GET /` (a redirect to the page with `key`).
pub fn app(api_port: u16, key: &str) -> Router {
    Router::new()
        .route("/", get(home))
        .route("/demo", get(page))
        .with_state(Site {
            api_port,
            key: key.into(),
        })
}

async fn home(State(site): State<Site>) -> Redirect {
    Redirect::to(&format!("/demo?key={}", site.key))
}

#[derive(Deserialize)]
struct PageQuery {
    key: Option<String>,
}

/// The host name the browser used for the demo page (from `Host`, the port stripped): `localhost`,
/// `127.0.0.1` or `[::1]`; anything else is `localhost`.
fn browser_host(headers: &HeaderMap) -> &'static str {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default()
        .trim();
    let name = if host.starts_with('[') {
        host.find(']').map_or(host, |end| &host[..=end])
    } else {
        host.split(':').next().unwrap_or_default()
    };
    match name.to_ascii_lowercase().as_str() {
        "127.0.0.1" => "127.0.0.1",
        "[::1]" => "[::1]",
        _ => "localhost",
    }
}

/// Whether `key` looks like a publishable key: `pk_` and base64url characters, of a sane length.
fn looks_publishable(key: &str) -> bool {
    key.starts_with("pk_")
        && key.len() <= 128
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

const STYLE: &str = "
  :root { color-scheme: light dark; --accent: #0f766e; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 17px/1.6 system-ui, -apple-system, 'Segoe UI', sans-serif; background: Canvas; color: CanvasText; }
  header { background: var(--accent); color: #fff; padding: 1rem 1.5rem; display: flex; align-items: baseline; gap: 1.5rem; flex-wrap: wrap; }
  header strong { font-size: 1.25rem; letter-spacing: .02em; }
  header nav a { color: #e6fffa; margin-right: 1rem; text-decoration: none; }
  main { max-width: 46rem; margin: 0 auto; padding: 2.5rem 1.5rem 6rem; }
  h1 { font-size: 2.1rem; line-height: 1.2; margin: 0 0 1rem; }
  .note { border-left: 4px solid var(--accent); padding: .75rem 1rem; background: color-mix(in srgb, var(--accent) 10%, Canvas); border-radius: 4px; }
  code { font-size: .9em; overflow-wrap: anywhere; }
  footer { text-align: center; opacity: .7; font-size: .85rem; padding: 2rem; }
";

/// The page: a pretend tenant's site with the widget's script tag, or a 400 page saying how to get a key.
async fn page(
    State(site): State<Site>,
    headers: HeaderMap,
    Query(query): Query<PageQuery>,
) -> Response {
    let host = browser_host(&headers);
    let api = format!("http://{host}:{}", site.api_port);
    let key = query.key.as_deref().map(str::trim).unwrap_or_default();
    let (status, body) = if looks_publishable(key) {
        let body = format!(
            "<header><strong>Northwind Outfitters</strong><nav><a href=\"#\">Shop</a><a href=\"#\">Shipping</a><a href=\"#\">Returns</a></nav></header>
<main>
<h1>Gear for every trail</h1>
<p>Welcome to Northwind Outfitters, a pretend shop for trying out the Soft Systems Studio chat widget. Open the chat in the corner and ask it something: it answers from the documents in the Demo workspace's knowledge base, and shows where each answer came from.</p>
<p class=\"note\">This page is served from its own port, so it is another origin than the API, like a real tenant's site. Its one line of integration:<br><code>&lt;script src=\"{api_text}/widget/v1/widget.js\" data-key=\"pk_…\" async&gt;&lt;/script&gt;</code></p>
</main>
<footer>Soft Systems Studio — widget demo</footer>
<script src=\"{api_attr}/widget/v1/widget.js\" data-key=\"{key_attr}\" async></script>",
            api_text = text(&api),
            api_attr = attr(&api),
            key_attr = attr(key),
        );
        (StatusCode::OK, body)
    } else {
        let what = if key.is_empty() {
            "missing"
        } else {
            "not a publishable key"
        };
        let body = format!(
            "<header><strong>Northwind Outfitters</strong></header>
<main>
<h1>The widget needs a publishable key</h1>
<p>The <code>key</code> in this page's address is {what}. Open the <code>Widget demo:</code> address that <code>cargo run -p devserver</code> prints when it starts (it makes a fresh key each time), or <a href=\"/\">this one</a>.</p>
<p>Or create a publishable key yourself, as an admin of a workspace: <code>POST {api_text}/api/v1/workspaces/{{workspaceId}}/api-keys</code> with <code>{{\"name\": \"demo\", \"kind\": \"publishable\", \"allowedOrigins\": [\"http://localhost:{port}\"]}}</code>, and open <code>/demo?key=pk_ws_…</code> with it.</p>
</main>",
            api_text = text(&api),
            port = site_port(&headers),
        );
        (StatusCode::BAD_REQUEST, body)
    };
    let html = format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>Northwind Outfitters — widget demo</title>\n<style>{STYLE}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n"
    );
    let csp = format!(
        "default-src 'none'; script-src {api}; connect-src {api}; img-src {api} data:; style-src 'unsafe-inline'; font-src {api} data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    );
    let mut response = (status, html).into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    if let Ok(csp) = HeaderValue::from_str(&csp) {
        h.insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The demo page's own port, from `Host` (for the how-to), else `DEMO_PORT`'s placeholder.
fn site_port(headers: &HeaderMap) -> String {
    headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.rsplit_once(':'))
        .map(|(_, port)| port)
        .filter(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        .unwrap_or("DEMO_PORT")
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(value: &'static str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_static(value));
        h
    }

    #[test]
    fn the_browsers_host_is_one_of_the_loopback_names_else_localhost() {
        for (value, expected) in [
            ("localhost:3001", "localhost"),
            ("LOCALHOST:3001", "localhost"),
            ("127.0.0.1:3001", "127.0.0.1"),
            ("127.0.0.1", "127.0.0.1"),
            ("[::1]:3001", "[::1]"),
            ("evil.example.com:3001", "localhost"),
            ("127.0.0.1.evil.example", "localhost"),
            ("[::2]:3001", "localhost"),
        ] {
            assert_eq!(browser_host(&host(value)), expected, "{value}");
        }
        assert_eq!(browser_host(&HeaderMap::new()), "localhost");
    }

    #[test]
    fn only_keys_of_the_publishable_shape_are_accepted() {
        assert!(looks_publishable(
            "pk_ws_AbC-123_xyzAbC-123_xyzAbC-123_xyzAbC-123_x"
        ));
        for bad in [
            "",
            "sk_ws_abc",
            "pk_\"><script>alert(1)</script>",
            "pk_ws_a b",
            "pk_ws_<",
        ] {
            assert!(!looks_publishable(bad), "{bad}");
        }
        assert!(!looks_publishable(&format!("pk_{}", "a".repeat(200))));
    }
}
