//! Test support for every crate's integration tests (feature `test-support`): a fresh database per test
//! cloned from a migrated template, the app called in-process, and private PostgreSQL instances for tests
//! that stop the database.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::missing_panics_doc)]

use crate::config::Source;
use crate::{AppState, Config};
use axum::Router;
use axum::body::Body;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::Command;
use tokio_postgres::NoTls;
use tower::ServiceExt;
use uuid::Uuid;

pub const TEST_JWT_SECRET: &str = "test-secret-test-secret-test-secret-0123";

/// The server tests create their databases on (`TEST_DATABASE_URL`, default the machine's PostgreSQL).
pub fn server_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

fn with_db(url: &str, db: &str) -> String {
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

async fn admin_client(url: &str) -> tokio_postgres::Client {
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
        let template = format!("studio_tpl_{}", crate::db::migrations_fingerprint());
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
            crate::db::migrate(&with_db(&server, &building))
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

/// What a client saw.
#[derive(Debug)]
pub struct TestResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl TestResponse {
    /// The error code of an error body.
    pub fn code(&self) -> &str {
        self.body["error"]["code"]
            .as_str()
            .unwrap_or("<no error code>")
    }

    pub fn str(&self, pointer: &str) -> String {
        self.body
            .pointer(pointer)
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("{pointer} missing in {}", self.body))
            .to_owned()
    }
}

/// The app, served in-process, with its own database.
#[derive(Debug, Clone)]
pub struct TestApp {
    pub router: Router,
    pub state: AppState,
    pub db_url: String,
    /// Directories (e.g. the embedded vector store's) that live as long as the app.
    keep: Vec<std::sync::Arc<TempDir>>,
}

/// A registered user with a workspace of their own.
#[derive(Debug, Clone)]
pub struct TestUser {
    pub id: Uuid,
    pub email: String,
    pub workspace_id: Uuid,
    pub access_token: String,
    pub refresh_token: String,
}

impl TestApp {
    pub async fn new(routes: Router<AppState>) -> Self {
        let db = TestDb::new().await;
        Self::with_state(routes, state(&db.url), db.url)
    }

    pub fn with_state(routes: Router<AppState>, state: AppState, db_url: String) -> Self {
        Self {
            router: crate::http::app(routes, state.clone()),
            state,
            db_url,
            keep: Vec::new(),
        }
    }

    /// A router over another state (e.g. the knowledge state), with the core state for helpers.
    pub fn with_router(router: Router, state: AppState, db_url: String) -> Self {
        Self {
            router,
            state,
            db_url,
            keep: Vec::new(),
        }
    }

    /// Keeps `dir` until the app (and every clone of it) is dropped.
    pub fn keeping(mut self, dir: TempDir) -> Self {
        self.keep.push(std::sync::Arc::new(dir));
        self
    }

    pub async fn call(&self, request: Request<Body>) -> TestResponse {
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("infallible router");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        TestResponse {
            status,
            headers,
            body,
        }
    }

    pub async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> TestResponse {
        self.send_with(method, path, token, body, &[]).await
    }

    pub async fn send_with(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> TestResponse {
        let mut builder = Request::builder().method(method).uri(path);
        if let Some(token) = token {
            builder = builder.header("authorization", format!("Bearer {token}"));
        }
        for (k, v) in headers {
            builder = builder.header(*k, *v);
        }
        let request = match body {
            Some(json) => builder
                .header("content-type", "application/json")
                .body(Body::from(json.to_string())),
            None => builder.body(Body::empty()),
        };
        self.call(request.expect("request")).await
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> TestResponse {
        self.send(Method::GET, path, token, None).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> TestResponse {
        self.send(Method::POST, path, token, Some(body)).await
    }

    pub async fn patch(&self, path: &str, token: Option<&str>, body: Value) -> TestResponse {
        self.send(Method::PATCH, path, token, Some(body)).await
    }

    pub async fn delete(&self, path: &str, token: Option<&str>) -> TestResponse {
        self.send(Method::DELETE, path, token, None).await
    }

    /// Registers a user through the auth service (any route group's tests can use it).
    pub async fn user(&self, name: &str) -> TestUser {
        let email = format!(
            "{}-{}@example.com",
            name.to_lowercase(),
            Uuid::new_v4().simple()
        );
        let out = crate::services::auth::register(
            &self.state,
            &email,
            "correct horse battery".to_owned().into(),
            name,
            None,
        )
        .await
        .expect("register");
        TestUser {
            id: out.user.id,
            email,
            workspace_id: out.workspace.id,
            access_token: out.tokens.access_token,
            refresh_token: out.tokens.refresh_token,
        }
    }

    /// Adds `user` to `workspace` with `role`, directly in the database (invitations come later).
    pub async fn add_member(&self, workspace: Uuid, user: Uuid, role: crate::Role) {
        let client = admin_client(&self.db_url).await;
        let workspace = crate::WorkspaceId::from_trusted_source(workspace);
        crate::repo::members::insert(&client, workspace, user, role)
            .await
            .expect("add member");
    }

    /// Saves `intake` as the user's workspace's intake (and the agent configuration mapped from it).
    pub async fn set_intake(&self, user: &TestUser, intake: Value) {
        let parsed: crate::agent::Intake =
            serde_json::from_value(intake.clone()).expect("an intake");
        let config = serde_json::to_value(crate::agent::AgentConfig::from_intake(&parsed))
            .expect("config json");
        crate::repo::intakes::upsert(
            &admin_client(&self.db_url).await,
            crate::WorkspaceId::from_trusted_source(user.workspace_id),
            &intake,
            &config,
            user.id,
        )
        .await
        .expect("save the intake");
    }

    pub async fn sql(&self) -> tokio_postgres::Client {
        admin_client(&self.db_url).await
    }
}

/// A PostgreSQL server of the test's own, on a free port, that the test may stop and start.
#[derive(Debug)]
pub struct PrivatePostgres {
    dir: PathBuf,
    pub port: u16,
    bin: PathBuf,
}

fn pg_bin_dir() -> PathBuf {
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if dir.join("initdb").exists() {
            return dir;
        }
    }
    let mut candidates: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.path().join("bin"))
                .filter(|p| p.join("initdb").exists())
                .collect()
        })
        .unwrap_or_default();
    candidates.sort();
    candidates.pop().expect(
        "PostgreSQL server binaries (initdb) are not installed; scripts/test.sh installs them",
    )
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// Runs a PostgreSQL tool, as the `postgres` user when we are root (initdb refuses to run as root).
fn run_pg(bin: &std::path::Path, tool: &str, args: &[&str]) {
    let exe = bin.join(tool);
    let status = if is_root() {
        Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(&exe)
            .args(args)
            .status()
    } else {
        Command::new(&exe).args(args).status()
    }
    .unwrap_or_else(|e| panic!("running {tool}: {e}"));
    assert!(status.success(), "{tool} {args:?} failed: {status}");
}

impl PrivatePostgres {
    pub fn start() -> Self {
        let bin = pg_bin_dir();
        let dir = std::env::temp_dir().join(format!("studio-pg-{}", Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        if is_root() {
            let status = Command::new("chown")
                .arg("postgres:postgres")
                .arg(&dir)
                .status()
                .expect("chown");
            assert!(status.success(), "chown the private PostgreSQL directory");
        }
        let data = dir.join("data");
        run_pg(
            &bin,
            "initdb",
            &[
                "-D",
                data.to_str().expect("utf8"),
                "-U",
                "postgres",
                "-A",
                "trust",
                "--no-sync",
                "-E",
                "UTF8",
            ],
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .expect("free port")
            .local_addr()
            .expect("addr")
            .port();
        let pg = Self { dir, port, bin };
        pg.resume();
        pg
    }

    pub fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }

    fn data(&self) -> String {
        self.dir.join("data").to_string_lossy().into_owned()
    }

    /// Starts (or restarts) the server and waits until it accepts connections.
    pub fn resume(&self) {
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.display()
        );
        let log = self.dir.join("log").to_string_lossy().into_owned();
        run_pg(
            &self.bin,
            "pg_ctl",
            &["-D", &self.data(), "-o", &opts, "-l", &log, "-w", "start"],
        );
    }

    /// Stops the server at once, cutting every connection.
    pub fn stop(&self) {
        run_pg(
            &self.bin,
            "pg_ctl",
            &["-D", &self.data(), "-m", "immediate", "-w", "stop"],
        );
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let exe = self.bin.join("pg_ctl");
        let data = self.data();
        let args = ["-D", data.as_str(), "-m", "immediate", "stop"];
        let _ = if is_root() {
            Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .arg(&exe)
                .args(args)
                .output()
        } else {
            Command::new(&exe).args(args).output()
        };
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A directory removed when dropped.
#[derive(Debug)]
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(prefix: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("{prefix}-{}", Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        Self(dir)
    }

    pub fn path_str(&self) -> &str {
        self.0.to_str().expect("utf-8 temp path")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The knowledge state for tests: the given embedder and queue, the embedded vector store in a temporary
/// directory (the same engine as Qdrant's server).
pub fn knowledge(
    app: &AppState,
    embedder: crate::knowledge::Embedder,
    queue: crate::knowledge::Queue,
) -> (crate::state::KnowledgeState, TempDir) {
    let dir = TempDir::new("studio-vectors");
    let vectors = crate::knowledge::VectorStore::embedded(dir.path_str(), embedder.dimensions())
        .expect("embedded store");
    (
        crate::state::KnowledgeState {
            app: app.clone(),
            embedder,
            llm: crate::knowledge::Llm::offline(),
            vectors,
            queue,
        },
        dir,
    )
}

/// An in-process queue and the receiving end the test reads from.
pub fn local_queue() -> (
    crate::knowledge::Queue,
    tokio::sync::mpsc::UnboundedReceiver<String>,
) {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    (crate::knowledge::Queue::Local(tx), rx)
}

/// An embedder that talks to an OpenAI-compatible server at `base_url` (a wiremock double).
pub fn openai_embedder(base_url: &str, dimensions: u32) -> crate::knowledge::Embedder {
    let mut src = source("postgres://unused@127.0.0.1/unused");
    src.set("OPENAI_API_KEY", "sk-test");
    src.set("OPENAI_BASE_URL", base_url);
    src.set("EMBEDDING_DIMENSIONS", dimensions.to_string());
    src.set("OPENAI_TIMEOUT_SECONDS", "5");
    let cfg = Config::from_source(&src).expect("config");
    crate::knowledge::Embedder::from_config(&cfg.knowledge).expect("embedder")
}

/// Answers `POST /v1/embeddings` like OpenAI: one vector per input, in order (the offline embedder's
/// vectors, so similar texts are close), and counts the inputs it was sent.
#[derive(Debug, Clone, Default)]
pub struct EmbeddingsDouble {
    pub dimensions: usize,
    pub inputs: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl EmbeddingsDouble {
    pub fn new(dimensions: usize) -> Self {
        Self {
            dimensions,
            inputs: Default::default(),
        }
    }

    /// Every input text the double has been asked to embed, in order.
    pub fn seen(&self) -> Vec<String> {
        self.inputs.lock().expect("lock").clone()
    }
}

impl wiremock::Respond for EmbeddingsDouble {
    fn respond(&self, request: &wiremock::Request) -> wiremock::ResponseTemplate {
        let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
        let inputs: Vec<String> = match &body["input"] {
            Value::String(s) => vec![s.clone()],
            Value::Array(items) => items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
            _ => Vec::new(),
        };
        self.inputs
            .lock()
            .expect("lock")
            .extend(inputs.iter().cloned());
        let data: Vec<Value> = inputs
            .iter()
            .enumerate()
            .map(|(i, text)| {
                serde_json::json!({
                    "object": "embedding",
                    "index": i,
                    "embedding": crate::knowledge::embedder::offline_vector(text, self.dimensions),
                })
            })
            .collect();
        wiremock::ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "object": "list",
            "data": data,
            "model": body["model"],
            "usage": {"prompt_tokens": 1, "total_tokens": 1},
        }))
    }
}

/// The knowledge routes over a fresh database, the given embedder and queue, and the offline LLM.
pub async fn knowledge_app(
    embedder: crate::knowledge::Embedder,
    queue: crate::knowledge::Queue,
    routes: Router<crate::state::KnowledgeState>,
) -> (TestApp, crate::state::KnowledgeState) {
    knowledge_app_with(
        embedder,
        crate::knowledge::Llm::offline(),
        queue,
        routes,
        &[],
    )
    .await
}

/// The same, with an LLM and extra configuration values.
pub async fn knowledge_app_with(
    embedder: crate::knowledge::Embedder,
    llm: crate::knowledge::Llm,
    queue: crate::knowledge::Queue,
    routes: Router<crate::state::KnowledgeState>,
    extra: &[(&str, &str)],
) -> (TestApp, crate::state::KnowledgeState) {
    let db = TestDb::new().await;
    let app_state = state_with(&db.url, extra);
    let (mut k, dir) = knowledge(&app_state, embedder, queue);
    k.llm = llm;
    let app =
        TestApp::with_router(crate::http::app(routes, k.clone()), app_state, db.url).keeping(dir);
    (app, k)
}

/// An LLM that talks to an OpenAI-compatible server at `base_url` (a wiremock double).
pub fn openai_llm(base_url: &str, timeout_secs: u64) -> crate::knowledge::Llm {
    let mut src = source("postgres://unused@127.0.0.1/unused");
    src.set("OPENAI_API_KEY", "sk-test");
    src.set("OPENAI_BASE_URL", base_url);
    src.set("CHAT_TIMEOUT_SECONDS", timeout_secs.to_string());
    src.set("CHAT_MODEL", "gpt-test");
    let cfg = Config::from_source(&src).expect("config");
    crate::knowledge::Llm::from_config(&cfg.knowledge).expect("llm")
}

/// A chat-completions answer as OpenAI sends it.
pub fn chat_completion(text: &str) -> Value {
    serde_json::json!({
        "id": "chatcmpl-test", "object": "chat.completion", "created": 1_795_577_400u32, "model": "gpt-test",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 120, "completion_tokens": 12, "total_tokens": 132}
    })
}

/// A small server speaking Upstash's REST protocol (a JSON command array on `POST /`, an array of them on
/// `POST /pipeline`, a bearer token) in front of a real Redis — no package offers one. It counts the HTTP
/// requests it serves, so tests can check that a rate-limit check is one round trip.
#[derive(Debug, Clone)]
pub struct UpstashDouble {
    pub url: String,
    pub token: String,
    pub requests: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

fn redis_to_json(value: redis::Value) -> Value {
    match value {
        redis::Value::Nil => Value::Null,
        redis::Value::Int(i) => Value::from(i),
        redis::Value::BulkString(bytes) => {
            Value::String(String::from_utf8_lossy(&bytes).into_owned())
        }
        redis::Value::SimpleString(s) => Value::String(s),
        redis::Value::Okay => Value::String("OK".into()),
        redis::Value::Array(items) | redis::Value::Set(items) => {
            Value::Array(items.into_iter().map(redis_to_json).collect())
        }
        redis::Value::Double(d) => Value::from(d),
        redis::Value::Boolean(b) => Value::Bool(b),
        other => Value::String(format!("{other:?}")),
    }
}

async fn upstash_command(conn: &mut redis::aio::MultiplexedConnection, command: &Value) -> Value {
    let Some(parts) = command.as_array().filter(|p| !p.is_empty()) else {
        return serde_json::json!({"error": "ERR a command is a non-empty JSON array"});
    };
    let args: Vec<String> = parts
        .iter()
        .map(|p| p.as_str().map_or_else(|| p.to_string(), str::to_owned))
        .collect();
    let mut cmd = redis::cmd(&args[0]);
    for a in &args[1..] {
        cmd.arg(a);
    }
    match cmd.query_async::<redis::Value>(conn).await {
        Ok(v) => serde_json::json!({"result": redis_to_json(v)}),
        Err(e) => serde_json::json!({"error": e.to_string()}),
    }
}

impl UpstashDouble {
    /// Serves on a free loopback port in front of `redis_url` (`TEST_REDIS_URL`, default the local Redis).
    pub async fn start() -> Self {
        use axum::routing::post;
        let redis_url =
            std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
        let client = redis::Client::open(redis_url.as_str()).expect("redis url");
        let conn = client
            .get_multiplexed_async_connection()
            .await
            .unwrap_or_else(|e| {
                panic!("cannot reach Redis at {redis_url}: {e}. Run the tests with scripts/test.sh")
            });
        let token = format!("upstash-test-{}", Uuid::new_v4().simple());
        let requests = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let authorized = {
            let token = token.clone();
            move |headers: &http::HeaderMap| {
                headers.get("authorization").and_then(|v| v.to_str().ok())
                    == Some(&format!("Bearer {token}"))
            }
        };
        let single = {
            let (conn, authorized, requests) = (conn.clone(), authorized.clone(), requests.clone());
            move |headers: http::HeaderMap, axum::Json(command): axum::Json<Value>| {
                let (mut conn, authorized, requests) =
                    (conn.clone(), authorized.clone(), requests.clone());
                async move {
                    requests.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    if !authorized(&headers) {
                        return (
                            StatusCode::UNAUTHORIZED,
                            axum::Json(serde_json::json!({"error": "Unauthorized"})),
                        );
                    }
                    let out = upstash_command(&mut conn, &command).await;
                    let status = if out.get("error").is_some() {
                        StatusCode::BAD_REQUEST
                    } else {
                        StatusCode::OK
                    };
                    (status, axum::Json(out))
                }
            }
        };
        let pipeline = {
            let (conn, requests) = (conn.clone(), requests.clone());
            move |headers: http::HeaderMap, axum::Json(commands): axum::Json<Vec<Value>>| {
                let (mut conn, authorized, requests) =
                    (conn.clone(), authorized.clone(), requests.clone());
                async move {
                    requests.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    if !authorized(&headers) {
                        return (
                            StatusCode::UNAUTHORIZED,
                            axum::Json(serde_json::json!({"error": "Unauthorized"})),
                        );
                    }
                    let mut out = Vec::new();
                    for c in &commands {
                        out.push(upstash_command(&mut conn, c).await);
                    }
                    (StatusCode::OK, axum::Json(Value::Array(out)))
                }
            }
        };
        let app = Router::new()
            .route("/", post(single))
            .route("/pipeline", post(pipeline));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            url,
            token,
            requests,
        }
    }

    pub fn served(&self) -> usize {
        self.requests.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// The AWS SDK configuration for the moto server the test command starts (`AWS_ENDPOINT_URL`).
pub async fn moto_sdk() -> aws_config::SdkConfig {
    assert!(
        std::env::var("AWS_ENDPOINT_URL").is_ok(),
        "AWS_ENDPOINT_URL is not set: run the suite with scripts/test.sh (it starts the moto server)"
    );
    crate::aws::load().await
}

/// A new SQS queue on the moto server; with `dead_letter`, a dead-letter queue after `max_receives`.
pub async fn moto_queue(
    sdk: &aws_config::SdkConfig,
    prefix: &str,
    dead_letter: Option<(&str, u32)>,
) -> String {
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let mut create = sqs
        .create_queue()
        .queue_name(format!("{prefix}-{}", Uuid::new_v4().simple()));
    if let Some((dlq_url, max)) = dead_letter {
        let arn = sqs
            .get_queue_attributes()
            .queue_url(dlq_url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
            .send()
            .await
            .expect("dlq arn")
            .attributes
            .and_then(|a| {
                a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn)
                    .cloned()
            })
            .expect("dlq arn");
        create = create.attributes(
            aws_sdk_sqs::types::QueueAttributeName::RedrivePolicy,
            json!({"deadLetterTargetArn": arn, "maxReceiveCount": max}).to_string(),
        );
    }
    create
        .send()
        .await
        .expect("create queue")
        .queue_url
        .expect("url")
}

/// The sender domain verified in the moto server's SES for tests.
pub const TEST_MAIL_DOMAIN: &str = "studio.test";

/// An SES mailer on the moto server, sending as `Studio <no-reply@studio.test>` (the domain verified).
pub async fn ses_mailer(sdk: &aws_config::SdkConfig) -> crate::email::Mailer {
    aws_sdk_sesv2::Client::new(sdk)
        .create_email_identity()
        .email_identity(TEST_MAIL_DOMAIN)
        .send()
        .await
        .map(drop)
        .or_else(|e| {
            // Verified by an earlier test already.
            let text = format!("{}", aws_sdk_sesv2::error::DisplayErrorContext(&e));
            if text.contains("AlreadyExists") {
                Ok(())
            } else {
                Err(text)
            }
        })
        .expect("verify the test domain in moto's SES");
    crate::email::Mailer::ses(sdk, format!("Studio <no-reply@{TEST_MAIL_DOMAIN}>"), None)
}

/// A message the moto server's SES accepted (moto keeps the HTML body when both are sent).
#[derive(Debug, Clone)]
pub struct SesMail {
    pub source: String,
    pub to: Vec<String>,
    pub subject: String,
    pub body: String,
}

/// Every message moto's SES accepted for `to`, read from its inspection endpoint.
pub async fn ses_sent_to(to: &str) -> Vec<SesMail> {
    let endpoint = std::env::var("AWS_ENDPOINT_URL").expect("AWS_ENDPOINT_URL");
    let data: Value = crate::tls::client_builder()
        .build()
        .expect("http client")
        .get(format!("{endpoint}/moto-api/data.json"))
        .send()
        .await
        .expect("moto data")
        .json()
        .await
        .expect("moto json");
    let messages = data["ses"]["Message"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    messages
        .iter()
        .filter_map(|m| {
            let to_list: Vec<String> = m["destinations"]["ToAddresses"]
                .as_array()?
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect();
            to_list
                .iter()
                .any(|t| t.eq_ignore_ascii_case(to))
                .then(|| SesMail {
                    source: m["source"].as_str().unwrap_or_default().to_owned(),
                    to: to_list,
                    subject: m["subject"].as_str().unwrap_or_default().to_owned(),
                    body: m["body"].as_str().unwrap_or_default().to_owned(),
                })
        })
        .collect()
}

/// The mail the app has written to its outbox and not yet sent (tests run without an email queue, so
/// every message waits there), oldest first.
pub async fn outbox_mail(db_url: &str) -> Vec<crate::email::EmailMessage> {
    admin_client(db_url)
        .await
        .query(
            "SELECT payload FROM outbox WHERE topic = 'email' AND sent_at IS NULL ORDER BY created_at, id",
            &[],
        )
        .await
        .expect("outbox")
        .iter()
        .map(|r| serde_json::from_value(r.get(0)).expect("an email message"))
        .collect()
}

/// The one-time token in a mailed link (`…/invitations/<token>` or `…?token=<token>`).
pub fn token_in(message: &crate::email::EmailMessage) -> String {
    let text = &message.text;
    let start = text
        .find("token=")
        .map(|i| i + "token=".len())
        .or_else(|| {
            text.find("/invitations/")
                .map(|i| i + "/invitations/".len())
        })
        .expect("a link with a token");
    text[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect()
}

/// What the code logged while a [`LogCapture`] was in scope on this thread (JSON lines, as on Lambda).
/// `#[tokio::test]`'s runtime runs spawned tasks on the test's thread, so their logs are caught too.
#[derive(Debug, Clone, Default)]
pub struct LogCapture {
    lines: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
}

/// Starts capturing this thread's logs; they are captured until the guard is dropped.
pub fn capture_logs() -> (LogCapture, tracing::subscriber::DefaultGuard) {
    let capture = LogCapture::default();
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_max_level(tracing::Level::INFO)
        .with_current_span(true)
        .with_span_list(true)
        .with_writer(move || LogWriter(writer.lines.clone()))
        .finish();
    (capture, tracing::subscriber::set_default(subscriber))
}

struct LogWriter(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl LogCapture {
    /// Every log line, parsed.
    pub fn events(&self) -> Vec<Value> {
        let bytes = self.lines.lock().unwrap().clone();
        String::from_utf8_lossy(&bytes)
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// The log lines at ERROR level.
    pub fn errors(&self) -> Vec<Value> {
        self.events()
            .into_iter()
            .filter(|e| e["level"] == "ERROR")
            .collect()
    }
}
