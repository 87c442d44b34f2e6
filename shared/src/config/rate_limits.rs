//! Rate limits: Upstash in AWS, in memory locally.

use super::{ConfigError, Source};
use secrecy::SecretString;
use std::time::Duration;

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
    pub(super) fn from_source(src: &Source) -> Result<Self, ConfigError> {
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
