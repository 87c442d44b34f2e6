//! Uploads on the devserver, without S3: the upload URL points at the devserver itself, takes the file
//! once (the signed type and length only), and the file goes through the same extract and ingest code as
//! on Lambda — so a client written against S3's presigned URLs works unchanged.

use axum::body::Body;
use http::{Request, StatusCode};
use serde_json::{Value, json};
use studio_testing::{TestApp, TestUser, assert_error, files, index_queued};

struct Local {
    // The state first: its vector store flushes before the app's folders go.
    k: studio::state::KnowledgeState,
    app: TestApp,
    ingest: tokio::sync::mpsc::UnboundedReceiver<String>,
    ada: TestUser,
}

async fn local() -> Local {
    let db = studio_testing::TestDb::new().await;
    let state = studio_testing::state(&db.url);
    let (queue, ingest) = studio_testing::local_queue();
    let (k, dir) = studio_testing::knowledge(&state, studio::knowledge::Embedder::offline(), queue);
    let uploads = devserver::uploads::start(&k).expect("files go to a local directory");
    let routes = devserver::routes(k.clone()).unwrap().merge(uploads);
    // The knowledge state's core state: the same files store (and signing key) as the routes'.
    drop(state);
    let app = TestApp::with_state(routes, k.app.clone(), db.url).keeping(dir);
    let ada = app.user("Ada").await;
    Local {
        k,
        app,
        ingest,
        ada,
    }
}

async fn grant(l: &Local, name: &str, content_type: &str, size: usize) -> Value {
    let res = l
        .app
        .post(
            "/api/v1/agents/uploads",
            Some(&l.ada.access_token),
            json!({"filename": name, "contentType": content_type, "size": size}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    res.body
}

/// The upload URL's path on this server (the host is the devserver's configured URL).
fn path_of(url: &str) -> String {
    let at = url
        .find("/api/v1/uploads/local/")
        .expect("a local upload URL");
    url[at..].to_owned()
}

async fn put(
    l: &Local,
    path: &str,
    content_type: &str,
    bytes: &[u8],
) -> studio_testing::TestResponse {
    l.app
        .call(
            Request::put(path)
                .header("content-type", content_type)
                .body(Body::from(bytes.to_vec()))
                .unwrap(),
        )
        .await
}

async fn status_of(l: &Local, id: &str) -> Value {
    l.app
        .get(
            &format!("/api/v1/agents/documents/{id}"),
            Some(&l.ada.access_token),
        )
        .await
        .body
}

/// Waits for the in-process extract worker to read the document's file.
async fn read_by_worker(l: &Local, id: &str) -> Value {
    for _ in 0..100 {
        let doc = status_of(l, id).await;
        if doc["status"] != "uploading" {
            return doc;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the extract worker did not read {id}");
}

#[tokio::test]
async fn when_a_file_is_put_to_the_devservers_upload_url_it_is_read_indexed_and_found() {
    let mut l = local().await;
    let pdf = files::pdf(&[
        "Opening hours\nThe shop opens at nine.",
        "Repairs\nTent repairs take one week.",
    ]);
    let granted = grant(&l, "shop.pdf", "application/pdf", pdf.len()).await;
    let path = path_of(granted["uploadUrl"].as_str().unwrap());
    let res = put(&l, &path, "application/pdf", &pdf).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let id = granted["documentId"].as_str().unwrap();
    let doc = read_by_worker(&l, id).await;
    assert_eq!(doc["status"], "pending", "{doc}");
    assert_eq!(index_queued(&l.k, &mut l.ingest).await, 1);
    assert_eq!(status_of(&l, id).await["status"], "ready");
    let hits = l
        .app
        .post(
            "/api/v1/agents/search",
            Some(&l.ada.access_token),
            json!({"query": "how long do tent repairs take"}),
        )
        .await;
    assert_eq!(hits.body[0]["documentId"], id, "{}", hits.body);
    assert_eq!(hits.body[0]["page"], 2, "{}", hits.body);

    // Each URL takes one file.
    let again = put(&l, &path, "application/pdf", &pdf).await;
    assert_error(&again, StatusCode::CONFLICT, "conflict");
}

#[tokio::test]
async fn when_an_upload_url_is_altered_or_the_file_is_not_what_was_granted_it_is_refused() {
    let l = local().await;
    let granted = grant(&l, "notes.txt", "text/plain", 5).await;
    let path = path_of(granted["uploadUrl"].as_str().unwrap());

    // Another length or type than signed: refused, and the URL still works for the right file.
    let short = put(&l, &path, "text/plain", b"abc").await;
    assert_error(&short, StatusCode::BAD_REQUEST, "validation_failed");
    let typed = put(&l, &path, "application/pdf", b"hello").await;
    assert_error(&typed, StatusCode::BAD_REQUEST, "validation_failed");

    // A token altered to name another key, or signed by someone else: forbidden.
    let (payload, signature) = path.rsplit('/').next().unwrap().split_once('.').unwrap();
    let mut forged_payload = payload.to_owned();
    forged_payload.replace_range(0..1, if payload.starts_with('A') { "B" } else { "A" });
    for token in [
        format!("{forged_payload}.{signature}"),
        format!("{payload}.AAAA"),
        "not-a-token".to_owned(),
    ] {
        let res = put(
            &l,
            &format!("/api/v1/uploads/local/{token}"),
            "text/plain",
            b"hello",
        )
        .await;
        assert_error(&res, StatusCode::FORBIDDEN, "forbidden");
    }
    let ok = put(&l, &path, "text/plain", b"hello").await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
}

#[tokio::test]
async fn on_the_devserver_an_export_is_downloaded_from_its_own_signed_url_and_an_altered_or_upload_url_is_refused()
 {
    let l = local().await;
    let asked = l
        .app
        .post(
            "/api/v1/auth/me/export",
            Some(&l.ada.access_token),
            json!(null),
        )
        .await;
    assert_eq!(asked.status, StatusCode::ACCEPTED, "{}", asked.body);
    let report = studio::services::exports::run(&l.k.app)
        .await
        .expect("the job");
    assert_eq!(report["built"], 1, "{report:?}");
    let ready = l
        .app
        .get("/api/v1/auth/me/export", Some(&l.ada.access_token))
        .await;
    assert_eq!(ready.body["status"], "ready", "{}", ready.body);
    let url = ready.str("/downloadUrl");
    let at = url
        .find("/api/v1/files/local/")
        .expect("a local download URL");
    let path = &url[at..];

    // No token needed: the signed URL is the grant, as S3's presigned one is.
    let file = l.app.get(path, None).await;
    assert_eq!(file.status, StatusCode::OK, "{}", file.body);
    assert_eq!(file.body["account"]["email"], l.ada.email);

    let mut altered = path.to_owned();
    let last = altered.pop().unwrap();
    altered.push(if last == 'A' { 'B' } else { 'A' });
    assert_error(
        &l.app.get(&altered, None).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    // An upload URL's grant does not open a download.
    let granted = grant(&l, "notes.txt", "text/plain", 5).await;
    let upload = path_of(granted["uploadUrl"].as_str().unwrap());
    let token = upload.trim_start_matches("/api/v1/uploads/local/");
    assert_error(
        &l.app
            .get(&format!("/api/v1/files/local/{token}"), None)
            .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
}
