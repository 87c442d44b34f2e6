//! The embeddable chat widget's two files, built into the function (`widget/dist/`, built from
//! `widget/src/` and committed): the small loader a tenant's page names in its script tag,
//! `GET /widget/v1/widget.js` (cached for minutes, so a fix reaches every visitor soon), and the bundle it
//! loads, `GET /widget/v1/widget.<hash>.js`, named by its content's hash (cached for a year, immutable).
//!
//! Both are public static scripts: they answer any origin (`Access-Control-Allow-Origin: *`, never
//! credentials, so a `<script crossorigin>` works), carry a strong `ETag` (`If-None-Match` → 304), and are
//! gzipped once, at first use, for clients that accept it. They are outside `/api/v1/public/*`, so the
//! per-key CORS of the public routes does not apply to them, and the member API's rate limit skips them
//! (see `studio::http::ratelimit`): they are served from memory.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::sync::{LazyLock, OnceLock};
use studio::error::ErrorBody;
use studio::http::Path;
use studio::{ApiError, ErrorCode};

/// Where the widget's files are served.
pub const PREFIX: &str = "/widget/v1/";
/// The loader's path: what a tenant's script tag names.
pub const LOADER_PATH: &str = "/widget/v1/widget.js";
/// What the loader names the bundle by; replaced with [`bundle_file_name`] when served.
pub const BUNDLE_PLACEHOLDER: &str = "__STUDIO_WIDGET_BUNDLE__";

const LOADER_SOURCE: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../widget/dist/loader.js"
));
const BUNDLE_SOURCE: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../widget/dist/widget.js"
));

/// How many times `needle` occurs in `haystack` (at compile time).
const fn occurrences(haystack: &[u8], needle: &[u8]) -> usize {
    let mut count = 0;
    let mut i = 0;
    while i + needle.len() <= haystack.len() {
        let mut j = 0;
        while j < needle.len() && haystack[i + j] == needle[j] {
            j += 1;
        }
        if j == needle.len() {
            count += 1;
        }
        i += 1;
    }
    count
}

// The loader must name the bundle exactly once: a build with a loader that does not fails here, not in a
// visitor's browser.
const _: () = assert!(
    occurrences(LOADER_SOURCE.as_bytes(), BUNDLE_PLACEHOLDER.as_bytes()) == 1,
    "widget/dist/loader.js must contain __STUDIO_WIDGET_BUNDLE__ exactly once"
);

const LOADER_CACHE: &str = "public, max-age=300";
const BUNDLE_CACHE: &str = "public, max-age=31536000, immutable";

/// The first 16 hex digits of the SHA-256 of `bytes`.
fn short_hash(bytes: &[u8]) -> String {
    hex::encode(&Sha256::digest(bytes)[..8])
}

/// One file as served: its bytes, its strong entity tag, and its gzipped copy (made on first use).
struct Asset {
    bytes: &'static [u8],
    hash: String,
    gzipped: OnceLock<Option<Gzipped>>,
}

struct Gzipped {
    bytes: Vec<u8>,
    etag: HeaderValue,
}

impl Asset {
    fn new(bytes: &'static [u8]) -> Self {
        Self {
            hash: short_hash(bytes),
            bytes,
            gzipped: OnceLock::new(),
        }
    }

    fn etag(&self) -> HeaderValue {
        quoted(&self.hash)
    }

    /// The gzipped copy, compressed once; `None` if compressing failed (then the bytes go as they are).
    fn gzipped(&self) -> Option<&Gzipped> {
        self.gzipped
            .get_or_init(|| {
                let mut encoder =
                    flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
                match encoder.write_all(self.bytes).and_then(|()| encoder.finish()) {
                    Ok(bytes) => Some(Gzipped {
                        bytes,
                        // Another representation, so another strong tag.
                        etag: quoted(&format!("{}-gzip", self.hash)),
                    }),
                    Err(e) => {
                        tracing::error!(error = %e, "gzipping a widget file failed; serving it uncompressed");
                        None
                    }
                }
            })
            .as_ref()
    }
}

