//! A database of its own for each test, cloned from a template migrated once per migration set, and the
//! configuration and state tests run with.

use studio::config::Source;
use studio::{AppState, Config};
use tokio_postgres::NoTls;
use uuid::Uuid;

pub const TEST_JWT_SECRET: &str = "test-secret-test-secret-test-secret-0123";

/// The server tests create their databases on (`TEST_DATABASE_URL`, default the machine's PostgreSQL).
pub fn server_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

pub(crate) fn with_db(url: &str, db: &str) -> String {
    let mut cfg: tokio_postgres::Config =
        url.parse().expect("TEST_DATABASE_URL is a PostgreSQL URL");
    cfg.dbname(db);
    let user = cfg.get_user().unwrap_or("postgres");
    let host = match cfg.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
        _ => "127.0.0.1".into(),
    };
    let port = cfg.get_ports().first().copied().unwrap_or(5432);
    let password = cfg
        .get_password()
        .map(|p| format!(":{}", String::from_utf8_lossy(p)))
        .unwrap_or_default();
    format!("postgres://{user}{password}@{host}:{port}/{db}")
}

pub async fn admin_client(url: &str) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(url, NoTls)
        .await
        .unwrap_or_else(|e| {
            panic!(
                "cannot reach the test PostgreSQL at {url}: {e}. Run the tests with scripts/test.sh"
            )
        });
    tokio::spawn(conn);
    client
}

/// A database of its own for one test, cloned from a template migrated once per migration set.
#[derive(Debug)]
pub struct TestDb {
    pub url: String,
    pub name: String,
}

impl TestDb {
    pub async fn new() -> Self {
        let server = server_url();
        let template = format!("studio_tpl_{}", studio::db::migrations_fingerprint());
        let admin = admin_client(&server).await;
        // Template creation is serialised across test processes by an advisory lock, and is built under a
        // temporary name then renamed, so a half-migrated template is never cloned.
        admin
            .execute("SELECT pg_advisory_lock(727274)", &[])
            .await
            .expect("lock");
        let exists = admin
            .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&template])
            .await
            .expect("q")
            .is_some();
        if !exists {
            let building = format!("{template}_building");
            admin
                .batch_execute(&format!("DROP DATABASE IF EXISTS {building}"))
                .await
                .expect("drop");
            admin
                .batch_execute(&format!("CREATE DATABASE {building}"))
                .await
                .expect("create template");
            studio::db::migrate(&with_db(&server, &building))
                .await
                .expect("migrate template");
            admin
                .batch_execute(&format!("ALTER DATABASE {building} RENAME TO {template}"))
                .await
                .expect("rename");
        }
        admin
            .execute("SELECT pg_advisory_unlock(727274)", &[])
            .await
            .expect("unlock");
        let name = format!("test_{}", Uuid::new_v4().simple());
        admin
            .batch_execute(&format!("CREATE DATABASE {name} TEMPLATE {template}"))
            .await
            .expect("clone template");
        Self {
            url: with_db(&server, &name),
            name,
        }
    }

    /// A direct connection for arranging and inspecting rows.
    pub async fn client(&self) -> tokio_postgres::Client {
        admin_client(&self.url).await
    }
}

/// Configuration for tests: the given database, a fixed JWT secret, defaults elsewhere.
pub fn source(database_url: &str) -> Source {
    // Limits high enough that only the rate-limit tests (which set their own) ever meet them.
    Source::from_pairs([
        ("DATABASE_URL", database_url),
        ("JWT_SECRET", TEST_JWT_SECRET),
        ("RATE_LIMIT_AUTH_PER_MINUTE", "1000000"),
        ("RATE_LIMIT_API_PER_IP_PER_MINUTE", "1000000"),
        ("RATE_LIMIT_API_PER_TENANT_PER_MINUTE", "1000000"),
    ])
}

pub fn state(database_url: &str) -> AppState {
    state_with(database_url, &[])
}

/// Test state with extra configuration values (e.g. `CORS_ALLOWED_ORIGINS`).
pub fn state_with(database_url: &str, extra: &[(&str, &str)]) -> AppState {
    let mut src = source(database_url);
    for (k, v) in extra {
        src.set(*k, *v);
    }
    AppState::new(Config::from_source(&src).expect("test config")).expect("state")
}
