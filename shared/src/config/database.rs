//! PostgreSQL: the URL (through RDS Proxy on AWS), the pool per container, the connect timeout.

use super::{ConfigError, Source};
use secrecy::SecretString;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct DatabaseConfig {
    pub url: SecretString,
    /// Connections per container. A Lambda container serves one request at a time: keep this small and
    /// let RDS Proxy multiplex.
    pub pool_size: usize,
    pub connect_timeout: Duration,
}

impl DatabaseConfig {
    pub(super) fn from_source(src: &Source) -> Result<Self, ConfigError> {
        let database = Self {
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
        Ok(database)
    }
}
