//! `cargo run -p devserver` serves the whole API locally; `cargo run -p devserver -- migrate` applies the
//! migrations to `DATABASE_URL` (the deploy step).

use anyhow::Context;
use studio::config::Source;
use studio::queue::Queue;
use studio::state::KnowledgeState;
use studio::{AppState, Config};

fn mailer_state(
    state: &AppState,
    mailer: &studio::email::Mailer,
    queue: Queue,
) -> email_worker::EmailState {
    email_worker::EmailState {
        db: state.db.clone(),
        mailer: mailer.clone(),
        queue,
    }
}

const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/studio";

fn random_hex(bytes: usize) -> anyhow::Result<String> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).map_err(|e| anyhow::anyhow!("OS random source: {e}"))?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    studio::telemetry::init();
    let command = std::env::args().nth(1);
    let mut source = Source::load().await?;
    source.set_default("DATABASE_URL", DEFAULT_DATABASE_URL);
    let url = source
        .get("DATABASE_URL")
        .unwrap_or(DEFAULT_DATABASE_URL)
        .to_owned();

    match command.as_deref() {
        Some("migrate") => {
            let applied = studio::db::migrate(&url).await?;
            println!(
                "migrations applied: {}",
                if applied.is_empty() {
                    "none pending".into()
                } else {
                    applied.join(", ")
                }
            );
            return Ok(());
        }
        Some(other) if other != "serve" => {
            anyhow::bail!("unknown command {other:?}: use `serve` (default) or `migrate`")
        }
        _ => {}
    }

    if studio::db::ensure_database_exists(&url).await? {
        tracing::info!("created the local database");
    }
    let applied = studio::db::migrate(&url).await?;
    if !applied.is_empty() {
        tracing::info!(migrations = ?applied, "applied migrations");
    }
    if source.set_default("JWT_SECRET", random_hex(32)?) {
        println!(
            "JWT_SECRET not set: generated a dev value for this run (tokens stop working on restart)"
        );
    }
    if source.set_default("ADMIN_API_KEY", random_hex(24)?) {
        println!(
            "ADMIN_API_KEY not set: generated dev value {}",
            source.get("ADMIN_API_KEY").unwrap_or_default()
        );
    }
    let port: u16 = source
        .get("PORT")
        .unwrap_or("3000")
        .parse()
        .context("PORT must be a port number")?;
    let config = Config::from_source(&source)?;
    studio::telemetry::init_sentry(&config);
    let mailer = studio::email::Mailer::from_config(&config.ops).await?;
    let mut state = AppState::new(config)?;
    // Mail: the real email queue when configured, else an in-process one; either way the email worker's code.
    let email_queue = match &state.config.ops.email_queue_url {
        Some(url) => Queue::sqs(url.clone()),
        None => {
            let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
            let queue = Queue::Local(tx);
            devserver::spawn_local_mailer(mailer_state(&state, &mailer, queue.clone()), rx);
            queue
        }
    };
    if matches!(email_queue, Queue::Sqs { .. }) {
        devserver::spawn_sqs_mailer(mailer_state(&state, &mailer, email_queue.clone()));
    }
    state = state.with_email_queue(email_queue);
    let knowledge = if state.config.knowledge.ingest_queue_url.is_some() {
        let knowledge = KnowledgeState::new(state.clone(), None).await?;
        devserver::spawn_sqs_worker(knowledge.clone());
        knowledge
    } else {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let knowledge = KnowledgeState::new(state.clone(), Some(tx)).await?;
        devserver::spawn_local_worker(knowledge.clone(), rx);
        knowledge
    };
    devserver::spawn_scheduler(knowledge.clone(), devserver::local_schedule());
    let billing = studio::state::BillingState::new(state.clone())?;
    let admin = admin_api::AdminState::new(knowledge).await;
    let app = studio::http::app(devserver::routes_with(admin, billing), state);
    let listener = tokio::net::TcpListener::bind((source.get("HOST").unwrap_or("127.0.0.1"), port))
        .await
        .with_context(|| format!("binding port {port}"))?;
    println!(
        "Soft Systems Studio API on http://localhost:{port}/api/v1 (OpenAPI at /api/v1/openapi.json)"
    );
    devserver::serve(listener, app, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await;
    Ok(())
}
