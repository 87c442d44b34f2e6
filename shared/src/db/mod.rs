//! PostgreSQL: one small pool per container, built once at cold start and connecting lazily, and the
//! migrations (refinery), applied as a deploy step — never on a Lambda cold start.

use crate::config::DatabaseConfig;
use anyhow::Context;
use deadpool_postgres::{ManagerConfig, Pool, PoolConfig, RecyclingMethod, Runtime, Timeouts};
use secrecy::ExposeSecret;
use std::sync::Arc;
use tokio_postgres::NoTls;
use tokio_postgres::config::SslMode;
use tokio_postgres::tls::MakeTlsConnect;
use tokio_postgres_rustls::MakeRustlsConnect;

pub use deadpool_postgres::{GenericClient, Pool as DbPool};

pub mod scoped;
pub use scoped::{Scope, Scoped};

mod embedded {
    refinery::embed_migrations!("../migrations");
}

/// Builds the pool. No connection is opened until the first request needs one.
pub fn pool(cfg: &DatabaseConfig) -> anyhow::Result<Pool> {
    let mut pg: tokio_postgres::Config = cfg
        .url
        .expose_secret()
        .parse()
        .map_err(|e| anyhow::anyhow!("DATABASE_URL is not a valid PostgreSQL URL: {e}"))?;
    pg.connect_timeout(cfg.connect_timeout);
    if pg.get_application_name().is_none() {
        pg.application_name(
            std::env::var("AWS_LAMBDA_FUNCTION_NAME")
                .as_deref()
                .unwrap_or("soft-systems-studio"),
        );
    }
    let manager_config = ManagerConfig {
        recycling_method: RecyclingMethod::Fast,
    };
    // `sslmode=require` (as in production, behind RDS Proxy) means TLS with the certificate chain and host
    // name verified against the system's roots; otherwise plain TCP, as for a local server.
    let manager = if pg.get_ssl_mode() == SslMode::Require {
        deadpool_postgres::Manager::from_config(pg, LazyTls::default(), manager_config)
    } else {
        deadpool_postgres::Manager::from_config(pg, NoTls, manager_config)
    };
    let timeouts = Timeouts {
        wait: Some(cfg.connect_timeout),
        create: Some(cfg.connect_timeout),
        recycle: Some(cfg.connect_timeout),
    };
    Pool::builder(manager)
        .config(PoolConfig {
            max_size: cfg.pool_size,
            timeouts,
            ..PoolConfig::default()
        })
        .runtime(Runtime::Tokio1)
        .build()
        .context("building the PostgreSQL pool")
}

/// TLS to PostgreSQL whose root certificates are loaded on the first connection, not at cold start
/// (loading and parsing the system store costs tens of milliseconds); every later connection reuses them.
#[derive(Clone, Default)]
struct LazyTls(std::sync::Arc<std::sync::OnceLock<Result<MakeRustlsConnect, Arc<TlsSetupError>>>>);

/// Why TLS to PostgreSQL could not be set up; kept (with its cause) for every later connection attempt.
#[derive(Debug, thiserror::Error)]
enum TlsSetupError {
    #[error(
        "DATABASE_URL asks for sslmode=require but no system root certificates were found ({0})"
    )]
    NoRoots(String),
    #[error("TLS to PostgreSQL: the protocol versions")]
    Versions(#[source] rustls::Error),
}

impl<S> MakeTlsConnect<S> for LazyTls
where
    MakeRustlsConnect: MakeTlsConnect<S, Error = std::convert::Infallible>,
{
    type Stream = <MakeRustlsConnect as MakeTlsConnect<S>>::Stream;
    type TlsConnect = <MakeRustlsConnect as MakeTlsConnect<S>>::TlsConnect;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn make_tls_connect(&mut self, domain: &str) -> Result<Self::TlsConnect, Self::Error> {
        let mut connector = self
            .0
            .get_or_init(|| tls_connector().map_err(Arc::new))
            .clone()?;
        let Ok(connect) = connector.make_tls_connect(domain);
        Ok(connect)
    }
}

