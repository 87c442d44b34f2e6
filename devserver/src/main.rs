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
    // The widget demo's site, on its own port so that it is another origin than the API.
    let demo_port: u16 = match source.get("DEMO_PORT") {
        Some(value) => value
            .parse()
            .context("DEMO_PORT must be a port number (0 turns the widget demo off)")?,
        None => port.checked_add(1).filter(|_| port != 0).unwrap_or(0),
    };
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
    let mut knowledge = if state.config.knowledge.ingest_queue_url.is_some() {
        let knowledge = KnowledgeState::new(state.clone(), None).await?;
        devserver::spawn_sqs_worker(knowledge.clone());
        knowledge
    } else {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let knowledge = KnowledgeState::new(state.clone(), Some(tx)).await?;
        devserver::spawn_local_worker(knowledge.clone(), rx);
        knowledge
    };
    // Website sources: the crawl worker, on the queue crawls are announced on.
    devserver::crawl::start(&mut knowledge)?;
    devserver::spawn_scheduler(knowledge.clone(), devserver::local_schedule());
    // File uploads: the extract worker, and the upload route when files go to UPLOADS_DIR.
    let local_uploads = devserver::uploads::start(&knowledge);
    let demo = if demo_port == 0 {
        None
    } else {
        Some(
            devserver::demo::bootstrap(&knowledge, demo_port)
                .await
                .context("setting up the widget demo (DEMO_PORT=0 turns it off)")?,
        )
    };
    let billing = studio::state::BillingState::new(state.clone())?;
    let admin = admin_api::AdminState::new(knowledge).await;
    let mut routes = devserver::routes_with(admin, billing);
    if let Some(uploads) = local_uploads {
        routes = routes.merge(uploads);
    }
    let app = studio::http::app(routes, state);
    let host = source.get("HOST").unwrap_or("127.0.0.1");
    let listener = tokio::net::TcpListener::bind((host, port))
        .await
        .with_context(|| format!("binding port {port}"))?;
    let demo_listener = match &demo {
        Some(_) => Some(
            tokio::net::TcpListener::bind((host, demo_port))
                .await
                .with_context(|| {
                    format!("binding DEMO_PORT {demo_port} (DEMO_PORT=0 turns the widget demo off)")
                })?,
        ),
        None => None,
    };
    println!(
        "Soft Systems Studio API on http://localhost:{port}/api/v1 (OpenAPI at /api/v1/openapi.json)"
    );
    if let Some(demo) = &demo {
        println!(
            "Widget demo: {}",
            devserver::demo::url(demo_port, &demo.key)
        );
        println!(
            "Demo workspace owner: {} / {} (log in to add documents; the widget answers from them)",
            demo.email, demo.password
        );
    }
    // One Ctrl-C stops both servers.
    let (stop, stopped) = tokio::sync::watch::channel(());
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        let _ = stop.send(());
    });
    let until_stopped = |mut stopped: tokio::sync::watch::Receiver<()>| async move {
        let _ = stopped.changed().await;
    };
    let api = devserver::serve(listener, app, until_stopped(stopped.clone()));
    match (demo_listener, demo) {
        (Some(listener), Some(demo)) => {
            let site = devserver::demo::app(port, &demo.key);
            tokio::join!(
                api,
                devserver::serve(listener, site, until_stopped(stopped))
            );
        }
        _ => api.await,
    }
    Ok(())
}
