//! The one "required on Lambda" check: on Lambda no local default may stand in, so a function's cold start
//! fails naming every variable its needs leave unset (and `APP_URL`, which every function needs).

use super::{Config, ConfigError};

/// What a function uses, for the one "required on Lambda" check, [`Config::require_on_lambda`]: each
/// names the variables it needs there. `APP_URL` is needed by every function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Rate limits shared by every container (the core state): Upstash.
    RateLimits,
    /// The knowledge base's outside systems: OpenAI and Qdrant.
    Knowledge,
    /// The ingest queue (the knowledge state sends to it).
    IngestQueue,
    /// Mail sent through SES: the sender.
    Mail,
    /// The email queue (its consumer delays retries through it).
    EmailQueue,
    /// Stripe's webhook signing secret(s).
    StripeWebhook,
    /// The uploads bucket (granting, reading or deleting uploaded files).
    Uploads,
    /// The extract queue (its consumer delays retries through it).
    ExtractQueue,
    /// The crawl queue (the API and the cron announce crawls on it; its consumer continues through it).
    CrawlQueue,
}

impl Config {
    /// On Lambda, fails naming every variable that is missing for what the function `needs` (and
    /// `APP_URL`, which every function needs); elsewhere local defaults serve and this passes.
    pub fn require_on_lambda(&self, needs: &[Need]) -> Result<(), ConfigError> {
        if !self.on_lambda {
            return Ok(());
        }
        let mut missing = Vec::new();
        if !self.app_url_set {
            missing.push("APP_URL");
        }
        let (k, rl, ops) = (&self.knowledge, &self.rate_limits, &self.ops);
        for need in needs {
            let unset: &[(&'static str, bool)] = match need {
                Need::RateLimits => &[
                    ("UPSTASH_REDIS_REST_URL", rl.upstash_url.is_none()),
                    ("UPSTASH_REDIS_REST_TOKEN", rl.upstash_token.is_none()),
                ],
                Need::Knowledge => &[
                    ("OPENAI_API_KEY", k.openai_api_key.is_none()),
                    ("QDRANT_URL", k.qdrant_url.is_none()),
                ],
                Need::IngestQueue => &[("SQS_INGEST_QUEUE_URL", k.ingest_queue_url.is_none())],
                Need::Mail => &[("EMAIL_FROM", ops.email_from.is_none())],
                Need::EmailQueue => &[("SQS_EMAIL_QUEUE_URL", ops.email_queue_url.is_none())],
                Need::Uploads => &[("UPLOADS_BUCKET", self.uploads.bucket.is_none())],
                Need::ExtractQueue => &[(
                    "SQS_EXTRACT_QUEUE_URL",
                    self.uploads.extract_queue_url.is_none(),
                )],
                Need::CrawlQueue => &[("SQS_CRAWL_QUEUE_URL", self.crawl.queue_url.is_none())],
                Need::StripeWebhook => &[(
                    "STRIPE_WEBHOOK_SECRET",
                    self.billing.webhook_secrets.is_empty(),
                )],
            };
            for &(name, is_unset) in unset {
                if is_unset && !missing.contains(&name) {
                    missing.push(name);
                }
            }
        }
        if missing.is_empty() {
            Ok(())
        } else {
            Err(ConfigError::MissingOnLambda(missing))
        }
    }
}
