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
    Memory(Arc<Mutex<MemoryLogs>>),
}

/// The in-memory sliding-window logs. Requests admitted in the same millisecond share one entry (the log
/// has millisecond resolution anyway), so a key holds at most `min(limit, window in ms)` entries however
/// fast it is hit; keys whose window has emptied are dropped once the map has doubled since the last
/// sweep, so a long-running process does not keep every client IP it ever saw.
#[derive(Debug, Default)]
pub struct MemoryLogs {
    keys: HashMap<String, KeyLog>,
    sweep_at: usize,
}

#[derive(Debug, Default)]
struct KeyLog {
    window_ms: u64,
    /// (millisecond, requests admitted in it), oldest first.
    hits: VecDeque<(u64, u64)>,
    /// The sum of `hits`' counts.
    count: u64,
}

impl KeyLog {
    fn forget_before(&mut self, now: u64) {
        while let Some(&(t, n)) = self.hits.front() {
            if t + self.window_ms > now {
                break;
            }
            self.hits.pop_front();
            self.count -= n;
        }
    }
}

impl MemoryLogs {
    const MIN_SWEEP: usize = 1024;

    fn check(&mut self, key: &str, limit: u64, window_ms: u64, now: u64) -> Decision {
        if self.keys.len() >= self.sweep_at.max(Self::MIN_SWEEP) {
            self.keys.retain(|_, log| {
                log.forget_before(now);
                log.count > 0
            });
            self.sweep_at = self.keys.len() * 2;
        }
        let log = match self.keys.get_mut(key) {
            Some(log) => log,
            None => self.keys.entry(key.to_owned()).or_default(),
        };
        log.window_ms = window_ms;
        log.forget_before(now);
        let allowed = log.count < limit;
        if allowed {
            match log.hits.back_mut() {
                Some((t, n)) if *t == now => *n += 1,
                _ => log.hits.push_back((now, 1)),
            }
            log.count += 1;
        }
        let reset = log
            .hits
            .front()
            .map_or(window_ms, |&(t, _)| t + window_ms - now);
        Decision {
            allowed,
            limit,
            remaining: limit.saturating_sub(log.count),
            reset: Duration::from_millis(reset),
        }
    }
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
            Limiter::Memory(logs) => {
                let window_ms = u64::try_from(window_ms).unwrap_or(u64::MAX);
                let now = u64::try_from(now_ms()).unwrap_or(u64::MAX);
                Ok(logs
                    .lock()
                    .map_err(|_| anyhow::anyhow!("rate limiter lock poisoned"))?
                    .check(key, limit, window_ms, now))
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

#[cfg(test)]
mod tests {
    use super::MemoryLogs;
    use std::time::Duration;

    #[test]
    fn when_a_key_is_hit_thousands_of_times_a_millisecond_its_log_stays_one_entry_per_millisecond()
    {
        let mut logs = MemoryLogs::default();
        for i in 0..100_000u64 {
            assert!(
                logs.check("k", u64::MAX, 60_000, 1_000 + i / 10_000)
                    .allowed
            );
        }
        let log = &logs.keys["k"];
        assert_eq!((log.hits.len(), log.count), (10, 100_000));
    }

    #[test]
    fn when_the_oldest_requests_leave_the_window_as_many_more_are_admitted() {
        let mut logs = MemoryLogs::default();
        for t in [0, 0, 100] {
            assert!(logs.check("k", 3, 1_000, t).allowed);
        }
        let refused = logs.check("k", 3, 1_000, 300);
        assert!(!refused.allowed);
        assert_eq!(
            (refused.remaining, refused.reset),
            (0, Duration::from_millis(700))
        );
        // At 1000 both requests of millisecond 0 leave: two are admitted, the third is refused until 1100.
        assert!(logs.check("k", 3, 1_000, 1_000).allowed);
        assert!(logs.check("k", 3, 1_000, 1_000).allowed);
        let refused = logs.check("k", 3, 1_000, 1_000);
        assert_eq!(
            (refused.allowed, refused.reset),
            (false, Duration::from_millis(100))
        );
    }

    #[test]
    fn when_many_keys_go_quiet_they_are_dropped_at_the_next_sweep() {
        let mut logs = MemoryLogs::default();
        for i in 0..MemoryLogs::MIN_SWEEP {
            logs.check(&format!("ip:{i}"), 10, 1_000, 0);
        }
        assert_eq!(logs.keys.len(), MemoryLogs::MIN_SWEEP);
        // A window later every one of them has emptied: the next new key triggers the sweep.
        logs.check("ip:new", 10, 1_000, 5_000);
        assert_eq!(logs.keys.len(), 1);
        // A key still inside its window is kept.
        for i in 0..MemoryLogs::MIN_SWEEP {
            logs.check(&format!("busy:{i}"), 10, 60_000, 6_000);
        }
        logs.check("late", 10, 60_000, 7_000);
        assert!(logs.keys.contains_key("busy:0") && logs.keys.contains_key("late"));
    }
}
