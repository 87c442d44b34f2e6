//! Typed configuration, read once per cold start.
//!
//! Values come from environment variables; when `APP_SECRETS_ARN` is set, one AWS Secrets Manager secret
//! (a JSON object with the same key names) is fetched and its values win. Missing required values fail
//! start-up with a message naming the variable. Secrets are wrapped in [`SecretString`] and never logged.

use secrecy::{ExposeSecret, SecretString};
use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

/// Why configuration could not be read. Each variant names the variable.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "missing required configuration {0}: set it in the environment or in the APP_SECRETS_ARN secret"
    )]
    Missing(&'static str),
    /// On Lambda no local default stands in: every variable the function needs, named at once.
    #[error(
        "missing required configuration {}: on AWS Lambda no local default stands in; set them in the environment or in the APP_SECRETS_ARN secret",
        .0.join(", ")
    )]
    MissingOnLambda(Vec<&'static str>),
    #[error("invalid configuration {name}: {reason}")]
    Invalid { name: &'static str, reason: String },
    #[error("could not read the secret named by APP_SECRETS_ARN ({arn}): {reason}")]
    Secret { arn: String, reason: String },
}

/// The raw key/value view configuration is built from: the environment, overlaid by the secret.
#[derive(Clone, Default)]
pub struct Source {
    values: HashMap<String, String>,
}

impl fmt::Debug for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Keys only: values may be secrets.
        let mut keys: Vec<_> = self.values.keys().collect();
        keys.sort();
        f.debug_struct("Source").field("keys", &keys).finish()
    }
}

impl Source {
    pub fn from_env() -> Self {
        Self {
            values: std::env::vars().collect(),
        }
    }

    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        Self {
            values: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }

    pub fn set(&mut self, key: impl Into<String>, value: impl Into<String>) {
        self.values.insert(key.into(), value.into());
    }

    /// Sets `key` only when it is absent or empty (used by the devserver for generated dev values).
    pub fn set_default(&mut self, key: &str, value: impl Into<String>) -> bool {
        if self.get(key).is_none() {
            self.values.insert(key.to_owned(), value.into());
            true
        } else {
            false
        }
    }

    /// A present, non-empty value. An empty variable counts as unset: it never silently becomes "".
    pub fn get(&self, key: &str) -> Option<&str> {
        self.values
            .get(key)
            .map(String::as_str)
            .map(str::trim)
            .filter(|v| !v.is_empty())
    }

    fn required(&self, key: &'static str) -> Result<&str, ConfigError> {
        self.get(key).ok_or(ConfigError::Missing(key))
    }

