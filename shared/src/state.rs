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
}

impl AppState {
    /// Builds the state from configuration. Opens no connection: the pool connects on first use.
    pub fn new(config: Config) -> anyhow::Result<Self> {
        let db = crate::db::pool(&config.database)?;
        let jwt = Arc::new(JwtKeys::new(&config.jwt));
        let passwords = Passwords::new()?;
        Ok(Self {
            config: Arc::new(config),
            db,
            jwt,
            passwords,
        })
    }
}