fn quoted(tag: &str) -> HeaderValue {
    // Hex digits and a dash: always a valid header value.
    HeaderValue::from_str(&format!("\"{tag}\"")).unwrap_or(HeaderValue::from_static("\"\""))
}

static BUNDLE: LazyLock<Asset> = LazyLock::new(|| Asset::new(BUNDLE_SOURCE));
static BUNDLE_NAME: LazyLock<String> = LazyLock::new(|| format!("widget.{}.js", BUNDLE.hash));
static LOADER: LazyLock<Asset> = LazyLock::new(|| {
    let served = LOADER_SOURCE.replacen(BUNDLE_PLACEHOLDER, bundle_file_name(), 1);
    Asset::new(Box::leak(served.into_boxed_str()).as_bytes())
});

/// The bundle's file name, `widget.<first 16 hex digits of its SHA-256>.js`.
pub fn bundle_file_name() -> &'static str {
    &BUNDLE_NAME
}

/// The bundle's path, `/widget/v1/widget.<hash>.js` (what the served loader loads).
pub fn bundle_path() -> String {
    format!("{PREFIX}{}", bundle_file_name())
}

/// The loader as served: `widget/dist/loader.js` naming the current bundle.
pub fn loader_source() -> &'static [u8] {
    LOADER.bytes
}

/// The bundle as served: `widget/dist/widget.js`, byte for byte.
pub fn bundle_source() -> &'static [u8] {
    BUNDLE.bytes
}

/// Whether `Accept-Encoding` allows gzip: `gzip` (or `x-gzip`, or `*`) with a non-zero quality, unless
/// gzip itself is refused with `q=0`.
fn accepts_gzip(headers: &HeaderMap) -> bool {
    let mut star = false;
    for value in headers.get_all(header::ACCEPT_ENCODING) {
        let Ok(value) = value.to_str() else { continue };
        for item in value.split(',') {
            let mut parts = item.split(';');
            let coding = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
            let refused = parts.any(|p| {
                let p = p.trim();
                p.strip_prefix("q=")
                    .or_else(|| p.strip_prefix("Q="))
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            match coding.as_str() {
                "gzip" | "x-gzip" => return !refused,
                "*" => star = !refused,
                _ => {}
            }
        }
    }
    star
}

/// Whether `If-None-Match` names `etag` (weak comparison, as RFC 9110 asks for this header) or is `*`.
fn not_modified(headers: &HeaderMap, etag: &HeaderValue) -> bool {
    let Ok(ours) = etag.to_str() else {
        return false;
    };
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == ours)
}

/// The answer for `asset`: 304 when the client has it, else the file (gzipped when accepted), with the
/// headers every widget file carries.
fn serve(asset: &'static Asset, cache: &'static str, request: &HeaderMap) -> Response {
    let gzip = if accepts_gzip(request) {
        asset.gzipped()
    } else {
        None
    };
    let (body, etag): (&'static [u8], HeaderValue) = match gzip {
        Some(g) => (g.bytes.as_slice(), g.etag.clone()),
        None => (asset.bytes, asset.etag()),
    };
    let mut response = if not_modified(request, &etag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut r = body.into_response();
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/javascript; charset=utf-8"),
        );
        if gzip.is_some() {
            r.headers_mut()
                .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        }
        r
    };
    let h = response.headers_mut();
    h.insert(header::ETAG, etag);
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        "cross-origin-resource-policy",
        HeaderValue::from_static("cross-origin"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    response
}

/// The widget's loader: the script a tenant's page includes. It loads the current bundle
/// (`/widget/v1/widget.<hash>.js`) and hands it the tag's `data-` options (`data-key`: the workspace's
/// publishable key). Cached for five minutes, so a new bundle reaches every visitor within minutes; send
/// `If-None-Match` with the `ETag` to get a 304. Any origin may load it (`<script crossorigin>` too).
#[utoipa::path(operation_id = "widgetLoader", get, path = "/widget/v1/widget.js", tag = "widget",
    params(
        ("If-None-Match" = Option<String>, Header, description = "The `ETag` of a copy you hold: 304 when it is current"),
        ("Accept-Encoding" = Option<String>, Header, description = "With `gzip`, the script comes gzipped (`Content-Encoding: gzip`)")),
    responses(
        (status = 200, description = "The loader (`Cache-Control: public, max-age=300`, a strong `ETag`)", content_type = "text/javascript", body = String),
        (status = 304, description = "The copy named by `If-None-Match` is current")))]
