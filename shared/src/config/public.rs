//! The public side (visitors on a tenant's site): how long a visitor session lasts, and where the widget
//! is told the streaming function answers.

use super::{ConfigError, Source};
use std::time::Duration;

/// The longest a visitor session may last: an hour (renewal is a new session).
pub const MAX_SESSION_TTL_SECS: u64 = 3600;

#[derive(Debug, Clone)]
pub struct PublicConfig {
    /// How long a visitor session lasts (`PUBLIC_SESSION_TTL_SECS`, 60 to 3600).
    pub session_ttl: Duration,
    /// The public stream route's absolute URL (`PUBLIC_STREAM_URL`: on Lambda the streaming function's
    /// Function URL + `/api/v1/public/stream`); unset: the request's own host, as the devserver serves it.
    pub stream_url: Option<String>,
}

impl PublicConfig {
    pub(super) fn from_source(src: &Source) -> Result<Self, ConfigError> {
        let ttl = src.parsed("PUBLIC_SESSION_TTL_SECS", MAX_SESSION_TTL_SECS)?;
        if !(60..=MAX_SESSION_TTL_SECS).contains(&ttl) {
            return Err(ConfigError::Invalid {
                name: "PUBLIC_SESSION_TTL_SECS",
                reason: format!("must be from 60 to {MAX_SESSION_TTL_SECS} (an hour)"),
            });
        }
        let stream_url = src
            .get("PUBLIC_STREAM_URL")
            .map(str::trim)
            .filter(|u| !u.is_empty());
        if let Some(url) = stream_url
            && !(url.starts_with("https://") || url.starts_with("http://"))
        {
            return Err(ConfigError::Invalid {
                name: "PUBLIC_STREAM_URL",
                reason: format!(
                    "{url:?} is not an absolute http(s) URL such as https://abc.lambda-url.eu-west-1.on.aws/api/v1/public/stream"
                ),
            });
        }
        Ok(Self {
            session_ttl: Duration::from_secs(ttl),
            stream_url: stream_url.map(str::to_owned),
        })
    }
}

#[cfg(test)]
#[allow(clippy::expect_used)]
mod tests {
    use super::*;

    fn read(pairs: &[(&str, &str)]) -> Result<PublicConfig, ConfigError> {
        PublicConfig::from_source(&Source::from_pairs(pairs.iter().copied()))
    }

    #[test]
    fn when_nothing_is_set_a_session_lasts_an_hour_and_the_stream_is_on_the_request_host() {
        let cfg = read(&[]).expect("defaults");
        assert_eq!(cfg.session_ttl, Duration::from_secs(3600));
        assert_eq!(cfg.stream_url, None);
    }

    #[test]
    fn when_a_session_ttl_is_over_an_hour_or_under_a_minute_it_is_refused_by_name() {
        for value in ["59", "3601", "0"] {
            let err = read(&[("PUBLIC_SESSION_TTL_SECS", value)]).expect_err(value);
            assert!(err.to_string().contains("PUBLIC_SESSION_TTL_SECS"), "{err}");
        }
        let cfg = read(&[("PUBLIC_SESSION_TTL_SECS", "600")]).expect("10 minutes");
        assert_eq!(cfg.session_ttl, Duration::from_secs(600));
    }

    #[test]
    fn when_the_stream_url_is_not_absolute_it_is_refused_by_name() {
        let err = read(&[("PUBLIC_STREAM_URL", "/api/v1/public/stream")]).expect_err("relative");
        assert!(err.to_string().contains("PUBLIC_STREAM_URL"), "{err}");
        let cfg = read(&[(
            "PUBLIC_STREAM_URL",
            "https://x.lambda-url.eu-west-1.on.aws/api/v1/public/stream",
        )])
        .expect("absolute");
        assert!(cfg.stream_url.is_some());
    }
}
