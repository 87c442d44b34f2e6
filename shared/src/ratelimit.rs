//! Rate limiting: a sliding window per key (a tenant, a client IP), kept in Upstash Redis and checked
//! through Upstash's REST API — every limit of one request in one round trip (one `EVAL` of a Lua script)
//! — or, outside Lambda with no Upstash configured, in memory. The layer that applies it to routes
//! (headers, 429, fail open/closed) is `http::ratelimit`.

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

/// One limit of a request: at most `limit` requests counted against `key` in any `window` — or, for a
/// [`Kind::Counter`], at most `limit` of what [`Limiter::add`] counted into `key` in its fixed window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limit {
    pub key: String,
    pub limit: u64,
    pub window: Duration,
    pub kind: Kind,
}

/// How a limit counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Kind {
    /// A sliding window of requests: each admitted request counts one.
    #[default]
    Window,
    /// A total added after the fact (tokens an answer used) in a fixed window that starts with the
    /// first addition: checked, never counted, by the request; see [`Limiter::add`].
    Counter,
}

impl Limit {
    /// At most `limit` requests in any `window`.
    pub fn window(key: String, limit: u64, window: Duration) -> Self {
        Self {
            key,
            limit,
            window,
            kind: Kind::Window,
        }
    }

    /// Admitted while what was added to `key` in its current window is under `limit`.
    pub fn counter(key: String, limit: u64, window: Duration) -> Self {
        Self {
            key,
            limit,
            window,
            kind: Kind::Counter,
        }
    }
}

/// Sliding-window logs in sorted sets, every limit of one request at once: drop what left each window,
/// count, and only when every key is under its limit add the request to all of them (a refused request
/// counts against none); then say when each key's oldest entry leaves. A counter key (kind `c`) is only
/// read (what [`ADD_LUA`] added), and resets when it expires. KEYS are the keys; ARGV is now (ms), the
/// request's member, then each key's window (ms), limit and kind (`w` or `c`). Returns `{admitted,
/// count_1, reset_1, …}`.
pub const SLIDING_WINDOW_LUA: &str = r#"
local now = tonumber(ARGV[1])
local counts = {}
local admitted = 1
for i, key in ipairs(KEYS) do
  local window = tonumber(ARGV[3 * i])
  if ARGV[2 + 3 * i] == 'c' then
    counts[i] = tonumber(redis.call('GET', key) or '0')
  else
    redis.call('ZREMRANGEBYSCORE', key, 0, now - window)
    counts[i] = redis.call('ZCARD', key)
  end
  if counts[i] >= tonumber(ARGV[1 + 3 * i]) then admitted = 0 end
