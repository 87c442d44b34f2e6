//! The browser origins allowed to call the API (`CORS_ALLOWED_ORIGINS`); locally `APP_URL`'s origin by
//! default, on Lambda only what is listed.

use super::{ConfigError, Source};

/// The listed origins, each checked to be an origin (no wildcard).
pub(super) fn allowed_origins(src: &Source) -> Result<Vec<String>, ConfigError> {
    let origins: Vec<String> = src
        .get("CORS_ALLOWED_ORIGINS")
        .map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|o| !o.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    for origin in &origins {
        if origin == "*" || !(origin.starts_with("https://") || origin.starts_with("http://")) {
            return Err(ConfigError::Invalid {
                name: "CORS_ALLOWED_ORIGINS",
                reason: format!(
                    "{origin:?} is not an origin like https://app.example.com (wildcards are not allowed)"
                ),
            });
        }
    }
    Ok(origins)
}

/// The origin (`scheme://host[:port]`) of an http(s) URL.
pub(super) fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    if scheme != "http" && scheme != "https" {
        return None;
    }
    let authority = rest.split(['/', '?', '#']).next()?;
    (!authority.is_empty()).then(|| format!("{scheme}://{authority}"))
}
