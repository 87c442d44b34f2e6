//! Rate limiting: a sliding window per key (a tenant, a client IP), kept in Upstash Redis and checked
//! through Upstash's REST API in one round trip (one `EVAL` of a Lua script), or — outside Lambda, with no
//! Upstash configured — in memory.
//!
//! This is the limiter itself; the per-route-group layers (headers, 429, fail open/closed) are the next
//! increment.

use secrecy::{ExposeSecret, SecretString};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    pub limit: u64,
    pub remaining: u64,
    /// Until the oldest counted request leaves the window.
    pub reset: Duration,
}

/// A sliding-window log in a sorted set: drop what left the window, count, admit if under the limit, and
/// say when the oldest entry leaves. Returns `{allowed, count, reset_ms}`.
pub const SLIDING_WINDOW_LUA: &str = r#"
local key = KEYS[1]
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', key, 0, now - window)
local count = redis.call('ZCARD', key)
local allowed = 0
if count < limit then
  redis.call('ZADD', key, now, ARGV[4])
  count = count + 1
  allowed = 1
end
redis.call('PEXPIRE', key, window)
local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
local reset = window
if oldest[2] then reset = tonumber(oldest[2]) + window - now end
return {allowed, count, reset}
"#;

#[derive(Clone)]
pub enum Limiter {
    Upstash {
        http: reqwest::Client,
        url: String,
        token: SecretString,
    },
    Memory(Arc<Mutex<HashMap<String, VecDeque<u128>>>>),
}

impl std::fmt::Debug for Limiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Limiter::Upstash { url, .. } => f
                .debug_struct("Limiter::Upstash")
                .field("url", url)
                .finish(),
            Limiter::Memory(_) => f.write_str("Limiter::Memory"),
        }
    }
}

fn now_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0)
}

impl Limiter {
    /// Upstash's REST endpoint, with a short timeout: a limiter must never be what makes a request slow.
    pub fn upstash(url: &str, token: SecretString, timeout: Duration) -> anyhow::Result<Self> {
        let http = crate::tls::client_builder().timeout(timeout).build()?;
        Ok(Self::Upstash {
            http,
            url: url.trim_end_matches('/').to_owned(),
            token,
        })
    }

    pub fn memory() -> Self {
        Self::Memory(Arc::default())
    }

    /// Counts one request against `key`: at most `limit` in any `window`.
    pub async fn check(&self, key: &str, limit: u64, window: Duration) -> anyhow::Result<Decision> {
        let window_ms = window.as_millis();
        match self {
            Limiter::Memory(state) => {
                let now = now_ms();
                let mut map = state
                    .lock()
                    .map_err(|_| anyhow::anyhow!("rate limiter lock poisoned"))?;
                let log = map.entry(key.to_owned()).or_default();
                while log.front().is_some_and(|&t| t + window_ms <= now) {
                    log.pop_front();
                }
                let allowed = (log.len() as u64) < limit;
                if allowed {
                    log.push_back(now);
                }
                let reset = log.front().map_or(window_ms, |&t| t + window_ms - now);
                Ok(Decision {
                    allowed,
                    limit,
                    remaining: limit.saturating_sub(log.len() as u64),
                    reset: Duration::from_millis(u64::try_from(reset).unwrap_or(u64::MAX)),
                })
            }
            Limiter::Upstash { http, url, token } => {
                let now = now_ms();
                let mut nonce = [0u8; 6];
                getrandom::fill(&mut nonce)
                    .map_err(|e| anyhow::anyhow!("OS random source: {e}"))?;
                let member = format!("{now}-{}", hex::encode(nonce));
                let command = serde_json::json!([
                    "EVAL",
                    SLIDING_WINDOW_LUA,
                    "1",
                    key,
                    now.to_string(),
                    window_ms.to_string(),
                    limit.to_string(),
                    member
                ]);
                let response = http
                    .post(url)
                    .bearer_auth(token.expose_secret())
                    .json(&command)
                    .send()
                    .await?;
                let status = response.status();
                let body: serde_json::Value = response.json().await?;
                if !status.is_success() || body.get("error").is_some() {
                    anyhow::bail!(
                        "Upstash answered {status}: {}",
                        body.get("error").unwrap_or(&body)
                    );
                }
                let result = body
                    .get("result")
                    .and_then(|r| r.as_array())
                    .ok_or_else(|| anyhow::anyhow!("unexpected Upstash answer: {body}"))?;
                let int = |i: usize| {
                    result
                        .get(i)
                        .and_then(serde_json::Value::as_u64)
                        .unwrap_or(0)
                };
                Ok(Decision {
                    allowed: int(0) == 1,
                    limit,
                    remaining: limit.saturating_sub(int(1)),
                    reset: Duration::from_millis(int(2)),
                })
            }
        }
    }
}