end
local out = {admitted}
for i, key in ipairs(KEYS) do
  local window = tonumber(ARGV[3 * i])
  local reset = window
  if ARGV[2 + 3 * i] == 'c' then
    local ttl = redis.call('PTTL', key)
    if ttl > 0 then reset = ttl end
  else
    if admitted == 1 then
      redis.call('ZADD', key, now, ARGV[2])
      counts[i] = counts[i] + 1
    end
    redis.call('PEXPIRE', key, window)
    local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
    if oldest[2] then reset = tonumber(oldest[2]) + window - now end
  end
  out[#out + 1] = counts[i]
  out[#out + 1] = reset
end
return out
"#;

/// Adds ARGV[1] to the counter KEYS[1], whose fixed window of ARGV[2] ms starts with its first addition.
/// Returns the new total.
pub const ADD_LUA: &str = r#"
local total = redis.call('INCRBY', KEYS[1], ARGV[1])
if redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return total
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

/// The in-memory sliding-window logs. A key's log counts requests in buckets of 1/600th of its window
/// (100 ms of a minute, and never less than a millisecond): a request leaves the window up to one bucket
/// early, and a key holds at most 600 entries however fast it is hit. Keys whose window has emptied are
/// dropped once the map has doubled since the last sweep, so a long-running process does not keep every
/// client IP it ever saw.
#[derive(Debug, Default)]
pub struct MemoryLogs {
    keys: HashMap<String, KeyLog>,
    sweep_at: usize,
    /// Counters: (when the window ends, in ms; the total).
    counters: HashMap<String, (u64, u64)>,
}

#[derive(Debug, Default)]
struct KeyLog {
    window_ms: u64,
    /// (bucket start in ms, requests admitted in it), oldest first.
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
    const BUCKETS: u64 = 600;

    /// One limit alone (the unit tests' view).
    #[cfg(test)]
    fn check(&mut self, key: &str, limit: u64, window_ms: u64, now: u64) -> Decision {
        let one = Limit::window(key.to_owned(), limit, Duration::from_millis(window_ms));
        self.check_all(std::slice::from_ref(&one), now).1[0]
    }

    /// The key's log (a new key's log allocates its name once).
    fn log_mut(&mut self, key: &str) -> &mut KeyLog {
        if !self.keys.contains_key(key) {
            self.keys.insert(key.to_owned(), KeyLog::default());
        }
        self.keys.get_mut(key).expect("present: inserted above")
    }

    /// A counter's total now (0 once its window ended) and when its window ends.
    fn counter(&mut self, key: &str, now: u64) -> (u64, Option<u64>) {
        match self.counters.get(key) {
            Some(&(ends, total)) if ends > now => (total, Some(ends)),
            Some(_) => {
                self.counters.remove(key);
                (0, None)
            }
            None => (0, None),
        }
    }

    fn add(&mut self, key: &str, amount: u64, window_ms: u64, now: u64) -> u64 {
        let (total, ends) = self.counter(key, now);
        let entry = (ends.unwrap_or(now + window_ms), total + amount);
        self.counters.insert(key.to_owned(), entry);
        entry.1
    }

    fn check_all(&mut self, limits: &[Limit], now: u64) -> (bool, Vec<Decision>) {
        if self.keys.len() >= self.sweep_at.max(Self::MIN_SWEEP) {
            self.keys.retain(|_, log| {
                log.forget_before(now);
                log.count > 0
            });
            self.counters.retain(|_, (ends, _)| *ends > now);
            self.sweep_at = self.keys.len() * 2;
        }
        let mut admitted = true;
        for l in limits {
            if l.kind == Kind::Counter {
                admitted &= self.counter(&l.key, now).0 < l.limit;
                continue;
            }
            let log = self.log_mut(&l.key);
            log.window_ms = millis(l.window);
            log.forget_before(now);
            admitted &= log.count < l.limit;
        }
        let decisions = limits
            .iter()
            .map(|l| {
                if l.kind == Kind::Counter {
                    let (total, ends) = self.counter(&l.key, now);
                    let reset = ends.map_or(millis(l.window), |e| e - now);
                    return decision(l, total < l.limit, total, reset);
                }
                let log = self.log_mut(&l.key);
                if admitted {
                    let bucket = now - now % (log.window_ms / Self::BUCKETS).max(1);
                    match log.hits.back_mut() {
                        Some((t, n)) if *t == bucket => *n += 1,
                        _ => log.hits.push_back((bucket, 1)),
                    }
                    log.count += 1;
                }
                let reset = log
                    .hits
                    .front()
                    .map_or(log.window_ms, |&(t, _)| t + log.window_ms - now);
                decision(l, admitted || log.count < l.limit, log.count, reset)
            })
            .collect();
        (admitted, decisions)
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// A key's decision: `allowed` is false for the keys that refused the request (a request refused by one
/// key is allowed by the others but counted by none).
fn decision(l: &Limit, allowed: bool, count: u64, reset_ms: u64) -> Decision {
    Decision {
        allowed,
        limit: l.limit,
        remaining: l.limit.saturating_sub(count),
        reset: Duration::from_millis(reset_ms),
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

/// One command through Upstash's REST API; its JSON answer, or why it failed.
async fn upstash(
    http: &reqwest::Client,
    url: &str,
    token: &SecretString,
    command: &[String],
) -> anyhow::Result<serde_json::Value> {
    let response = http
        .post(url)
        .bearer_auth(token.expose_secret())
        .json(command)
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
    Ok(body)
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
        let one = Limit::window(key.to_owned(), limit, window);
        let (_, mut decisions) = self.check_all(std::slice::from_ref(&one)).await?;
        Ok(decisions.remove(0))
    }

    /// Adds `amount` to the counter `key` (tokens an answer used), whose fixed window of `window` starts
    /// with its first addition; one round trip. Returns the new total.
    pub async fn add(&self, key: &str, amount: u64, window: Duration) -> anyhow::Result<u64> {
        match self {
            Limiter::Memory(logs) => Ok(logs
                .lock()
                .map_err(|_| anyhow::anyhow!("rate limiter lock poisoned"))?
                .add(
                    key,
                    amount,
                    millis(window),
                    u64::try_from(now_ms()).unwrap_or(u64::MAX),
                )),
            Limiter::Upstash { http, url, token } => {
                let command = [
                    "EVAL".to_owned(),
                    ADD_LUA.to_owned(),
                    "1".to_owned(),
                    key.to_owned(),
                    amount.to_string(),
                    millis(window).to_string(),
                ];
                let body = upstash(http, url, token, &command).await?;
                body.get("result")
                    .and_then(serde_json::Value::as_u64)
                    .ok_or_else(|| anyhow::anyhow!("unexpected Upstash answer: {body}"))
            }
        }
    }

    /// Counts one request against every limit at once — one Upstash round trip however many — and only
    /// when all of them admit it. Returns whether it was admitted and each limit's decision, in order.
    pub async fn check_all(&self, limits: &[Limit]) -> anyhow::Result<(bool, Vec<Decision>)> {
        let now = now_ms();
        match self {
            Limiter::Memory(logs) => Ok(logs
                .lock()
                .map_err(|_| anyhow::anyhow!("rate limiter lock poisoned"))?
                .check_all(limits, u64::try_from(now).unwrap_or(u64::MAX))),
            Limiter::Upstash { http, url, token } => {
                let mut nonce = [0u8; 6];
                getrandom::fill(&mut nonce)
                    .map_err(|e| anyhow::anyhow!("OS random source: {e}"))?;
                let mut command = vec![
                    "EVAL".to_owned(),
                    SLIDING_WINDOW_LUA.to_owned(),
                    limits.len().to_string(),
                ];
                command.extend(limits.iter().map(|l| l.key.clone()));
                command.push(now.to_string());
                command.push(format!("{now}-{}", hex::encode(nonce)));
                for l in limits {
                    command.push(millis(l.window).to_string());
                    command.push(l.limit.to_string());
                    command.push(if l.kind == Kind::Counter { "c" } else { "w" }.to_owned());
                }
                let body = upstash(http, url, token, &command).await?;
                let result: Vec<u64> = body
                    .get("result")
                    .and_then(|r| r.as_array())
                    .filter(|r| r.len() == 1 + 2 * limits.len())
                    .and_then(|r| r.iter().map(serde_json::Value::as_u64).collect())
                    .ok_or_else(|| anyhow::anyhow!("unexpected Upstash answer: {body}"))?;
                let admitted = result[0] == 1;
                let decisions = limits
                    .iter()
                    .enumerate()
                    .map(|(i, l)| {
                        let count = result[1 + 2 * i];
                        decision(l, admitted || count < l.limit, count, result[2 + 2 * i])
                    })
                    .collect();
                Ok((admitted, decisions))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::MemoryLogs;
    use std::time::Duration;

    #[test]
    fn when_a_key_is_hit_all_minute_long_its_log_stays_600_buckets() {
        let mut logs = MemoryLogs::default();
        // 100,000 requests over a minute: one every 0.6 ms.
        for i in 0..100_000u64 {
            assert!(logs.check("k", u64::MAX, 60_000, i * 6 / 10).allowed);
        }
        let log = &logs.keys["k"];
        assert_eq!((log.hits.len(), log.count), (600, 100_000));
        // A minute after the first bucket it leaves, with its ~167 requests.
        let d = logs.check("k", u64::MAX, 60_000, 60_000);
        assert_eq!(logs.keys["k"].count, 100_000 - 167 + 1, "{d:?}");
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