/// A verifying TLS connector over the operating system's root certificates (Amazon's roots included on
/// Lambda's `provided.al2023`).
fn tls_connector() -> Result<MakeRustlsConnect, TlsSetupError> {
    let mut roots = rustls::RootCertStore::empty();
    let found = rustls_native_certs::load_native_certs();
    for cert in found.certs {
        // A malformed system certificate is skipped, not fatal.
        let _ = roots.add(cert);
    }
    if roots.is_empty() {
        return Err(TlsSetupError::NoRoots(format!("{:?}", found.errors)));
    }
    let config = rustls::ClientConfig::builder_with_provider(crate::tls::crypto_provider())
        .with_safe_default_protocol_versions()
        .map_err(TlsSetupError::Versions)?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}

/// Applies every pending migration in `migrations/` to the database at `url`.
pub async fn migrate(url: &str) -> anyhow::Result<Vec<String>> {
    let cfg: tokio_postgres::Config = url
        .parse()
        .context("DATABASE_URL is not a valid PostgreSQL URL")?;
    let (mut client, conn) = if cfg.get_ssl_mode() == SslMode::Require {
        let (client, connection) = cfg
            .connect(tls_connector()?)
            .await
            .context("connecting to DATABASE_URL (TLS) to migrate")?;
        (client, tokio::spawn(async move { drop(connection.await) }))
    } else {
        let (client, connection) = cfg
            .connect(NoTls)
            .await
            .context("connecting to DATABASE_URL to migrate")?;
        (client, tokio::spawn(async move { drop(connection.await) }))
    };
    let report = embedded::migrations::runner()
        .run_async(&mut client)
        .await
        .context("applying migrations")?;
    drop(client);
    let _ = conn.await;
    Ok(report
        .applied_migrations()
        .iter()
        .map(|m| m.to_string())
        .collect())
}

/// Creates the database named in `url` when it does not exist (local development only).
pub async fn ensure_database_exists(url: &str) -> anyhow::Result<bool> {
    let cfg: tokio_postgres::Config = url
        .parse()
        .context("DATABASE_URL is not a valid PostgreSQL URL")?;
    let name = cfg.get_dbname().unwrap_or("postgres").to_owned();
    let mut admin = cfg.clone();
    admin.dbname("postgres");
    let (client, connection) = admin.connect(NoTls).await.with_context(|| {
        format!(
            "connecting to PostgreSQL at {:?} (is it running?)",
            cfg.get_hosts()
        )
    })?;
    let conn = tokio::spawn(connection);
    let exists = client
        .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&name])
        .await?
        .is_some();
    if !exists {
        // Identifiers cannot be bound as parameters; quote it.
        let quoted = format!("\"{}\"", name.replace('"', "\"\""));
        client
            .batch_execute(&format!("CREATE DATABASE {quoted}"))
            .await?;
    }
    drop(client);
    let _ = conn.await;
    Ok(!exists)
}

/// Whether the database answers a trivial query (for health routes).
pub async fn ping(pool: &Pool) -> bool {
    match pool.get().await {
        Ok(client) => client.simple_query("SELECT 1").await.is_ok(),
        Err(_) => false,
    }
}

/// A fingerprint of the embedded migrations (names and checksums): test templates are keyed by it, so
/// a changed migration gets a fresh template.
pub fn migrations_fingerprint() -> String {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    for m in embedded::migrations::runner().get_migrations() {
        hasher.update(format!("{}:{}:{};", m.version(), m.name(), m.checksum()));
    }
    hasher
        .finalize()
        .iter()
        .take(6)
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn when_sslmode_is_require_the_servers_certificate_is_verified() {
        // The machine's PostgreSQL (ssl=on) presents a self-signed certificate: a verifying client must
        // refuse it rather than fall back to an unverified or plain connection.
        let base = std::env::var("TEST_DATABASE_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        let sep = if base.contains('?') { '&' } else { '?' };
        let cfg = DatabaseConfig {
            url: format!("{base}{sep}sslmode=require").into(),
            pool_size: 1,
            connect_timeout: Duration::from_secs(5),
        };
        let pool = pool(&cfg).expect("pool builds");
        let err = pool
            .get()
            .await
            .expect_err("an untrusted certificate is refused");
        let chain = format!("{:?}", anyhow::Error::from(err));
        assert!(
            chain.to_lowercase().contains("certificate")
                || chain.contains("tls")
                || chain.contains("Tls"),
            "{chain}"
        );
    }
}
