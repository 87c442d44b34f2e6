//! An upload's whole way, against the moto server's S3 and SQS and a real PostgreSQL: the route grants a
//! presigned URL, the file is `PUT` to S3, S3 notifies the extract queue, the worker reads the file and
//! hands its text to the ingest queue, the ingest worker indexes it — and search and chat name the page
//! or the section. Hostile files fail alone, with their codes.

use aws_lambda_events::event::sqs::SqsEvent;
use http::StatusCode;
use serde_json::{Value, json};
use studio::knowledge::{Embedder, Llm, Queue};
use studio::services::jobs::{self, Job};
use studio::state::{ExtractState, KnowledgeState};
use studio::storage::{FileStore, S3Files};
use studio_testing::files::{self, Block};
use studio_testing::{
    TestApp, TestUser, index_queued, knowledge_app_with, local_queue, moto_bucket, moto_object,
    moto_queue, moto_receive, moto_sdk,
};
use tokio::sync::mpsc::UnboundedReceiver;

const DOCX: &str = "application/vnd.openxmlformats-officedocument.wordprocessingml.document";

/// Fields drop in order: the states (the vector store flushes) before the app (its temporary folders).
struct World {
    k: KnowledgeState,
    x: ExtractState,
    app: TestApp,
    ingest: UnboundedReceiver<String>,
    ada: TestUser,
    sdk: aws_config::SdkConfig,
    bucket: String,
    extract_url: String,
}

/// A bucket notifying its own extract queue, the agents routes over it, and the extract worker's state.
async fn world() -> World {
    let sdk = moto_sdk().await;
    let extract_url = moto_queue(&sdk, "extract", None).await;
    let bucket = moto_bucket(&sdk, "uploads", Some(&extract_url)).await;
    let (queue, ingest) = local_queue();
    let (app, k) = knowledge_app_with(
        Embedder::offline(),
        Llm::offline(),
        queue,
        agents_api::routes(),
        // Small chunks, so that each heading's text is a chunk of its own.
        &[
            ("UPLOADS_BUCKET", &bucket),
            ("CHUNK_SIZE_TOKENS", "24"),
            ("CHUNK_OVERLAP_TOKENS", "0"),
        ],
    )
    .await;
    let ada = app.user("Ada").await;
    let x = ExtractState {
        app: k.app.clone(),
        files: k.files.clone().expect("the bucket"),
        queue: Queue::sqs_with(&sdk, extract_url.clone(), None),
        ingest: k.queue.clone(),
    };
    World {
        app,
        k,
        ingest,
        ada,
        sdk,
        bucket,
        extract_url,
        x,
    }
}

