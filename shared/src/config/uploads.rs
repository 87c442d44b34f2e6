//! File uploads: where files go (an S3 bucket, or locally a directory the devserver receives them into),
//! how long an upload URL lasts, and the extract queue the bucket's notifications feed.

use super::{ConfigError, Source};
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct UploadsConfig {
    /// The private bucket uploads go to (`UPLOADS_BUCKET`); required on Lambda by the functions that
    /// grant, read or delete uploads.
    pub bucket: Option<String>,
    /// Locally, without a bucket: the directory uploads are written to (`UPLOADS_DIR`, default
    /// `.data/uploads`).
    pub dir: String,
    /// Locally: the URL the devserver is reached at, which upload URLs point to (`UPLOADS_LOCAL_URL`,
    /// default `http://localhost:$PORT`).
    pub local_url: String,
    /// How long an upload URL may be used (`UPLOAD_URL_TTL_SECONDS`, 60 to 3600, default 900).
    pub url_ttl: Duration,
    /// The queue the bucket's notifications go to (`SQS_EXTRACT_QUEUE_URL`): the extract worker delays
    /// its retries through it.
    pub extract_queue_url: Option<String>,
    /// Its dead-letter queue (`SQS_EXTRACT_DLQ_URL`), for the admin API.
    pub extract_dlq_url: Option<String>,
}

impl UploadsConfig {
    pub(super) fn from_source(src: &Source) -> Result<Self, ConfigError> {
        let ttl = src.parsed("UPLOAD_URL_TTL_SECONDS", 900u64)?;
        if !(60..=3600).contains(&ttl) {
            return Err(ConfigError::Invalid {
                name: "UPLOAD_URL_TTL_SECONDS",
                reason: "must be 60 to 3600".into(),
            });
        }
        let port = src.parsed("PORT", 3000u16)?;
        Ok(Self {
            bucket: src.get("UPLOADS_BUCKET").map(str::to_owned),
            dir: src.get("UPLOADS_DIR").unwrap_or(".data/uploads").to_owned(),
            local_url: src
                .get("UPLOADS_LOCAL_URL")
                .map(|u| u.trim_end_matches('/').to_owned())
                .unwrap_or_else(|| format!("http://localhost:{port}")),
            url_ttl: Duration::from_secs(ttl),
            extract_queue_url: src.get("SQS_EXTRACT_QUEUE_URL").map(str::to_owned),
            extract_dlq_url: src.get("SQS_EXTRACT_DLQ_URL").map(str::to_owned),
        })
    }
}
