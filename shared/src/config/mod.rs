//! Typed configuration, read once per cold start.
//!
//! Values come from environment variables; when `APP_SECRETS_ARN` is set, one AWS Secrets Manager secret
//! (a JSON object with the same key names) is fetched and its values win. Missing required values fail
//! start-up with a message naming the variable. Secrets are wrapped in [`SecretString`] and never logged.
//!
//! One file per concern: [`source`] (the environment and the secret), [`database`], [`jwt`],
//! [`knowledge`], [`billing`], [`rate_limits`], [`ops`], [`cors`], [`identity`] (signed identity), [`oidc`] (external identity providers), [`public`] (visitor sessions), [`uploads`], [`fetch`] and [`crawl`] (website sources), and [`need`] (what a function requires
//! on Lambda).

mod billing;
mod cors;
mod crawl;
mod database;
mod fetch;
mod identity;
mod jwt;
mod knowledge;
mod need;
mod oidc;
mod ops;
mod public;
mod rate_limits;
mod source;
mod uploads;
pub mod usage;

pub use billing::BillingConfig;
pub use crawl::{CrawlConfig, MAX_CRAWL_DELAY};
pub use database::DatabaseConfig;
pub use fetch::FetchPolicy;
pub use identity::{IdentityConfig, MAX_IDENTITY_TOKEN_LIFETIME_SECS};
pub use jwt::{JwtConfig, MIN_JWT_SECRET_BYTES};
pub use knowledge::KnowledgeConfig;
pub use need::Need;
pub use oidc::{OidcConfig, OidcIssuer, Provider};
pub use ops::OpsConfig;
pub use public::PublicConfig;
pub use rate_limits::RateLimitConfig;
pub use source::{Source, fetch_secret};
pub use uploads::UploadsConfig;
pub use usage::UsageConfig;

use secrecy::{ExposeSecret, SecretString};

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

#[derive(Debug, Clone)]
pub struct Config {
    pub rate_limits: RateLimitConfig,
    pub database: DatabaseConfig,
    pub jwt: JwtConfig,
    pub billing: BillingConfig,
    pub knowledge: KnowledgeConfig,
    pub ops: OpsConfig,
    pub identity: IdentityConfig,
    /// External identity providers (`AUTH_OIDC_ISSUERS`).
    pub oidc: OidcConfig,
    pub public: PublicConfig,
    /// How tenants' URLs are fetched (`FETCH_*`).
    pub fetch: FetchPolicy,
    /// Website sources' crawls (`SQS_CRAWL_*`, `CRAWL_*`).
    pub crawl: CrawlConfig,
    /// File uploads (`UPLOADS_*`, `SQS_EXTRACT_*`).
    pub uploads: UploadsConfig,
    /// What model calls cost (`MODEL_PRICES`).
    pub usage: UsageConfig,
    pub admin_api_key: Option<SecretString>,
    /// Origins allowed to call the API from a browser; empty means none.
    pub cors_allowed_origins: Vec<String>,
    /// True inside AWS Lambda, where no embedded default may stand in for a real dependency.
    pub on_lambda: bool,
    /// The web app's public URL (`APP_URL`), for links in mail and Stripe's return pages.
    app_url: String,
    /// Whether `APP_URL` was given (it defaults to localhost, which only serves locally).
    app_url_set: bool,
}

impl Config {
    /// Reads the environment (and the secret) once; call at cold start.
    pub async fn load() -> Result<Self, ConfigError> {
        Self::from_source(&Source::load().await?)
    }

    pub fn from_source(src: &Source) -> Result<Self, ConfigError> {
        let database = DatabaseConfig::from_source(src)?;
        let jwt = JwtConfig::from_source(src)?;
        let cors_allowed_origins = cors::allowed_origins(src)?;
        let on_lambda = src.get("AWS_LAMBDA_FUNCTION_NAME").is_some();
        let billing = BillingConfig::from_source(src);
        let app_url = src
            .get("APP_URL")
            .unwrap_or("http://localhost:5173")
            .trim_end_matches('/')
            .to_owned();
        // Locally, the web app at APP_URL may call the API without further set-up; on Lambda the allowed
        // origins are always explicit.
        let cors_allowed_origins = if cors_allowed_origins.is_empty()
            && !on_lambda
            && src.get("CORS_ALLOWED_ORIGINS").is_none()
        {
            cors::origin_of(&app_url).into_iter().collect()
        } else {
            cors_allowed_origins
        };
        Ok(Self {
            rate_limits: RateLimitConfig::from_source(src)?,
            billing,
            knowledge: KnowledgeConfig::from_source(src)?,
            ops: OpsConfig::from_source(src)?,
            identity: IdentityConfig::from_source(src)?,
            oidc: OidcConfig::from_source(src, &jwt.issuer)?,
            public: PublicConfig::from_source(src)?,
            fetch: FetchPolicy::from_source(src, on_lambda)?,
            crawl: CrawlConfig::from_source(src)?,
            uploads: UploadsConfig::from_source(src)?,
            usage: UsageConfig::from_source(src)?,
            database,
            jwt,
            admin_api_key: src
                .get("ADMIN_API_KEY")
                .map(|k| SecretString::from(k.to_owned())),
            cors_allowed_origins,
            on_lambda,
            app_url,
            app_url_set: src.get("APP_URL").is_some(),
        })
    }

    /// The web app's public URL, for links in mail and Stripe's return pages (`APP_URL`).
    pub fn app_url(&self) -> &str {
        &self.app_url
    }

    pub fn database_url(&self) -> &str {
        self.database.url.expose_secret()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

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
