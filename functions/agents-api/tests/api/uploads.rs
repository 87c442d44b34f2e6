//! What a client of `POST /api/v1/agents/uploads` sees: a signed URL to `PUT` the file to, the document
//! waiting for it, the plan's size limit and document quota, roles, tenants, bad input — against a real
//! PostgreSQL, with files going to a local directory (the devserver's adapter; S3's is tested by the
//! extract worker's suite against moto).

use http::{Method, StatusCode};
use serde_json::{Value, json};
use studio::Role;
use studio::knowledge::Embedder;
use studio::state::KnowledgeState;
use studio_testing::{TestApp, TestUser, assert_error, knowledge_app, local_queue};

const MB: u64 = 1024 * 1024;

async fn setup() -> (TestApp, KnowledgeState, TestUser) {
    let (queue, _rx) = local_queue();
    let (app, k) = knowledge_app(Embedder::offline(), queue, agents_api::routes()).await;
    let ada = app.user("Ada").await;
    (app, k, ada)
}

async fn ask(app: &TestApp, user: &TestUser, body: Value) -> studio_testing::TestResponse {
    app.post("/api/v1/agents/uploads", Some(&user.access_token), body)
        .await
}

fn pdf(size: u64) -> Value {
    json!({"filename": "Tent guide.pdf", "contentType": "application/pdf", "size": size})
}

#[tokio::test]
async fn when_a_member_asks_for_an_upload_the_answer_says_where_how_and_until_when() {
    let (app, k, ada) = setup().await;
    let before = chrono::Utc::now();
    let res = ask(
        &app,
        &ada,
        json!({"filename": "Tent guide.pdf", "contentType": "application/pdf", "size": 1234,
               "title": "Tent care guide", "metadata": {"lang": "en"}}),
    )
    .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    assert_eq!(res.body["method"], "PUT");
    assert_eq!(
        res.body["headers"],
        json!({"Content-Type": "application/pdf", "Content-Length": "1234"})
    );
    let url = res.str("/uploadUrl");
    assert!(
        url.starts_with(&format!(
            "{}/api/v1/uploads/local/",
            k.app.config.uploads.local_url
        )),
        "{url}"
    );
    let expires: chrono::DateTime<chrono::Utc> = res.str("/expiresAt").parse().expect("a time");
    let ttl = (expires - before).num_seconds();
    assert!((890..=910).contains(&ttl), "15 minutes by default: {ttl}");

    // The document waits for its file; the ingestion shows it.
    let id = res.str("/documentId");
    let doc = app
        .get(
            &format!("/api/v1/agents/documents/{id}"),
            Some(&ada.access_token),
        )
        .await;
    assert_eq!(doc.body["status"], "uploading", "{}", doc.body);
    assert_eq!(doc.body["title"], "Tent care guide");
    assert_eq!(doc.body["sourceType"], "file");
    assert_eq!(
        doc.body["file"],
        json!({"name": "Tent guide.pdf", "size": 1234, "contentType": null})
    );
    assert_eq!(doc.body["metadata"], json!({"lang": "en"}));
    let ingestion = app
        .get(
            &format!("/api/v1/agents/ingest/{}", res.str("/ingestionId")),
            Some(&ada.access_token),
        )
        .await;
    assert_eq!(ingestion.body["status"], "pending", "{}", ingestion.body);
    assert_eq!(ingestion.body["documents"][0]["status"], "uploading");
    // Listed by status too.
    let listed = app
        .get(
            "/api/v1/agents/documents?status=uploading",
            Some(&ada.access_token),
        )
        .await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    assert_eq!(listed.items().len(), 1);
}