pub(crate) async fn loader(request: HeaderMap) -> Response {
    serve(&LOADER, LOADER_CACHE, &request)
}

/// The widget's bundle, named by the hash of its content: the loader names the current one. Immutable,
/// cached for a year. Any other name (an earlier bundle's, say) is a 404: load `/widget/v1/widget.js`.
#[utoipa::path(operation_id = "widgetBundle", get, path = "/widget/v1/{file}", tag = "widget",
    params(
        ("file" = String, Path, description = "`widget.<hash>.js`, as the loader names it"),
        ("If-None-Match" = Option<String>, Header, description = "The `ETag` of a copy you hold: 304 when it is current"),
        ("Accept-Encoding" = Option<String>, Header, description = "With `gzip`, the script comes gzipped (`Content-Encoding: gzip`)")),
    responses(
        (status = 200, description = "The bundle (`Cache-Control: public, max-age=31536000, immutable`, a strong `ETag`)", content_type = "text/javascript", body = String),
        (status = 304, description = "The copy named by `If-None-Match` is current"),
        (status = 404, description = "Not the current bundle's name (not_found)", body = ErrorBody)))]
pub(crate) async fn bundle(
    Path(file): Path<String>,
    request: HeaderMap,
) -> Result<Response, ApiError> {
    if file != bundle_file_name() {
        return Err(ApiError::new(
            ErrorCode::NotFound,
            format!("This widget file is unknown (an earlier bundle's, or none): load {LOADER_PATH}, which names the current bundle."),
        )
        .with_header(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("*"),
        ));
    }
    Ok(serve(&BUNDLE, BUNDLE_CACHE, &request))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn with(name: header::HeaderName, value: &'static str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(name, HeaderValue::from_static(value));
        h
    }

    #[test]
    fn gzip_is_chosen_only_when_accepted() {
        for (value, gzip) in [
            ("gzip", true),
            ("gzip, deflate, br, zstd", true),
            ("br;q=1.0, gzip;q=0.8", true),
            ("GZIP", true),
            ("x-gzip", true),
            ("*", true),
            ("br", false),
            ("identity", false),
            ("gzip;q=0", false),
            ("gzip; q=0.000", false),
            ("*, gzip;q=0", false),
            ("*;q=0", false),
        ] {
            assert_eq!(
                accepts_gzip(&with(header::ACCEPT_ENCODING, value)),
                gzip,
                "{value}"
            );
        }
        assert!(!accepts_gzip(&HeaderMap::new()));
    }

    #[test]
    fn if_none_match_compares_weakly_and_accepts_a_list_and_star() {
        let etag = quoted("abc");
        for (value, matches) in [
            ("\"abc\"", true),
            ("W/\"abc\"", true),
            ("\"x\", \"abc\"", true),
            ("*", true),
            ("\"abd\"", false),
            ("abc", false),
        ] {
            assert_eq!(
                not_modified(&with(header::IF_NONE_MATCH, value), &etag),
                matches,
                "{value}"
            );
        }
    }

    #[test]
    fn the_loader_names_the_bundle_by_its_hash_and_the_gzipped_copy_inflates_to_it() {
        let name = bundle_file_name();
        assert_eq!(name.len(), "widget..js".len() + 16);
        assert!(
            name[7..23]
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
        let loader = std::str::from_utf8(loader_source()).unwrap();
        assert!(loader.contains(name) && !loader.contains(BUNDLE_PLACEHOLDER));
        let gz = BUNDLE.gzipped().unwrap();
        let mut inflated = Vec::new();
        std::io::Read::read_to_end(
            &mut flate2::read::GzDecoder::new(gz.bytes.as_slice()),
            &mut inflated,
        )
        .unwrap();
        assert_eq!(inflated, BUNDLE_SOURCE);
    }
}
