//! Access tokens: the signing secret, issuer, audience and lifetimes.

use super::{ConfigError, Source};
use secrecy::SecretString;
use std::time::Duration;

pub const MIN_JWT_SECRET_BYTES: usize = 32;

#[derive(Debug, Clone)]
pub struct JwtConfig {
    pub secret: SecretString,
    pub issuer: String,
    pub audience: String,
    pub access_ttl: Duration,
    /// A refresh-token family's lifetime, counted from the login that started it.
    pub refresh_ttl: Duration,
}

impl JwtConfig {
    pub(super) fn from_source(src: &Source) -> Result<Self, ConfigError> {
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
        Ok(Self {
            secret: SecretString::from(secret.to_owned()),
            issuer: src
                .get("JWT_ISSUER")
                .unwrap_or("soft-systems-studio")
                .to_owned(),
            audience: src.get("JWT_AUDIENCE").unwrap_or("studio-api").to_owned(),
            access_ttl: Duration::from_secs(access_ttl),
            refresh_ttl: Duration::from_secs(refresh_days * 24 * 3600),
        })
    }
}
