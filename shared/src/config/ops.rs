//! Operations: email, dead-letter queues, retention, token lifetimes of mail links, error tracking.

use super::{ConfigError, Source};
use secrecy::SecretString;
use std::time::Duration;

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
    pub(super) fn from_source(src: &Source) -> Result<Self, ConfigError> {
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