/// Asks for an upload of `bytes` as `name`; returns the grant.
async fn grant(w: &World, name: &str, content_type: &str, size: usize) -> Value {
    let res = w
        .app
        .post(
            "/api/v1/agents/uploads",
            Some(&w.ada.access_token),
            json!({"filename": name, "contentType": content_type, "size": size}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    res.body
}

/// `PUT`s `bytes` to a granted URL with the granted headers, as a browser or a script would.
async fn put(granted: &Value, bytes: &[u8]) {
    let mut request = studio_testing::http_client()
        .put(granted["uploadUrl"].as_str().expect("url"))
        .body(bytes.to_vec());
    for (name, value) in granted["headers"].as_object().expect("headers") {
        if name != "Content-Length" {
            request = request.header(name, value.as_str().expect("value"));
        }
    }
    let res = request.send().await.expect("upload");
    assert!(
        res.status().is_success(),
        "upload answered {}",
        res.status()
    );
}

/// Grants and uploads a file; returns its document id.
async fn upload(w: &World, name: &str, content_type: &str, bytes: &[u8]) -> String {
    let granted = grant(w, name, content_type, bytes.len()).await;
    put(&granted, bytes).await;
    granted["documentId"].as_str().expect("id").to_owned()
}

/// What S3 has notified so far, delivered to the extract worker as one batch; the batch's failures.
async fn extract_notified(w: &World) -> (SqsEvent, Vec<String>) {
    let event = moto_receive(&w.sdk, &w.extract_url, 2).await;
    let response = extract_worker::handle(&w.x, event.clone()).await;
    let failed = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect();
    (event, failed)
}

async fn document(w: &World, id: &str) -> Value {
    let res = w
        .app
        .get(
            &format!("/api/v1/agents/documents/{id}"),
            Some(&w.ada.access_token),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    res.body
}

async fn search(w: &World, query: &str) -> Vec<Value> {
    studio_testing::search_hits(&w.app, &w.ada, query).await
}

#[tokio::test]
async fn when_a_pdf_and_a_docx_are_uploaded_through_their_urls_they_become_searchable_with_page_and_section()
 {
    let mut w = world().await;
    let pdf = files::pdf(&[
        "Returns\nItems can be returned within 30 days of delivery.",
        "Shipping\nOrders leave the warehouse in two business days.",
        "Warranty\nThe aluminium tent pole warranty lasts five years.",
    ]);
    let docx = files::docx(&[
        Block::Heading(1, "Care guide"),
        Block::Paragraph("Dry the canvas completely before storing the tent."),
        Block::Heading(2, "Poles"),
        Block::Paragraph("Wipe sand off the pole joints after each beach trip."),
    ]);
    // The client's type is a guess: the PDF is declared as a generic binary, and still read as a PDF.
    let pdf_id = upload(&w, "guide.pdf", "application/octet-stream", &pdf).await;
    let docx_id = upload(&w, "care.docx", DOCX, &docx).await;
    assert_eq!(document(&w, &pdf_id).await["status"], "uploading");
    assert_eq!(
        moto_object(
            &w.sdk,
            &w.bucket,
            &format!("uploads/{}/{pdf_id}", w.ada.workspace_id)
        )
        .await
        .as_deref(),
        Some(pdf.as_slice()),
        "the file went straight to the bucket"
    );

    let (event, failed) = extract_notified(&w).await;
    assert!(failed.is_empty(), "{failed:?}");
    assert!(
        event.records.len() >= 2,
        "both uploads notified: {:?}",
        event.records.len()
    );
    for id in [&pdf_id, &docx_id] {
        assert_eq!(
            document(&w, id).await["status"],
            "pending",
            "text read, waiting to be indexed"
        );
    }
    assert_eq!(index_queued(&w.k, &mut w.ingest).await, 2);

    let pdf_doc = document(&w, &pdf_id).await;
    assert_eq!(pdf_doc["status"], "ready", "{pdf_doc}");
    assert_eq!(pdf_doc["sourceType"], "file");
    assert_eq!(
        pdf_doc["file"],
        json!({"name": "guide.pdf", "size": pdf.len(), "contentType": "application/pdf"})
    );
    assert_eq!(pdf_doc["title"], "guide.pdf");
    let docx_doc = document(&w, &docx_id).await;
    assert_eq!(docx_doc["status"], "ready", "{docx_doc}");
    assert_eq!(docx_doc["file"]["contentType"], DOCX);

    let hits = search(&w, "how long does the tent pole warranty last").await;
    assert_eq!(hits[0]["documentId"], pdf_id.as_str(), "{hits:#?}");
    assert_eq!(hits[0]["page"], 3, "{hits:#?}");
    assert!(
        hits[0]["text"]
            .as_str()
            .unwrap_or_default()
            .contains("five years")
    );
    let hits = search(&w, "sand on the pole joints after a beach trip").await;
    assert_eq!(hits[0]["documentId"], docx_id.as_str(), "{hits:#?}");
    assert_eq!(hits[0]["section"], "Care guide › Poles", "{hits:#?}");
    assert!(
        hits[0].get("page").is_none(),
        "a DOCX has no pages: {hits:#?}"
    );

    // The agent's answer cites the page.
    let res = w
        .app
        .post(
            "/api/v1/agents/customer-service/run",
            Some(&w.ada.access_token),
            json!({"message": "How many days do I have to return items after delivery?"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let source = &res.body["sources"][0];
    assert_eq!(source["documentId"], pdf_id.as_str(), "{}", res.body);
    assert_eq!(source["page"], 1, "{}", res.body);
}

#[tokio::test]
async fn when_hostile_files_arrive_in_one_batch_each_fails_alone_with_its_code() {
    let mut w = world().await;
    let good = upload(
        &w,
        "faq.md",
        "text/markdown",
        b"# Hours\n\nWe open at nine.",
    )
    .await;
    let cases: Vec<(&str, &str, Vec<u8>, &str)> = vec![
        (
            "scan.pdf",
            "application/pdf",
            files::scanned_pdf(2),
            "no_text_layer",
        ),
        (
            "locked.pdf",
            "application/pdf",
            files::encrypted_pdf(&["Secret prices"]),
            "encrypted",
        ),
        (
            "cut.pdf",
            "application/pdf",
            {
                let whole = files::pdf(&["First page", "Second page"]);
                whole[..whole.len() / 2].to_vec()
            },
            "unreadable",
        ),
        (
            "bomb.pdf",
            "application/pdf",
            files::pdf_bomb(100 * 1024 * 1024),
            "too_large",
        ),
        (
            "bomb.docx",
            DOCX,
            files::docx_bomb(100 * 1024 * 1024),
            "too_large",
        ),
        (
            "photo.pdf",
            "application/pdf",
            b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec(),
            "unsupported_type",
        ),
    ];
    let mut ids = Vec::new();
    for (name, content_type, bytes, code) in &cases {
        ids.push((upload(&w, name, content_type, bytes).await, *code, *name));
    }
    let (_, failed) = extract_notified(&w).await;
    assert!(
        failed.is_empty(),
        "a bad file is not a failed message: {failed:?}"
    );
    for (id, code, name) in &ids {
        let doc = document(&w, id).await;
        assert_eq!(doc["status"], "failed", "{name}: {doc}");
        assert_eq!(doc["errorCode"], *code, "{name}: {doc}");
        assert!(
            doc["error"].as_str().is_some_and(|e| e.len() > 20),
            "{name}: a sentence says what to do: {doc}"
        );
    }
    assert_eq!(
        index_queued(&w.k, &mut w.ingest).await,
        1,
        "only the good file is indexed"
    );
    assert_eq!(document(&w, &good).await["status"], "ready");
}

#[tokio::test]
async fn when_more_bytes_arrive_than_were_granted_the_document_fails_as_too_large() {
    let w = world().await;
    // S3 refuses a body of another length than the signed one; moto does not, so the worker's own limit
    // is what this shows.
    let granted = grant(&w, "notes.txt", "text/plain", 5).await;
    put(&granted, b"far more than five bytes").await;
    let (_, failed) = extract_notified(&w).await;
    assert!(failed.is_empty());
    let doc = document(&w, granted["documentId"].as_str().unwrap()).await;
    assert_eq!(doc["errorCode"], "too_large", "{doc}");
}

#[tokio::test]
async fn when_a_notification_repeats_names_a_deleted_document_or_is_not_ours_nothing_is_done_twice()
{
    let mut w = world().await;
    let kept = upload(&w, "a.txt", "text/plain", b"Returns are free.").await;
    let gone = upload(&w, "b.txt", "text/plain", b"Old price list.").await;
    // The second document is deleted before its file is read: its file must not outlive it.
    let res = w
        .app
        .delete(
            &format!("/api/v1/agents/documents/{gone}"),
            Some(&w.ada.access_token),
        )
        .await;
    assert_eq!(res.status, StatusCode::NO_CONTENT, "{}", res.body);
    let (event, failed) = extract_notified(&w).await;
    assert!(failed.is_empty());
    let gone_key = format!("uploads/{}/{gone}", w.ada.workspace_id);
    assert_eq!(
        moto_object(&w.sdk, &w.bucket, &gone_key).await,
        None,
        "the orphan file is deleted"
    );

    // The same notifications again (S3 delivers at least once): nothing more is queued.
    assert_eq!(index_queued(&w.k, &mut w.ingest).await, 1);
    let again = extract_worker::handle(&w.x, event).await;
    assert!(again.batch_item_failures.is_empty());
    assert_eq!(index_queued(&w.k, &mut w.ingest).await, 0, "read once");
    assert_eq!(document(&w, &kept).await["status"], "ready");

    // S3's test event, an object outside uploads/, a key of another workspace's document: ignored.
    let other_workspace = uuid::Uuid::now_v7();
    for body in [
        json!({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": w.bucket}),
        json!({"Records": [{"eventName": "ObjectCreated:Put", "s3": {"object": {"key": "exports/report.csv"}}}]}),
        json!({"Records": [{"eventName": "ObjectCreated:Put", "s3": {"object": {"key": format!("uploads/{other_workspace}/{kept}")}}}]}),
    ] {
        studio::services::uploads::process_notification(&w.x, &body.to_string(), 1)
            .await
            .expect("ignored");
    }
    assert_eq!(document(&w, &kept).await["status"], "ready");
    let res = studio::services::uploads::process_notification(&w.x, "not json", 1).await;
    assert!(
        res.is_err(),
        "a message that is not a notification goes to the dead-letter queue"
    );
}

#[tokio::test]
async fn when_storage_is_unreachable_the_message_is_retried_and_on_the_last_attempt_a_missing_file_fails()
 {
    let w = world().await;
    let granted = grant(&w, "late.txt", "text/plain", 4).await;
    let id = granted["documentId"].as_str().unwrap().to_owned();
    let key = format!("uploads/{}/{id}", w.ada.workspace_id);
    let notification = studio::services::uploads::local_notification(&key);

    // Storage down: the message fails (to be retried), the document still waits for its file.
    let down_sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url("http://127.0.0.1:9")
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_sqs::config::Credentials::for_tests())
        .load()
        .await;
    let down = ExtractState {
        files: FileStore::S3(S3Files::with_sdk(w.bucket.clone(), down_sdk)),
        ..w.x.clone()
    };
    let err = studio::services::uploads::process_notification(&down, &notification, 1)
        .await
        .expect_err("storage is down");
    assert!(format!("{err:#}").contains(&key), "{err:#}");
    assert_eq!(document(&w, &id).await["status"], "uploading");

    // Announced but not in the bucket (never uploaded): retried while attempts remain, then failed.
    studio::services::uploads::process_notification(&w.x, &notification, 1)
        .await
        .expect_err("retried");
    assert_eq!(document(&w, &id).await["status"], "uploading");
    studio::services::uploads::process_notification(&w.x, &notification, 3)
        .await
        .expect("the last attempt settles it");
    let doc = document(&w, &id).await;
    assert_eq!(
        (doc["status"].as_str(), doc["errorCode"].as_str()),
        (Some("failed"), Some("upload_missing")),
        "{doc}"
    );
}

#[tokio::test]
async fn when_an_upload_never_arrives_or_its_reading_never_ends_the_sweep_fails_it_with_the_reason()
{
    let w = world().await;
    let never = grant(&w, "never.pdf", "application/pdf", 10).await["documentId"]
        .as_str()
        .unwrap()
        .to_owned();
    let stuck = grant(&w, "stuck.pdf", "application/pdf", 10).await["documentId"]
        .as_str()
        .unwrap()
        .to_owned();
    // A reading that started and never finished (the worker ran out of time or memory) counted an attempt.
    w.app
        .execute(
            "UPDATE kb_documents SET attempts = 1 WHERE id = $1::text::uuid",
            &[&stuck],
        )
        .await;
    let report = jobs::run(&w.k, Job::FailStuckIngestions)
        .await
        .expect("sweep");
    assert_eq!(
        report.counts["documentsFailed"], 0,
        "not yet past the deadline"
    );
    w.app
        .execute(
            "UPDATE kb_documents SET updated_at = now() - interval '2 hours' WHERE status = 'uploading'",
            &[],
        )
        .await;
    let report = jobs::run(&w.k, Job::FailStuckIngestions)
        .await
        .expect("sweep");
    assert_eq!(report.counts["documentsFailed"], 2);
    let doc = document(&w, &never).await;
    assert_eq!(doc["errorCode"], "upload_missing", "{doc}");
    assert!(
        doc["error"].as_str().unwrap().contains("new upload"),
        "{doc}"
    );
    let doc = document(&w, &stuck).await;
    assert_eq!(doc["errorCode"], "unreadable", "{doc}");
}

#[tokio::test]
async fn when_a_deleted_document_or_workspace_is_purged_its_uploaded_files_go_with_it() {
    let mut w = world().await;
    let kept = upload(&w, "kept.txt", "text/plain", b"Kept for now.").await;
    let deleted = upload(&w, "old.txt", "text/plain", b"An old price list.").await;
    let (_, failed) = extract_notified(&w).await;
    assert!(failed.is_empty());
    index_queued(&w.k, &mut w.ingest).await;
    let key = |id: &str| format!("uploads/{}/{id}", w.ada.workspace_id);
    let res = w
        .app
        .delete(
            &format!("/api/v1/agents/documents/{deleted}"),
            Some(&w.ada.access_token),
        )
        .await;
    assert_eq!(res.status, StatusCode::NO_CONTENT);
    assert!(
        moto_object(&w.sdk, &w.bucket, &key(&deleted))
            .await
            .is_some(),
        "kept while the document is restorable"
    );
    w.app
        .execute(
            "UPDATE kb_documents SET deleted_at = now() - interval '400 days' WHERE id = $1::text::uuid",
            &[&deleted],
        )
        .await;
    let report = jobs::run(&w.k, Job::PurgeDeleted).await.expect("purge");
    assert_eq!(report.counts["documents"], 1);
    assert_eq!(moto_object(&w.sdk, &w.bucket, &key(&deleted)).await, None);
    assert!(moto_object(&w.sdk, &w.bucket, &key(&kept)).await.is_some());

    // A workspace purged for good takes every file of its documents, its exports, and every vector.
    let ws = studio::WorkspaceId::from_trusted_source(w.ada.workspace_id);
    assert!(w.k.vectors.count(ws, None).await.unwrap() > 0, "indexed");
    let export = uuid::Uuid::now_v7();
    let export_key = format!("exports/workspace/{export}.json");
    w.k.files
        .as_ref()
        .unwrap()
        .put(&export_key, b"{}".to_vec(), "application/json")
        .await
        .unwrap();
    w.app
        .execute(
            "INSERT INTO data_exports (id, kind, user_id, workspace_id, status, file_key, expires_at)
             VALUES ($1, 'workspace', $2, $3, 'ready', $4, now() + interval '7 days')",
            &[&export, &w.ada.id, &w.ada.workspace_id, &export_key],
        )
        .await;
    assert!(moto_object(&w.sdk, &w.bucket, &export_key).await.is_some());
    w.app
        .execute(
            "UPDATE workspaces SET deleted_at = now() - interval '400 days' WHERE id = $1",
            &[&w.ada.workspace_id],
        )
        .await;
    let report = jobs::run(&w.k, Job::PurgeDeleted).await.expect("purge");
    assert_eq!(report.counts["workspaces"], 1);
    assert_eq!(moto_object(&w.sdk, &w.bucket, &key(&kept)).await, None);
    assert_eq!(
        w.k.vectors.count(ws, None).await.unwrap(),
        0,
        "no vector left"
    );
    assert_eq!(
        moto_object(&w.sdk, &w.bucket, &export_key).await,
        None,
        "no export left"
    );
    let rows: i64 = w
        .app
        .value(
            "SELECT count(*) FROM kb_documents WHERE workspace_id = $1",
            &[&w.ada.workspace_id],
        )
        .await;
    assert_eq!(rows, 0, "no document row left");
}