#[tokio::test]
async fn when_a_file_is_larger_than_the_plan_allows_the_answer_is_413_with_the_limit() {
    let (app, _k, ada) = setup().await;
    // Free plan: 10 MB.
    assert_eq!(
        ask(&app, &ada, pdf(10 * MB)).await.status,
        StatusCode::CREATED
    );
    let over = ask(&app, &ada, pdf(10 * MB + 1)).await;
    assert_error(&over, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
    assert_eq!(
        over.body["error"]["details"],
        json!({"limit": "uploadBytes", "max": 10 * MB, "size": 10 * MB + 1, "plan": "free"})
    );
    app.execute(
        "UPDATE workspaces SET plan = 'business' WHERE id = $1",
        &[&ada.workspace_id],
    )
    .await;
    assert_eq!(
        ask(&app, &ada, pdf(50 * MB)).await.status,
        StatusCode::CREATED
    );
    // No plan goes past 50 MB.
    let huge = ask(&app, &ada, pdf(50 * MB + 1)).await;
    assert_error(&huge, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
    let stored: i64 = app
        .value(
            "SELECT count(*) FROM kb_documents WHERE workspace_id = $1",
            &[&ada.workspace_id],
        )
        .await;
    assert_eq!(stored, 2, "refused uploads store nothing");
}

#[tokio::test]
async fn when_the_document_quota_is_used_up_an_upload_is_402() {
    let (app, _k, ada) = setup().await;
    app.execute(
        "INSERT INTO kb_documents (id, workspace_id, title, content, content_hash)
         SELECT gen_random_uuid(), $1, 'd', 'x' || g, sha256(convert_to('x' || g, 'UTF8')) FROM generate_series(1, 1000) g",
        &[&ada.workspace_id],
    )
    .await;
    let res = ask(&app, &ada, pdf(100)).await;
    assert_error(&res, StatusCode::PAYMENT_REQUIRED, "quota_exceeded");
    assert_eq!(res.body["error"]["details"]["limit"], "documents");
}

#[tokio::test]
async fn when_the_request_is_malformed_each_field_is_named_and_nothing_is_stored() {
    let (app, _k, ada) = setup().await;
    for (body, field) in [
        (
            json!({"filename": "a.pdf", "contentType": "image/png", "size": 10}),
            "contentType",
        ),
        (
            json!({"filename": "a.pdf", "contentType": "application/pdf", "size": 0}),
            "size",
        ),
        (
            json!({"filename": "../etc/passwd", "contentType": "text/plain", "size": 10}),
            "filename",
        ),
        (
            json!({"filename": "a\\b.txt", "contentType": "text/plain", "size": 10}),
            "filename",
        ),
        (
            json!({"filename": "", "contentType": "text/plain", "size": 10}),
            "filename",
        ),
        (
            json!({"filename": "a\nb.txt", "contentType": "text/plain", "size": 10}),
            "filename",
        ),
        (
            json!({"filename": "a\u{0}b.txt", "contentType": "text/plain", "size": 10}),
            "filename",
        ),
        (
            json!({"filename": "a.txt", "contentType": "text/plain", "size": 10, "title": "T\u{0}"}),
            "title",
        ),
        (
            json!({"filename": "a.txt", "contentType": "text/plain", "size": 10, "metadata": [1]}),
            "metadata",
        ),
        (
            json!({"filename": "a.txt", "contentType": "text/plain", "size": 10, "title": " "}),
            "title",
        ),
    ] {
        let res = ask(&app, &ada, body.clone()).await;
        assert_error(&res, StatusCode::BAD_REQUEST, "validation_failed");
        assert!(
            res.invalid_fields().contains(&field.to_owned()),
            "{body}: {}",
            res.body
        );
    }
    let unknown = ask(
        &app,
        &ada,
        json!({"filename": "a.txt", "contentType": "text/plain", "size": 10, "path": "/tmp"}),
    )
    .await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST, "{}", unknown.body);
    let negative = ask(
        &app,
        &ada,
        json!({"filename": "a.txt", "contentType": "text/plain", "size": -1}),
    )
    .await;
    assert_eq!(
        negative.status,
        StatusCode::BAD_REQUEST,
        "{}",
        negative.body
    );
    let stored: i64 = app
        .value(
            "SELECT count(*) FROM kb_documents WHERE workspace_id = $1",
            &[&ada.workspace_id],
        )
        .await;
    assert_eq!(stored, 0);
}

#[tokio::test]
async fn when_a_viewer_or_a_stranger_asks_it_is_refused_and_another_workspace_is_a_404() {
    let (app, _k, ada) = setup().await;
    let viewer = app.member("Viewer", &ada, Role::Viewer).await;
    let ws = ada.workspace_id.to_string();
    let by_viewer = app
        .send_with(
            Method::POST,
            "/api/v1/agents/uploads",
            Some(&viewer.access_token),
            Some(pdf(10)),
            &[("x-workspace-id", &ws)],
        )
        .await;
    assert_error(&by_viewer, StatusCode::FORBIDDEN, "forbidden");
    let bob = app.user("Bob").await;
    let into_ada = app
        .send_with(
            Method::POST,
            "/api/v1/agents/uploads",
            Some(&bob.access_token),
            Some(pdf(10)),
            &[("x-workspace-id", &ws)],
        )
        .await;
    assert_eq!(into_ada.status, StatusCode::NOT_FOUND, "{}", into_ada.body);
    let anonymous = app.post("/api/v1/agents/uploads", None, pdf(10)).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn when_no_file_storage_is_configured_the_answer_is_503_naming_the_setting() {
    let (queue, _rx) = local_queue();
    let (full, k) = knowledge_app(Embedder::offline(), queue, agents_api::routes()).await;
    let ada = full.user("Ada").await;
    // As on Lambda without UPLOADS_BUCKET (the cold start refuses that; a state built without it answers so).
    let without = KnowledgeState { files: None, ..k };
    let app = TestApp::with_router(
        studio::http::app(agents_api::routes(), without.clone()),
        without.app.clone(),
        full.db_url.clone(),
    );
    let res = ask(&app, &ada, pdf(10)).await;
    assert_error(&res, StatusCode::SERVICE_UNAVAILABLE, "service_unavailable");
    assert!(
        res.body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("UPLOADS_BUCKET"),
        "{}",
        res.body
    );
}