    fn parsed<T: std::str::FromStr>(&self, key: &'static str, default: T) -> Result<T, ConfigError>
    where
        T::Err: fmt::Display,
    {
        match self.get(key) {
            None => Ok(default),
            Some(raw) => raw.parse().map_err(|e: T::Err| ConfigError::Invalid {
                name: key,
                reason: format!("{raw:?}: {e}"),
            }),
        }
    }

    /// Overlays a Secrets Manager JSON object: its values win. Non-string values are used as their JSON text.
    pub fn overlay_secret_json(&mut self, json: &str, arn: &str) -> Result<(), ConfigError> {
        let object: serde_json::Map<String, serde_json::Value> = serde_json::from_str(json)
            .map_err(|e| ConfigError::Secret {
                arn: arn.to_owned(),
                reason: format!("the secret must be a JSON object of configuration keys ({e})"),
            })?;
        for (key, value) in object {
            let value = match value {
                serde_json::Value::String(s) => s,
                serde_json::Value::Null => continue,
                other => other.to_string(),
            };
            self.values.insert(key, value);
        }
        Ok(())
    }

    /// The environment plus, when `APP_SECRETS_ARN` is set, the secret's values (which win).
    pub async fn load() -> Result<Self, ConfigError> {
        Self::from_env().with_secret().await
    }

    /// Overlays the secret named by this source's `APP_SECRETS_ARN`, if any.
    pub async fn with_secret(mut self) -> Result<Self, ConfigError> {
        if let Some(arn) = self.get("APP_SECRETS_ARN").map(str::to_owned) {
            let json = fetch_secret(&arn).await?;
            self.overlay_secret_json(&json, &arn)?;
            tracing::info!("configuration secret loaded");
        }
        Ok(self)
    }
}

/// Fetches a secret's string through the AWS SDK. `AWS_ENDPOINT_URL` (e.g. a moto server) is honoured by
/// the SDK's own configuration loader.
pub async fn fetch_secret(arn: &str) -> Result<String, ConfigError> {
    let client = aws_sdk_secretsmanager::Client::new(crate::aws::config().await);
    let out = client
        .get_secret_value()
        .secret_id(arn)
        .send()
        .await
        .map_err(|e| ConfigError::Secret {
            arn: arn.to_owned(),
            reason: format!("{}", aws_sdk_secretsmanager::error::DisplayErrorContext(&e)),
        })?;
    out.secret_string()
        .map(str::to_owned)
        .ok_or_else(|| ConfigError::Secret {
            arn: arn.to_owned(),
            reason: "the secret has no SecretString (binary secrets are not supported)".into(),
        })
}

#[derive(Debug, Clone)]
pub struct DatabaseConfig {
    pub url: SecretString,
    /// Connections per container. A Lambda container serves one request at a time: keep this small and
    /// let RDS Proxy multiplex.
    pub pool_size: usize,
    pub connect_timeout: Duration,
}

#[derive(Debug, Clone)]
pub struct JwtConfig {
    pub secret: SecretString,
    pub issuer: String,
    pub audience: String,
    pub access_ttl: Duration,
    /// A refresh-token family's lifetime, counted from the login that started it.
    pub refresh_ttl: Duration,
}

/// The knowledge base's outside systems. Each is optional locally (an embedded default stands in) and
/// required on Lambda (see [`Need::Knowledge`]).
#[derive(Debug, Clone)]
pub struct KnowledgeConfig {
    pub openai_api_key: Option<SecretString>,
    /// Any OpenAI-compatible server (vLLM, Ollama, llama.cpp); default OpenAI's.
    pub openai_base_url: Option<String>,
    pub embedding_model: String,
    pub embedding_dimensions: u32,
    pub openai_timeout: Duration,
    /// Retries of a 429 or 5xx answer from the OpenAI API.
    pub openai_max_retries: usize,
    pub qdrant_url: Option<String>,
    pub qdrant_api_key: Option<SecretString>,
    pub qdrant_collection: String,
    /// Where the embedded vector store keeps its data (local use only).
    pub vector_data_dir: String,
    pub ingest_queue_url: Option<String>,
    pub chunk_size_tokens: usize,
    pub chunk_overlap_tokens: usize,
    /// Inputs per embeddings request (the API allows 2,048).
    pub embedding_batch_inputs: usize,
    /// Tokens per embeddings request (the API allows 300,000).
    pub embedding_batch_tokens: usize,
    /// Chunks the ingest worker embeds and stores before it marks those documents ready and goes on:
    /// progress is reported document by document, not at the end of a large ingestion.
    pub ingest_piece_chunks: usize,
    pub chat_model: String,
    pub chat_temperature: f32,
    pub chat_timeout: Duration,
    /// Chunks retrieved for a chat turn, and the weakest score kept.
    pub chat_top_k: u64,
    pub chat_score_threshold: Option<f32>,
    /// Tokens of conversation history the prompt carries (newest turns kept).
    pub chat_history_tokens: usize,
}

impl KnowledgeConfig {
    fn from_source(src: &Source) -> Result<Self, ConfigError> {
        let cfg = Self {
            openai_api_key: src
                .get("OPENAI_API_KEY")
                .map(|k| SecretString::from(k.to_owned())),
            openai_base_url: src.get("OPENAI_BASE_URL").map(str::to_owned),
            embedding_model: src
                .get("EMBEDDING_MODEL")
                .unwrap_or("text-embedding-3-small")
                .to_owned(),
            embedding_dimensions: src.parsed("EMBEDDING_DIMENSIONS", 1536u32)?,
            openai_timeout: Duration::from_secs(src.parsed("OPENAI_TIMEOUT_SECONDS", 30u64)?),
            openai_max_retries: src.parsed("OPENAI_MAX_RETRIES", 3usize)?,
            qdrant_url: src.get("QDRANT_URL").map(str::to_owned),
            qdrant_api_key: src
                .get("QDRANT_API_KEY")
                .map(|k| SecretString::from(k.to_owned())),
            qdrant_collection: src
                .get("QDRANT_COLLECTION")
                .unwrap_or("kb_chunks")
                .to_owned(),
            vector_data_dir: src
                .get("VECTOR_DATA_DIR")
                .unwrap_or(".data/vectors")
                .to_owned(),
            ingest_queue_url: src.get("SQS_INGEST_QUEUE_URL").map(str::to_owned),
            chunk_size_tokens: src.parsed("CHUNK_SIZE_TOKENS", 512usize)?,
            chunk_overlap_tokens: src.parsed("CHUNK_OVERLAP_TOKENS", 64usize)?,
            embedding_batch_inputs: src.parsed("EMBEDDING_BATCH_INPUTS", 2048usize)?,
            embedding_batch_tokens: src.parsed("EMBEDDING_BATCH_TOKENS", 300_000usize)?,
            ingest_piece_chunks: src.parsed("INGEST_PIECE_CHUNKS", 64usize)?,
            chat_model: src.get("CHAT_MODEL").unwrap_or("gpt-4o-mini").to_owned(),
            chat_temperature: src.parsed("CHAT_TEMPERATURE", 0.7f32)?,
            chat_timeout: Duration::from_secs(src.parsed("CHAT_TIMEOUT_SECONDS", 30u64)?),
            chat_top_k: src.parsed("CHAT_TOP_K", 5u64)?,
            chat_score_threshold: match src.get("CHAT_SCORE_THRESHOLD") {
                None => None,
                Some(_) => Some(src.parsed("CHAT_SCORE_THRESHOLD", 0.0f32)?),
            },
            chat_history_tokens: src.parsed("CHAT_HISTORY_TOKENS", 2000usize)?,
        };
        if cfg.chunk_size_tokens < 16 || cfg.chunk_overlap_tokens >= cfg.chunk_size_tokens {
            return Err(ConfigError::Invalid {
                name: "CHUNK_OVERLAP_TOKENS",
                reason:
                    "CHUNK_SIZE_TOKENS must be at least 16 and larger than CHUNK_OVERLAP_TOKENS"
                        .into(),
            });
        }
        if !(1..=2048).contains(&cfg.embedding_batch_inputs) {
            return Err(ConfigError::Invalid {
                name: "EMBEDDING_BATCH_INPUTS",
                reason: "must be 1 to 2048".into(),
            });
        }
        if !(1..=300_000).contains(&cfg.embedding_batch_tokens) {
            return Err(ConfigError::Invalid {
                name: "EMBEDDING_BATCH_TOKENS",
                reason: "must be 1 to 300000".into(),
            });
        }
        if !(1..=2048).contains(&cfg.ingest_piece_chunks) {
            return Err(ConfigError::Invalid {
                name: "INGEST_PIECE_CHUNKS",
                reason: "must be 1 to 2048".into(),
            });
        }
        Ok(cfg)
    }
}

/// Stripe: the API key (checkout, portal), the webhook signing secret(s), and the plans' price ids (which
/// plan a price stands for is `billing::Plan`'s).
#[derive(Debug, Clone)]
pub struct BillingConfig {
    pub stripe_secret_key: Option<SecretString>,
    /// Accepts several secrets separated by commas, for rotation.
    pub webhook_secrets: Vec<SecretString>,
    pub price_pro: Option<String>,
    pub price_business: Option<String>,
    /// Stripe's API (a test double in tests).
    pub api_base: String,
    /// The web app Stripe sends customers back to after checkout or the portal.
    pub app_url: String,
}

impl BillingConfig {
    fn from_source(src: &Source) -> Self {
        Self {
            stripe_secret_key: src
                .get("STRIPE_SECRET_KEY")
                .map(|k| SecretString::from(k.to_owned())),
            webhook_secrets: src
                .get("STRIPE_WEBHOOK_SECRET")
                .map(|v| {
                    v.split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(|s| SecretString::from(s.to_owned()))
                        .collect()
                })
                .unwrap_or_default(),
            price_pro: src.get("STRIPE_PRICE_PRO").map(str::to_owned),
            price_business: src.get("STRIPE_PRICE_BUSINESS").map(str::to_owned),
            api_base: src
                .get("STRIPE_API_BASE")
                .unwrap_or("https://api.stripe.com")
                .trim_end_matches('/')
                .to_owned(),
            app_url: src
                .get("APP_URL")
                .unwrap_or("http://localhost:5173")
                .trim_end_matches('/')
                .to_owned(),
        }
    }
}

/// Rate limits: Upstash in AWS, in memory locally; limits per route group.
#[derive(Debug, Clone)]
pub struct RateLimitConfig {
    pub upstash_url: Option<String>,
    pub upstash_token: Option<SecretString>,
    pub upstash_timeout: Duration,
    /// Requests a minute per client IP on `/api/v1/auth/*` (fails closed when Upstash is down).
    pub auth_per_ip_per_minute: u64,
    /// Requests a minute per client IP elsewhere (fails open).
    pub api_per_ip_per_minute: u64,
    /// Requests a minute per workspace (or per user) elsewhere (fails open).
    pub api_per_tenant_per_minute: u64,
    /// What happens when Upstash is down: pass requests (true) or answer 503 (false).
    pub auth_fail_open: bool,
    pub api_fail_open: bool,
}

impl RateLimitConfig {
    fn from_source(src: &Source) -> Result<Self, ConfigError> {
        Ok(Self {
            upstash_url: src.get("UPSTASH_REDIS_REST_URL").map(str::to_owned),
            upstash_token: src
                .get("UPSTASH_REDIS_REST_TOKEN")
                .map(|t| SecretString::from(t.to_owned())),
            upstash_timeout: Duration::from_millis(src.parsed("UPSTASH_TIMEOUT_MS", 250u64)?),
            auth_per_ip_per_minute: src.parsed("RATE_LIMIT_AUTH_PER_MINUTE", 20u64)?,
            api_per_ip_per_minute: src.parsed("RATE_LIMIT_API_PER_IP_PER_MINUTE", 600u64)?,
            api_per_tenant_per_minute: src
                .parsed("RATE_LIMIT_API_PER_TENANT_PER_MINUTE", 1200u64)?,
            auth_fail_open: src.parsed("RATE_LIMIT_AUTH_FAIL_OPEN", false)?,
            api_fail_open: src.parsed("RATE_LIMIT_API_FAIL_OPEN", true)?,
        })
    }
}

/// Operations: transactional email, the dead-letter queues admins inspect, and the cron's retention rules.
#[derive(Debug, Clone)]
pub struct OpsConfig {
    /// The email queue; without it mail waits in the outbox for the cron (or the devserver's sweeper).
    pub email_queue_url: Option<String>,
    /// The sender address (`Name <address>`); SES is used when it is set, the mail directory otherwise.
    pub email_from: Option<String>,
    pub ses_configuration_set: Option<String>,
    /// Where mail is written when no SES sender is configured (local development).
    pub mail_dir: String,
    pub ingest_dlq_url: Option<String>,
    pub email_dlq_url: Option<String>,
    /// How long soft-deleted rows (and their vectors) are kept before the cron hard-deletes them.
    pub retention_days: u32,
    /// An ingestion still unfinished this long after its last progress is failed by the cron.
    pub ingestion_deadline: Duration,
    pub password_reset_ttl: Duration,
    pub invitation_ttl: Duration,
    pub sentry_dsn: Option<SecretString>,
}

impl OpsConfig {
    fn from_source(src: &Source) -> Result<Self, ConfigError> {
        let retention_days = src.parsed("SOFT_DELETE_RETENTION_DAYS", 30u32)?;
        let deadline_minutes = src.parsed("INGESTION_DEADLINE_MINUTES", 60u64)?;
        if retention_days == 0 || deadline_minutes == 0 {
            return Err(ConfigError::Invalid {
                name: if retention_days == 0 {
                    "SOFT_DELETE_RETENTION_DAYS"
                } else {
                    "INGESTION_DEADLINE_MINUTES"
                },
                reason: "must be positive".into(),
            });
        }
        Ok(Self {
            email_queue_url: src.get("SQS_EMAIL_QUEUE_URL").map(str::to_owned),
            email_from: src.get("EMAIL_FROM").map(str::to_owned),
            ses_configuration_set: src.get("SES_CONFIGURATION_SET").map(str::to_owned),
            mail_dir: src.get("MAIL_DIR").unwrap_or(".data/mail").to_owned(),
            ingest_dlq_url: src.get("SQS_INGEST_DLQ_URL").map(str::to_owned),
            email_dlq_url: src.get("SQS_EMAIL_DLQ_URL").map(str::to_owned),
            retention_days,
            ingestion_deadline: Duration::from_secs(deadline_minutes * 60),
            password_reset_ttl: Duration::from_secs(
                src.parsed("PASSWORD_RESET_TTL_MINUTES", 60u64)? * 60,
            ),
            invitation_ttl: Duration::from_secs(src.parsed("INVITATION_TTL_DAYS", 7u64)? * 86400),
            sentry_dsn: src
                .get("SENTRY_DSN")
                .map(|d| SecretString::from(d.to_owned())),
        })
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub rate_limits: RateLimitConfig,
    pub database: DatabaseConfig,
    pub jwt: JwtConfig,
    pub billing: BillingConfig,
    pub knowledge: KnowledgeConfig,
    pub ops: OpsConfig,
    pub admin_api_key: Option<SecretString>,
    /// Origins allowed to call the API from a browser; empty means none.
    pub cors_allowed_origins: Vec<String>,
    /// True inside AWS Lambda, where no embedded default may stand in for a real dependency.
    pub on_lambda: bool,
    /// Whether `APP_URL` was given (it defaults to localhost, which only serves locally).
    app_url_set: bool,
}

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
}

pub const MIN_JWT_SECRET_BYTES: usize = 32;

impl Config {
    /// Reads the environment (and the secret) once; call at cold start.
    pub async fn load() -> Result<Self, ConfigError> {
        Self::from_source(&Source::load().await?)
    }

