//! Website sources' crawls: the crawl queue (each message one step of one source's crawl) and how
//! politely a site is crawled. What may be fetched at all is [`super::FetchPolicy`].

use super::{ConfigError, Source};
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct CrawlConfig {
    /// The crawl queue (`SQS_CRAWL_QUEUE_URL`): the API and the cron announce crawls on it, and the crawl
    /// worker continues a long crawl through it.
    pub queue_url: Option<String>,
    /// Its dead-letter queue (`SQS_CRAWL_DLQ_URL`), for the admin API.
    pub dlq_url: Option<String>,
    /// The pause between two requests to one site (`CRAWL_DELAY_MS`, default 1000, at most 60000); a
    /// longer `Crawl-delay` in the site's robots.txt wins, up to [`MAX_CRAWL_DELAY`].
    pub delay: Duration,
    /// How long one step of a crawl runs before it hands the rest on through the queue
    /// (`CRAWL_STEP_SECONDS`, 10 to 840, default 240; the function's timeout must exceed it).
    pub step: Duration,
}

/// The longest pause between two requests a robots.txt is obeyed up to (a longer one is shortened to it).
pub const MAX_CRAWL_DELAY: Duration = Duration::from_secs(30);

impl CrawlConfig {
    pub(super) fn from_source(src: &Source) -> Result<Self, ConfigError> {
        let delay = src.parsed("CRAWL_DELAY_MS", 1000u64)?;
        if delay > 60_000 {
            return Err(ConfigError::Invalid {
                name: "CRAWL_DELAY_MS",
                reason: "must be 0 to 60000 (milliseconds)".into(),
            });
        }
        let step = src.parsed("CRAWL_STEP_SECONDS", 240u64)?;
        if !(10..=840).contains(&step) {
            return Err(ConfigError::Invalid {
                name: "CRAWL_STEP_SECONDS",
                reason: "must be 10 to 840 (seconds; below the crawl worker's timeout)".into(),
            });
        }
        Ok(Self {
            queue_url: src.get("SQS_CRAWL_QUEUE_URL").map(str::to_owned),
            dlq_url: src.get("SQS_CRAWL_DLQ_URL").map(str::to_owned),
            delay: Duration::from_millis(delay),
            step: Duration::from_secs(step),
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn delays_and_steps_have_bounds_that_say_what_they_are() {
        let mut src = Source::default();
        let cfg = CrawlConfig::from_source(&src).unwrap();
        assert_eq!(
            (cfg.delay, cfg.step),
            (Duration::from_secs(1), Duration::from_secs(240))
        );
        src.set("CRAWL_DELAY_MS", "60001");
        assert!(matches!(
            CrawlConfig::from_source(&src),
            Err(ConfigError::Invalid {
                name: "CRAWL_DELAY_MS",
                ..
            })
        ));
        src.set("CRAWL_DELAY_MS", "0");
        src.set("CRAWL_STEP_SECONDS", "900");
        assert!(matches!(
            CrawlConfig::from_source(&src),
            Err(ConfigError::Invalid {
                name: "CRAWL_STEP_SECONDS",
                ..
            })
        ));
    }
}
