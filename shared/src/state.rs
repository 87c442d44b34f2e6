//! What every handler needs, built once per cold start and shared by reference.

use crate::auth::{JwtKeys, Passwords};
use crate::config::Config;
use deadpool_postgres::Pool;
use std::sync::Arc;

#[derive(Clone, Debug)]
pub struct AppState {
    pub config: Arc<Config>,
    pub db: Pool,
    pub jwt: Arc<JwtKeys>,
    pub passwords: Passwords,
    pub limiter: crate::ratelimit::Limiter,
    /// The email queue; `None` leaves mail in the outbox for the sweep (see [`crate::services::outbox`]).
    pub email_queue: Option<crate::queue::Queue>,
}

impl AppState {
    /// Builds the state from configuration. Opens no connection: the pool connects on first use.
    pub fn new(config: Config) -> anyhow::Result<Self> {
        let db = crate::db::pool(&config.database)?;
        let jwt = Arc::new(JwtKeys::new(&config.jwt));
        let passwords = Passwords::new()?;
        let rl = &config.rate_limits;
        let limiter = match (&rl.upstash_url, &rl.upstash_token) {
            (Some(url), Some(token)) => {
                crate::ratelimit::Limiter::upstash(url, token.clone(), rl.upstash_timeout)?
            }
            // On Lambda limits must be shared by every container: the start requires Upstash there
            // (`Need::RateLimits`).
            _ => crate::ratelimit::Limiter::memory(),
        };
        Ok(Self {
            config: Arc::new(config),
            db,
            jwt,
            passwords,
            limiter,
            email_queue: None,
        })
    }

    /// The same state sending mail to `queue`.
    pub fn with_email_queue(mut self, queue: crate::queue::Queue) -> Self {
        self.email_queue = Some(queue);
        self
    }
}