    pub fn from_source(src: &Source) -> Result<Self, ConfigError> {
        let database = DatabaseConfig {
            url: SecretString::from(src.required("DATABASE_URL")?.to_owned()),
            pool_size: src.parsed("DATABASE_POOL_SIZE", 2usize)?,
            connect_timeout: Duration::from_secs(
                src.parsed("DATABASE_CONNECT_TIMEOUT_SECONDS", 5u64)?,
            ),
        };
        if database.pool_size == 0 {
            return Err(ConfigError::Invalid {
                name: "DATABASE_POOL_SIZE",
                reason: "must be at least 1".into(),
            });
        }
        let secret = src.required("JWT_SECRET")?;
        if secret.len() < MIN_JWT_SECRET_BYTES {
            return Err(ConfigError::Invalid {
                name: "JWT_SECRET",
                reason: format!("must be at least {MIN_JWT_SECRET_BYTES} bytes of random data"),
            });
        }
        let access_ttl = src.parsed("ACCESS_TOKEN_TTL_SECONDS", 900u64)?;
        let refresh_days = src.parsed("REFRESH_TOKEN_TTL_DAYS", 30u64)?;
        if access_ttl == 0 || refresh_days == 0 {
            return Err(ConfigError::Invalid {
                name: if access_ttl == 0 {
                    "ACCESS_TOKEN_TTL_SECONDS"
                } else {
                    "REFRESH_TOKEN_TTL_DAYS"
                },
                reason: "must be positive".into(),
            });
        }
        let jwt = JwtConfig {
            secret: SecretString::from(secret.to_owned()),
            issuer: src
                .get("JWT_ISSUER")
                .unwrap_or("soft-systems-studio")
                .to_owned(),
            audience: src.get("JWT_AUDIENCE").unwrap_or("studio-api").to_owned(),
            access_ttl: Duration::from_secs(access_ttl),
            refresh_ttl: Duration::from_secs(refresh_days * 24 * 3600),
        };
        let cors_allowed_origins: Vec<String> = src
            .get("CORS_ALLOWED_ORIGINS")
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|o| !o.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        for origin in &cors_allowed_origins {
            if origin == "*" || !(origin.starts_with("https://") || origin.starts_with("http://")) {
                return Err(ConfigError::Invalid {
                    name: "CORS_ALLOWED_ORIGINS",
                    reason: format!(
                        "{origin:?} is not an origin like https://app.example.com (wildcards are not allowed)"
                    ),
                });
            }
        }
        let on_lambda = src.get("AWS_LAMBDA_FUNCTION_NAME").is_some();
        let billing = BillingConfig::from_source(src);
        // Locally, the web app at APP_URL may call the API without further set-up; on Lambda the allowed
        // origins are always explicit.
        let cors_allowed_origins = if cors_allowed_origins.is_empty()
            && !on_lambda
            && src.get("CORS_ALLOWED_ORIGINS").is_none()
        {
            origin_of(&billing.app_url).into_iter().collect()
        } else {
            cors_allowed_origins
        };
        Ok(Self {
            rate_limits: RateLimitConfig::from_source(src)?,
            billing,
            knowledge: KnowledgeConfig::from_source(src)?,
            ops: OpsConfig::from_source(src)?,
            database,
            jwt,
            admin_api_key: src
                .get("ADMIN_API_KEY")
                .map(|k| SecretString::from(k.to_owned())),
            cors_allowed_origins,
            on_lambda,
            app_url_set: src.get("APP_URL").is_some(),
        })
    }

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

