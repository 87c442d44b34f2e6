//! Uploads, measured (issue 16): text extraction throughput on one core (PDF pages/s, DOCX and HTML MB/s),
//! and a 100-page PDF from the upload grant to searchable, beside the JSON ingest of the same text — both
//! on the devserver's stack (its own upload URL, the in-process extract and ingest workers, the offline
//! embedder, the embedded Qdrant engine, the local PostgreSQL).
//!
//! Run: `cargo run --profile bench -p devserver --example upload_bench` (see BENCHMARKS.md).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use axum::body::Body;
use http::Request;
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use studio::extract::{Limits, extract};
use studio::knowledge::chunking::{ContentType, to_text};
use studio::knowledge::{Embedder, Queue, VectorStore};
use studio::state::KnowledgeState;
use studio_testing::files::{self, Block};
use studio_testing::{TestApp, TestDb, state};

const PAGES: usize = 100;
const RUNS: usize = 5;

/// A page of varied prose (~2.3 KB, 40 lines), as a manual's page.
fn page_text(page: usize) -> String {
    (0..40)
        .map(|line| {
            format!(
                "Section {page}.{line}: the model {page}-{line} tent packs to {} cm and weighs {} g; poles are {} mm.",
                (page * 7 + line) % 60 + 20,
                (page * 13 + line * 7) % 900 + 900,
                (page + line) % 4 + 8
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

/// Runs `f` RUNS times; the median seconds.
fn time(mut f: impl FnMut()) -> f64 {
    median(
        (0..RUNS)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed().as_secs_f64()
            })
            .collect(),
    )
}

fn extraction() {
    let limits = Limits::default();
    let texts: Vec<String> = (0..PAGES).map(page_text).collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let pdf = files::pdf(&refs);
    let secs = time(|| {
        let out = extract(&pdf, "application/pdf", "manual.pdf", &limits).unwrap();
        assert_eq!(out.pages, Some(PAGES as u32));
    });
    println!(
        "PDF   {PAGES} pages, {:.0} KB: {:.1} ms, {:.0} pages/s",
        pdf.len() as f64 / 1024.0,
        secs * 1000.0,
        PAGES as f64 / secs
    );

    let blocks: Vec<String> = (0..PAGES).map(page_text).collect();
    let mut doc: Vec<Block<'_>> = Vec::new();
    for (i, b) in blocks.iter().enumerate() {
        if i % 10 == 0 {
            doc.push(Block::Heading(1, "Chapter"));
        }
        for line in b.lines() {
            doc.push(Block::Paragraph(line));
        }
    }
    let docx = files::docx(&doc);
    let text_bytes: usize = blocks.iter().map(String::len).sum();
    let secs = time(|| {
        extract(&docx, "", "manual.docx", &limits).unwrap();
    });
    println!(
        "DOCX  {:.2} MB of text ({:.0} KB zipped): {:.1} ms, {:.1} MB/s of text",
        text_bytes as f64 / 1e6,
        docx.len() as f64 / 1024.0,
        secs * 1000.0,
        text_bytes as f64 / 1e6 / secs
    );

    // A documentation page's shape: navigation, a sidebar, a footer around the main content.
    let mut html = String::from(
        "<!doctype html><html><head><title>Manual</title><style>body{}</style></head><body><header><nav>",
    );
    for i in 0..200 {
        html.push_str(&format!("<a href=\"/p{i}\">Page {i}</a> "));
    }
    html.push_str("</nav></header><aside>Related pages</aside><main>");
    for (i, b) in blocks.iter().enumerate() {
        html.push_str(&format!("<h2>Part {i}</h2>"));
        for line in b.lines() {
            html.push_str(&format!("<p>{line} <a href=\"#x{i}\">more</a></p>"));
        }
    }
    html.push_str("</main><footer>Copyright</footer></body></html>");
    let secs = time(|| {
        to_text(&html, ContentType::Html).unwrap();
    });
    println!(
        "HTML  {:.2} MB: {:.1} ms, {:.1} MB/s",
        html.len() as f64 / 1e6,
        secs * 1000.0,
        html.len() as f64 / 1e6 / secs
    );
}

async fn wait_ready(app: &TestApp, token: &str, ingestion: &str) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let res = app
            .get(&format!("/api/v1/agents/ingest/{ingestion}"), Some(token))
            .await;
        match res.body["status"].as_str() {
            Some("completed") => return,
            Some("failed") => panic!("failed: {}", res.body),
            _ => {}
        }
        assert!(Instant::now() < deadline, "not ready: {}", res.body);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn end_to_end() {
    let db = TestDb::new().await;
    let app_state = state(&db.url);
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let dir = std::env::temp_dir().join("studio-upload-bench");
    let _ = std::fs::remove_dir_all(&dir);
    let vectors = VectorStore::embedded(
        dir.join("vectors").to_str().unwrap(),
        Some(Embedder::offline().dimensions()),
    )
    .unwrap();
    let k = KnowledgeState {
        app: app_state.clone(),
        embedder: Embedder::offline(),
        llm: studio::knowledge::Llm::offline(),
        vectors,
        queue: Queue::Local(tx),
        files: Some(studio::storage::FileStore::Local(
            studio::storage::LocalFiles::new(dir.join("uploads"), "http://localhost:3000".into()),
        )),
        crawl: None,
        previous: None,
    };
    devserver::spawn_local_worker(k.clone(), rx);
    let uploads = devserver::uploads::start(&k).unwrap();
    let app = TestApp::with_state(
        devserver::routes(k.clone()).unwrap().merge(uploads),
        app_state,
        db.url.clone(),
    );
    let user = app.user("Bench").await;
    let token = user.access_token.clone();
    // Upgraded so that every run fits the plan's documents.
    app.execute(
        "UPDATE workspaces SET plan = 'business' WHERE id = $1",
        &[&user.workspace_id],
    )
    .await;
    let texts: Vec<String> = (0..PAGES).map(page_text).collect();
    let (mut upload_runs, mut json_runs) = (Vec::new(), Vec::new());
    for run in 0..RUNS {
        // Each run's text differs (no embedding cached from the run before).
        let run_texts: Vec<String> = texts.iter().map(|t| format!("Run {run}. {t}")).collect();
        let refs: Vec<&str> = run_texts.iter().map(String::as_str).collect();
        let pdf = files::pdf(&refs);

        let t = Instant::now();
        let granted: Value = app
            .post(
                "/api/v1/agents/uploads",
                Some(&token),
                json!({"filename": "manual.pdf", "contentType": "application/pdf", "size": pdf.len()}),
            )
            .await
            .body;
        let url = granted["uploadUrl"].as_str().unwrap();
        let path = &url[url.find("/api/v1/").unwrap()..];
        let put = app
            .call(
                Request::put(path)
                    .header("content-type", "application/pdf")
                    .body(Body::from(pdf.clone()))
                    .unwrap(),
            )
            .await;
        assert_eq!(put.status, 200, "{}", put.body);
        wait_ready(&app, &token, granted["ingestionId"].as_str().unwrap()).await;
        upload_runs.push(t.elapsed().as_secs_f64());

        let same_text = run_texts.join("\n\n") + " (as JSON)";
        let t = Instant::now();
        let accepted = app
            .post(
                "/api/v1/agents/ingest",
                Some(&token),
                json!({"documents": [{"title": "manual", "content": same_text}]}),
            )
            .await;
        assert_eq!(accepted.status, 202, "{}", accepted.body);
        wait_ready(&app, &token, accepted.body["ingestionId"].as_str().unwrap()).await;
        json_runs.push(t.elapsed().as_secs_f64());
    }
    println!(
        "a {PAGES}-page PDF, upload → searchable: median {:.0} ms (runs {:?})",
        median(upload_runs.clone()) * 1000.0,
        upload_runs
            .iter()
            .map(|s| (s * 1000.0).round())
            .collect::<Vec<_>>()
    );
    println!(
        "the same text as JSON, ingest → searchable: median {:.0} ms (runs {:?})",
        median(json_runs.clone()) * 1000.0,
        json_runs
            .iter()
            .map(|s| (s * 1000.0).round())
            .collect::<Vec<_>>()
    );
}

fn main() {
    println!("extraction on one core (median of {RUNS}):");
    extraction();
    // One worker thread: the same single core for the pipeline.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(end_to_end());
}
