//! The public side (visitors on a tenant's site): how long a visitor session lasts, where the widget is
//! told the streaming function answers, and the request limits and budget windows of public traffic (the
//! budgets' sizes are each workspace's widget settings).

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
    /// Requests per client IP, per publishable key and per visitor in each `rate_window`.
    pub per_ip: u64,
    pub per_key: u64,
    pub per_visitor: u64,
    /// The window of those three (`PUBLIC_RATE_WINDOW_SECS`, default a minute).
    pub rate_window: Duration,
    /// The "day" of the daily budgets (`PUBLIC_BUDGET_DAY_SECS`, default 86400): a visitor's messages
    /// (sliding) and a workspace's LLM tokens (fixed, from its first token).
    pub day: Duration,
    /// The window a conversation's message cap counts over (`PUBLIC_CONVERSATION_WINDOW_SECS`, default
    /// 30 days: in practice the conversation's life).
    pub conversation_window: Duration,
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
        let positive = |name: &'static str, default: u64| -> Result<u64, ConfigError> {
            let value = src.parsed(name, default)?;
            if value == 0 {
                return Err(ConfigError::Invalid {
                    name,
                    reason: "must be at least 1".into(),
                });
            }
            Ok(value)
        };
        Ok(Self {
            session_ttl: Duration::from_secs(ttl),
            stream_url: stream_url.map(str::to_owned),
            per_ip: positive("PUBLIC_RATE_PER_IP", 120)?,
            per_key: positive("PUBLIC_RATE_PER_KEY", 6000)?,
            per_visitor: positive("PUBLIC_RATE_PER_VISITOR", 60)?,
            rate_window: Duration::from_secs(positive("PUBLIC_RATE_WINDOW_SECS", 60)?),
            day: Duration::from_secs(positive("PUBLIC_BUDGET_DAY_SECS", 86_400)?),
            conversation_window: Duration::from_secs(positive(
                "PUBLIC_CONVERSATION_WINDOW_SECS",
                30 * 86_400,
            )?),
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
    fn when_a_limit_or_window_is_zero_it_is_refused_by_name() {
        for name in ["PUBLIC_RATE_PER_VISITOR", "PUBLIC_BUDGET_DAY_SECS"] {
            let err = read(&[(name, "0")]).expect_err(name);
            assert!(err.to_string().contains(name), "{err}");
        }
        let cfg = read(&[("PUBLIC_BUDGET_DAY_SECS", "2")]).expect("a short day for tests");
        assert_eq!(cfg.day, Duration::from_secs(2));
        assert_eq!(cfg.rate_window, Duration::from_secs(60));
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