    /// The web app's public URL, for links in mail and Stripe's return pages (`APP_URL`).
    pub fn app_url(&self) -> &str {
        &self.billing.app_url
    }

    pub fn database_url(&self) -> &str {
        self.database.url.expose_secret()
    }
}

/// The origin (`scheme://host[:port]`) of an http(s) URL.
fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    if scheme != "http" && scheme != "https" {
        return None;
    }
    let authority = rest.split(['/', '?', '#']).next()?;
    (!authority.is_empty()).then(|| format!("{scheme}://{authority}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Source {
        Source::from_pairs([
            ("DATABASE_URL", "postgres://u:p@localhost/db"),
            ("JWT_SECRET", "0123456789abcdef0123456789abcdef"),
        ])
    }

    #[test]
    fn when_required_values_are_present_defaults_fill_the_rest() {
        let cfg = Config::from_source(&base()).expect("valid");
        assert_eq!(cfg.database.pool_size, 2);
        assert_eq!(cfg.jwt.access_ttl, Duration::from_secs(900));
        assert_eq!(cfg.jwt.refresh_ttl, Duration::from_secs(30 * 86400));
        assert_eq!(cfg.cors_allowed_origins, vec!["http://localhost:5173"]);
        assert!(!cfg.on_lambda);
    }

    #[test]
    fn when_no_origins_are_configured_app_url_is_allowed_locally_and_nothing_on_lambda() {
        let mut src = base();
        src.set("APP_URL", "https://app.example.com:8443/dashboard/");
        let local = Config::from_source(&src).expect("valid");
        assert_eq!(
            local.cors_allowed_origins,
            vec!["https://app.example.com:8443"]
        );
        src.set("AWS_LAMBDA_FUNCTION_NAME", "auth-api");
        let lambda = Config::from_source(&src).expect("valid");
        assert!(lambda.cors_allowed_origins.is_empty());
        src.set("CORS_ALLOWED_ORIGINS", "https://shop.example.com");
        let explicit = Config::from_source(&src).expect("valid");
        assert_eq!(
            explicit.cors_allowed_origins,
            vec!["https://shop.example.com"]
        );
    }

    #[test]
    fn when_database_url_is_missing_or_empty_the_error_names_it() {
        for value in [None, Some(""), Some("   ")] {
            let mut src = Source::from_pairs([("JWT_SECRET", "0123456789abcdef0123456789abcdef")]);
            if let Some(v) = value {
                src.set("DATABASE_URL", v);
            }
            let err = Config::from_source(&src).expect_err("must fail");
            assert!(err.to_string().contains("DATABASE_URL"), "{err}");
        }
    }

    #[test]
    fn when_jwt_secret_is_short_start_up_fails_naming_it() {
        let mut src = base();
        src.set("JWT_SECRET", "short");
        let err = Config::from_source(&src).expect_err("must fail");
        assert!(err.to_string().contains("JWT_SECRET"), "{err}");
    }

    #[test]
    fn when_a_number_is_malformed_the_error_names_the_variable_and_value() {
        let mut src = base();
        src.set("DATABASE_POOL_SIZE", "lots");
        let err = Config::from_source(&src)
            .expect_err("must fail")
            .to_string();
        assert!(
            err.contains("DATABASE_POOL_SIZE") && err.contains("lots"),
            "{err}"
        );
    }

    #[test]
    fn when_cors_has_a_wildcard_it_is_rejected() {
        let mut src = base();
        src.set("CORS_ALLOWED_ORIGINS", "https://a.example.com, *");
        assert!(Config::from_source(&src).is_err());
        src.set(
            "CORS_ALLOWED_ORIGINS",
            "https://a.example.com, http://localhost:5173",
        );
        let cfg = Config::from_source(&src).expect("valid");
        assert_eq!(
            cfg.cors_allowed_origins,
            vec!["https://a.example.com", "http://localhost:5173"]
        );
    }

    #[test]
    fn when_a_secret_json_is_overlaid_its_values_win_and_bad_json_is_named() {
        let mut src = base();
        src.overlay_secret_json(
            r#"{"JWT_SECRET":"ffffffffffffffffffffffffffffffffffff","DATABASE_POOL_SIZE":4}"#,
            "arn:x",
        )
        .expect("object");
        let cfg = Config::from_source(&src).expect("valid");
        assert_eq!(
            cfg.jwt.secret.expose_secret(),
            "ffffffffffffffffffffffffffffffffffff"
        );
        assert_eq!(cfg.database.pool_size, 4);
        let err = src
            .overlay_secret_json("[1,2]", "arn:x")
            .expect_err("not an object");
        assert!(err.to_string().contains("APP_SECRETS_ARN"), "{err}");
    }

    fn on_lambda(src: &Source) -> Source {
        let mut src = src.clone();
        src.set("AWS_LAMBDA_FUNCTION_NAME", "studio-fn");
        src
    }

    fn missing_on_lambda(src: &Source, needs: &[Need]) -> Result<(), String> {
        let cfg = Config::from_source(&on_lambda(src)).expect("valid");
        cfg.require_on_lambda(needs).map_err(|e| e.to_string())
    }

    #[test]
    fn when_on_lambda_the_knowledge_base_dependencies_are_required_by_name() {
        let mut src = base();
        src.set("APP_URL", "https://app.example.com");
        let needs = [Need::Knowledge, Need::IngestQueue];
        let local = Config::from_source(&src).expect("valid");
        assert!(
            local.require_on_lambda(&needs).is_ok(),
            "locally, embedded defaults serve"
        );
        let err = missing_on_lambda(&src, &needs).expect_err("missing");
        assert!(err.contains("OPENAI_API_KEY"), "{err}");
        src.set("OPENAI_API_KEY", "sk-test");
        src.set("QDRANT_URL", "http://qdrant:6334");
        let err = missing_on_lambda(&src, &needs).expect_err("queue missing");
        assert!(err.contains("SQS_INGEST_QUEUE_URL"), "{err}");
        assert!(missing_on_lambda(&src, &[Need::Knowledge]).is_ok());
    }

    #[test]
    fn when_on_lambda_every_missing_variable_is_named_at_once_app_url_included() {
        let needs = [
            Need::RateLimits,
            Need::Knowledge,
            Need::IngestQueue,
            Need::Mail,
            Need::EmailQueue,
            Need::StripeWebhook,
        ];
        let err = missing_on_lambda(&base(), &needs).expect_err("all missing");
        for name in [
            "APP_URL",
            "UPSTASH_REDIS_REST_URL",
            "UPSTASH_REDIS_REST_TOKEN",
            "OPENAI_API_KEY",
            "QDRANT_URL",
            "SQS_INGEST_QUEUE_URL",
            "EMAIL_FROM",
            "SQS_EMAIL_QUEUE_URL",
            "STRIPE_WEBHOOK_SECRET",
        ] {
            assert!(err.contains(name), "{name} in {err}");
        }
        // APP_URL is needed by every function, whatever else it uses.
        let err = missing_on_lambda(&base(), &[]).expect_err("APP_URL missing");
        assert!(err.contains("APP_URL"), "{err}");
        let mut src = base();
        for (key, value) in [
            ("APP_URL", "https://app.example.com"),
            ("UPSTASH_REDIS_REST_URL", "https://upstash.example.com"),
            ("UPSTASH_REDIS_REST_TOKEN", "token"),
            ("OPENAI_API_KEY", "sk-test"),
            ("QDRANT_URL", "http://qdrant:6334"),
            ("SQS_INGEST_QUEUE_URL", "https://sqs.example.com/1/ingest"),
            ("EMAIL_FROM", "Studio <no-reply@example.com>"),
            ("SQS_EMAIL_QUEUE_URL", "https://sqs.example.com/1/email"),
            ("STRIPE_WEBHOOK_SECRET", "whsec_1"),
        ] {
            src.set(key, value);
        }
        assert_eq!(missing_on_lambda(&src, &needs), Ok(()));
        // Only what a function needs is asked of it; a separator alone is no webhook secret.
        src.set("STRIPE_WEBHOOK_SECRET", " , ");
        assert!(missing_on_lambda(&src, &[Need::RateLimits]).is_ok());
        let err = missing_on_lambda(&src, &[Need::StripeWebhook]).expect_err("no secret");
        assert!(
            err.contains("STRIPE_WEBHOOK_SECRET") && !err.contains("APP_URL"),
            "{err}"
        );
    }

    #[test]
    fn when_config_is_debug_printed_no_secret_value_appears() {
        let cfg = Config::from_source(&base()).expect("valid");
        let printed = format!("{cfg:?} {:?}", base());
        assert!(!printed.contains("0123456789abcdef0123456789abcdef"));
        assert!(!printed.contains("u:p@localhost"));
    }
}
