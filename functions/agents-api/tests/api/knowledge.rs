//! What a client of the knowledge-base routes sees: ingest, progress, documents, search — with limits,
//! roles, idempotency and tenant isolation, against a real PostgreSQL and the embedded vector engine.

use http::{Method, StatusCode};
use serde_json::{Value, json};
use studio::Role;
use studio::knowledge::Embedder;
use studio::state::KnowledgeState;
use studio_testing::{
    TestApp, TestResponse, TestUser, assert_error, index_queued, knowledge_app, local_queue,
};
use tokio::sync::mpsc::UnboundedReceiver;

async fn setup() -> (TestApp, KnowledgeState, UnboundedReceiver<String>, TestUser) {
    let (queue, rx) = local_queue();
    let (app, k) = knowledge_app(Embedder::offline(), queue, agents_api::routes()).await;
    let user = app.user("Ada").await;
    (app, k, rx, user)
}

fn doc(title: &str, content: &str) -> Value {
    json!({"title": title, "content": content})
}

async fn ingest(app: &TestApp, token: &str, docs: Vec<Value>) -> TestResponse {
    app.post(
        "/api/v1/agents/ingest",
        Some(token),
        json!({"documents": docs}),
    )
    .await
}

/// `POST /api/v1/agents/ingest` of `body` with the idempotency key `key`.
async fn ingest_keyed(app: &TestApp, token: &str, body: Value, key: &str) -> TestResponse {
    app.send_with(
        Method::POST,
        "/api/v1/agents/ingest",
        Some(token),
        Some(body),
        &[("idempotency-key", key)],
    )
    .await
}

/// The progress of the ingestion `id` (`GET /api/v1/agents/ingest/{id}`).
async fn progress(app: &TestApp, token: &str, id: &str) -> TestResponse {
    app.get(&format!("/api/v1/agents/ingest/{id}"), Some(token))
        .await
}

/// The document `id` (`GET /api/v1/agents/documents/{id}`).
async fn document(app: &TestApp, token: &str, id: &str) -> TestResponse {
    app.get(&format!("/api/v1/agents/documents/{id}"), Some(token))
        .await
}

/// `POST /api/v1/agents/search` with `body`.
async fn search(app: &TestApp, token: &str, body: Value) -> TestResponse {
    app.post("/api/v1/agents/search", Some(token), body).await
}

#[tokio::test]
async fn when_documents_are_ingested_they_are_accepted_pending_then_ready_and_searchable() {
    let (app, k, mut rx, ada) = setup().await;
    let res = ingest(
        &app,
        &ada.access_token,
        vec![
            doc("Refunds", "Refunds are issued within 5 business days to the original payment method."),
            json!({"title": "Shipping", "content": "# Shipping\n\nWe ship worldwide with tracked couriers.", "contentType": "text/markdown", "metadata": {"lang": "en"}, "sourceUrl": "https://example.com/shipping"}),
            json!({"title": "Hours", "content": "<h1>Hours</h1><p>Open 9 to 5, Monday to Friday.</p>", "contentType": "text/html"}),
        ],
    )
    .await;
    assert_eq!(res.status, StatusCode::ACCEPTED, "{}", res.body);
    assert_eq!(res.body["ok"], true);
    assert_eq!(res.body["documentIds"].as_array().unwrap().len(), 3);
    let ingestion = res.str("/ingestionId");

    let pending = progress(&app, &ada.access_token, &ingestion).await;
    assert_eq!(
        (pending.status, pending.body["status"].as_str()),
        (StatusCode::OK, Some("pending"))
    );
    assert_eq!(pending.body["total"], 3);
    let sent: Option<chrono::DateTime<chrono::Utc>> = app
        .value("SELECT sent_at FROM outbox WHERE topic = 'ingest'", &[])
        .await;
    assert!(
        sent.is_some(),
        "the message left through the outbox at once"
    );

    index_queued(&k, &mut rx).await;
    let done = progress(&app, &ada.access_token, &ingestion).await;
    assert_eq!(done.body["status"], "completed", "{}", done.body);
    assert_eq!(
        (
            done.body["completed"].as_u64(),
            done.body["failed"].as_u64()
        ),
        (Some(3), Some(0))
    );
    assert!(
        done.body["documents"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["chunks"].as_i64().unwrap() >= 1)
    );

    let hits = search(
        &app,
        &ada.access_token,
        json!({"query": "how long do refunds take", "limit": 2}),
    )
    .await;
    assert_eq!(hits.status, StatusCode::OK, "{}", hits.body);
    assert_eq!(hits.body[0]["title"], "Refunds");
    assert!(hits.body.as_array().unwrap().len() <= 2);
    let html = search(
        &app,
        &ada.access_token,
        json!({"query": "opening hours Monday"}),
    )
    .await;
    let text = html.body[0]["text"].as_str().unwrap();
    assert!(text.contains("Monday") && !text.contains("<p>"), "{text}");

    let listed = app
        .get(
            "/api/v1/agents/documents?status=ready&limit=2",
            Some(&ada.access_token),
        )
        .await;
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 2);
    let next = listed.body["nextCursor"].as_str().unwrap();
    let rest = app
        .get(
            &format!("/api/v1/agents/documents?status=ready&limit=2&cursor={next}"),
            Some(&ada.access_token),
        )
        .await;
    assert_eq!(rest.body["items"].as_array().unwrap().len(), 1);
    let shipping = res.body["documentIds"][1].as_str().unwrap();
    let one = document(&app, &ada.access_token, shipping).await;
    assert_eq!(
        (
            one.body["contentType"].as_str(),
            one.body["metadata"]["lang"].as_str()
        ),
        (Some("text/markdown"), Some("en"))
    );
}

#[tokio::test]
async fn when_ingest_input_is_bad_or_too_big_the_error_says_which_and_nothing_is_stored() {
    let (app, _k, mut rx, ada) = setup().await;
    let t = &ada.access_token;
    for (body, status, code) in [
        (
            json!({"documents": []}),
            StatusCode::BAD_REQUEST,
            "validation_failed",
        ),
        (
            json!({"documents": [doc("Empty", "   ")]}),
            StatusCode::BAD_REQUEST,
            "validation_failed",
        ),
        (
            json!({"documents": [{"title": "x", "content": "y", "contentType": "application/pdf"}]}),
            StatusCode::BAD_REQUEST,
            "validation_failed",
        ),
        (
            json!({"documents": [{"title": "x", "content": "y", "metadata": [1]}]}),
            StatusCode::BAD_REQUEST,
            "validation_failed",
        ),
        (
            json!({"documents": [{"title": "x", "content": "y", "sourceUrl": "not a url"}]}),
            StatusCode::BAD_REQUEST,
            "validation_failed",
        ),
        (
            json!({"documents": [doc("x", "y")], "extra": 1}),
            StatusCode::BAD_REQUEST,
            "validation_failed",
        ),
        (
            json!({"documents": (0..101).map(|i| doc(&format!("d{i}"), "text")).collect::<Vec<_>>()}),
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
        ),
        (
            json!({"documents": [doc("big", &"x".repeat(1024 * 1024 + 1))]}),
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
        ),
        (
            json!({"documents": (0..5).map(|i| doc(&format!("d{i}"), &"x".repeat(900 * 1024))).collect::<Vec<_>>()}),
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
        ),
    ] {
        let res = app.post("/api/v1/agents/ingest", Some(t), body).await;
        assert_eq!((res.status, res.code()), (status, code), "{}", res.body);
    }
    let empty = app
        .post(
            "/api/v1/agents/ingest",
            Some(t),
            json!({"documents": [doc("Empty", "")]}),
        )
        .await;
    assert_eq!(
        empty.body["error"]["details"][0]["field"],
        "documents[0].content"
    );
    // Exactly 100 documents is fine.
    let ok = app.post("/api/v1/agents/ingest", Some(t), json!({"documents": (0..100).map(|i| doc(&format!("d{i}"), &format!("text {i}"))).collect::<Vec<_>>()})).await;
    assert_eq!(ok.status, StatusCode::ACCEPTED);
    assert_eq!(stored_documents(&app).await, 100);
    assert_eq!(
        std::iter::from_fn(|| rx.try_recv().ok()).count(),
        1,
        "one message for the one accepted request"
    );
}

#[tokio::test]
async fn when_the_same_idempotency_key_is_retried_the_first_response_returns_and_nothing_is_ingested_twice()
 {
    let (app, _k, mut rx, ada) = setup().await;
    let body = json!({"documents": [doc("Refunds", "5 days")]});
    let send = |b: Value, key: &'static str| ingest_keyed(&app, &ada.access_token, b, key);
    let first = send(body.clone(), "upload-1").await;
    let again = send(body.clone(), "upload-1").await;
    assert_eq!(first.status, StatusCode::ACCEPTED);
    assert_eq!(again.status, StatusCode::ACCEPTED);
    assert_eq!(first.body, again.body);
    let different = send(json!({"documents": [doc("Other", "text")]}), "upload-1").await;
    assert_error(&different, StatusCode::CONFLICT, "conflict");
    // A new key with new content (the same content would be skipped as a duplicate, with no message).
    let body2 = json!({"documents": [doc("Shipping", "3 days")]});
    let (a, b) = tokio::join!(
        send(body2.clone(), "upload-2"),
        send(body2.clone(), "upload-2")
    );
    assert_eq!(a.body, b.body, "concurrent retries agree");
    let ingestions: i64 = app.value("SELECT count(*) FROM ingestions", &[]).await;
    assert_eq!(ingestions, 2);
    assert_eq!(std::iter::from_fn(|| rx.try_recv().ok()).count(), 2);
}

#[tokio::test]
async fn when_another_workspace_asks_for_documents_ingestions_or_search_it_sees_nothing_of_ours() {
    let (app, k, mut rx, ada) = setup().await;
    let bob = app.user("Bob").await;
    let res = ingest(
        &app,
        &ada.access_token,
        vec![doc(
            "Secret pricing",
            "Our enterprise discount is 40 percent",
        )],
    )
    .await;
    ingest(
        &app,
        &bob.access_token,
        vec![doc("Bob's doc", "Bob sells bicycles")],
    )
    .await;
    index_queued(&k, &mut rx).await;
    let ingestion = res.str("/ingestionId");
    let doc_id = res.body["documentIds"][0].as_str().unwrap().to_owned();

    for path in [
        format!("/api/v1/agents/ingest/{ingestion}"),
        format!("/api/v1/agents/documents/{doc_id}"),
    ] {
        let r = app.get(&path, Some(&bob.access_token)).await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::NOT_FOUND, "not_found"),
            "{path}"
        );
    }
    assert_eq!(
        app.delete(
            &format!("/api/v1/agents/documents/{doc_id}"),
            Some(&bob.access_token)
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );
    let listed = app
        .get("/api/v1/agents/documents", Some(&bob.access_token))
        .await;
    assert!(
        listed
            .items()
            .iter()
            .all(|d| d["title"] != "Secret pricing")
    );
    let hits = search(
        &app,
        &bob.access_token,
        json!({"query": "enterprise discount percent"}),
    )
    .await;
    assert!(
        hits.body
            .as_array()
            .unwrap()
            .iter()
            .all(|h| h["title"] != "Secret pricing"),
        "{}",
        hits.body
    );
    // Naming Ada's workspace in the header without being a member is a 404 too.
    let header = ada.workspace_id.to_string();
    let forged = app
        .send_with(
            Method::POST,
            "/api/v1/agents/search",
            Some(&bob.access_token),
            Some(json!({"query": "discount"})),
            &[("x-workspace-id", &header)],
        )
        .await;
    assert_eq!(forged.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn when_roles_differ_viewers_read_members_ingest_and_admins_delete_with_the_vectors() {
    let (app, k, mut rx, ada) = setup().await;
    let viewer = app.member("Viewer", &ada, Role::Viewer).await;
    let member = app.member("Member", &ada, Role::Member).await;
    let ws = ada.workspace_id.to_string();
    let as_ws = |user: &TestUser, method: Method, path: &str, body: Option<Value>| {
        let app = app.clone();
        let token = user.access_token.clone();
        let ws = ws.clone();
        let path = path.to_owned();
        async move {
            app.send_with(
                method,
                &path,
                Some(&token),
                body,
                &[("x-workspace-id", &ws)],
            )
            .await
        }
    };
    let by_viewer = as_ws(
        &viewer,
        Method::POST,
        "/api/v1/agents/ingest",
        Some(json!({"documents": [doc("x", "y")]})),
    )
    .await;
    assert_error(&by_viewer, StatusCode::FORBIDDEN, "forbidden");
    let by_member = as_ws(
        &member,
        Method::POST,
        "/api/v1/agents/ingest",
        Some(json!({"documents": [doc("Warranty", "Two years warranty")]})),
    )
    .await;
    assert_eq!(by_member.status, StatusCode::ACCEPTED);
    index_queued(&k, &mut rx).await;
    let id = by_member.body["documentIds"][0]
        .as_str()
        .unwrap()
        .to_owned();
    let read = as_ws(
        &viewer,
        Method::POST,
        "/api/v1/agents/search",
        Some(json!({"query": "warranty"})),
    )
    .await;
    assert_eq!(read.body[0]["documentId"], id.as_str());

    let path = format!("/api/v1/agents/documents/{id}");
    assert_eq!(
        as_ws(&member, Method::DELETE, &path, None).await.status,
        StatusCode::FORBIDDEN
    );
    let ws_id = studio::WorkspaceId::from_trusted_source(ada.workspace_id);
    let doc_id: uuid::Uuid = id.parse().unwrap();
    assert!(k.vectors.count(ws_id, Some(doc_id)).await.unwrap() > 0);
    assert_eq!(
        app.delete(&path, Some(&ada.access_token)).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        k.vectors.count(ws_id, Some(doc_id)).await.unwrap(),
        0,
        "its vectors are gone"
    );
    assert_eq!(
        app.get(&path, Some(&ada.access_token)).await.status,
        StatusCode::NOT_FOUND
    );
    let after = search(&app, &ada.access_token, json!({"query": "warranty"})).await;
    assert!(after.body.as_array().unwrap().is_empty());
}

#[tokio::test]
async fn when_search_or_listing_input_is_bad_it_is_a_400() {
    let (app, _k, _rx, ada) = setup().await;
    let t = Some(ada.access_token.as_str());
    for body in [
        json!({}),
        json!({"query": ""}),
        json!({"query": "x", "limit": 0}),
        json!({"query": "x", "limit": 51}),
        json!({"query": "x", "scoreThreshold": 2}),
    ] {
        let res = app.post("/api/v1/agents/search", t, body.clone()).await;
        assert_eq!(
            (res.status, res.code()),
            (StatusCode::BAD_REQUEST, "validation_failed"),
            "{body}"
        );
    }
    for query in ["status=done", "limit=0", "cursor=nope"] {
        let res = app
            .get(&format!("/api/v1/agents/documents?{query}"), t)
            .await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{query}");
    }
    assert_eq!(
        app.get("/api/v1/agents/ingest/not-a-uuid", t).await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        app.get(
            &format!("/api/v1/agents/ingest/{}", uuid::Uuid::new_v4()),
            t
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.post("/api/v1/agents/search", None, json!({"query": "x"}))
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
}

async fn ingest_with(app: &TestApp, token: &str, body: Value) -> TestResponse {
    let res = app.post("/api/v1/agents/ingest", Some(token), body).await;
    assert_eq!(res.status, StatusCode::ACCEPTED, "{}", res.body);
    res
}

async fn stored_documents(app: &TestApp) -> i64 {
    app.value("SELECT count(*) FROM kb_documents", &[]).await
}

#[tokio::test]
async fn when_an_identical_document_is_ingested_again_it_is_skipped_with_the_existing_id() {
    let (app, k, mut rx, ada) = setup().await;
    let t = &ada.access_token;
    let refunds = "Refunds are issued within 5 business days to the original payment method.";
    let first = ingest(
        &app,
        t,
        vec![
            doc("Refunds", refunds),
            doc("Hours", "Open 9 to 5, Monday to Friday."),
        ],
    )
    .await;
    let original = first.body["documentIds"][0].as_str().unwrap().to_owned();
    index_queued(&k, &mut rx).await;

    // The same content under another title, a new document, and that new document twice.
    let warranty = "Every product carries a two-year warranty.";
    let again = ingest(
        &app,
        t,
        vec![
            doc("Refunds (copy)", refunds),
            doc("Warranty", warranty),
            doc("Warranty again", warranty),
        ],
    )
    .await;
    assert_eq!(again.status, StatusCode::ACCEPTED, "{}", again.body);
    let ids: Vec<&str> = again.body["documentIds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 3);
    assert_eq!(ids[0], original, "the existing id, in the input's position");
    assert_ne!(ids[1], original);
    assert_eq!(
        ids[2], ids[1],
        "two identical documents in one request: one stored"
    );
    assert_eq!(
        again.body["skipped"],
        json!([
            {"index": 0, "documentId": original, "reason": "duplicate"},
            {"index": 2, "documentId": ids[1], "reason": "duplicate"},
        ])
    );
    assert_eq!(stored_documents(&app).await, 3, "Refunds, Hours, Warranty");

    let ingestion = again.str("/ingestionId");
    let path = format!("/api/v1/agents/ingest/{ingestion}");
    let status = app.get(&path, Some(t)).await;
    assert_eq!(status.status, StatusCode::OK, "{}", status.body);
    let docs = status.body["documents"].as_array().unwrap();
    assert_eq!(
        (
            status.body["total"].as_u64(),
            status.body["skipped"].as_u64()
        ),
        (Some(3), Some(2)),
        "{}",
        status.body
    );
    assert_eq!(
        (
            docs[0]["id"].as_str(),
            docs[0]["status"].as_str(),
            docs[0]["reason"].as_str(),
            docs[0]["title"].as_str()
        ),
        (
            Some(original.as_str()),
            Some("skipped"),
            Some("duplicate"),
            Some("Refunds (copy)")
        ),
        "{}",
        status.body
    );
    assert_eq!(
        (docs[1]["id"].as_str(), docs[1]["status"].as_str()),
        (Some(ids[1]), Some("pending"))
    );
    assert!(docs[1]["reason"].is_null());
    assert_eq!(
        (docs[2]["id"].as_str(), docs[2]["status"].as_str()),
        (Some(ids[1]), Some("skipped"))
    );
    assert_eq!(status.body["status"], "pending");

    index_queued(&k, &mut rx).await;
    let done = app.get(&path, Some(t)).await;
    assert_eq!(
        (
            done.body["status"].as_str(),
            done.body["completed"].as_u64(),
            done.body["skipped"].as_u64()
        ),
        (Some("completed"), Some(1), Some(2)),
        "{}",
        done.body
    );
    // The top-k is not spent on identical chunks.
    let hits = search(
        &app,
        t,
        json!({"query": "how long do refunds take", "limit": 5}),
    )
    .await;
    let refund_hits = hits
        .body
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["text"].as_str().unwrap().contains("Refunds are issued"))
        .count();
    assert_eq!(refund_hits, 1, "{}", hits.body);

    // A request made only of duplicates stores nothing, queues nothing, and is complete at once.
    let only = ingest(&app, t, vec![doc("Refunds", refunds)]).await;
    assert_eq!(only.status, StatusCode::ACCEPTED);
    assert_eq!(only.body["documentIds"], json!([original]));
    assert!(rx.try_recv().is_err(), "nothing to index");
    let view = progress(&app, t, &only.str("/ingestionId")).await;
    assert_eq!(
        (
            view.body["status"].as_str(),
            view.body["total"].as_u64(),
            view.body["skipped"].as_u64()
        ),
        (Some("completed"), Some(1), Some(1)),
        "{}",
        view.body
    );
    assert_eq!(stored_documents(&app).await, 3);
}

#[tokio::test]
async fn when_duplicates_are_allowed_or_the_twin_is_deleted_failed_or_elsewhere_the_document_is_stored()
 {
    let (app, k, mut rx, ada) = setup().await;
    let bob = app.user("Bob").await;
    let t = &ada.access_token;
    let text = "Shipping is free above 50 euros.";
    let first = ingest(&app, t, vec![doc("Shipping", text)]).await;
    let original = first.body["documentIds"][0].as_str().unwrap().to_owned();
    index_queued(&k, &mut rx).await;

    // allowDuplicates opts out.
    let allowed = ingest_with(
        &app,
        t,
        json!({"documents": [doc("Shipping", text)], "allowDuplicates": true}),
    )
    .await;
    let copy = allowed.body["documentIds"][0].as_str().unwrap().to_owned();
    assert_ne!(copy, original);
    assert_eq!(allowed.body["skipped"], json!([]));
    assert_eq!(stored_documents(&app).await, 2);

    // Another workspace's identical document does not count.
    let theirs = ingest(&app, &bob.access_token, vec![doc("Shipping", text)]).await;
    let theirs_id = theirs.body["documentIds"][0].as_str().unwrap();
    assert!(theirs_id != original && theirs_id != copy);
    assert_eq!(theirs.body["skipped"], json!([]));

    // Once every live twin is deleted, the content is stored again.
    for id in [&original, &copy] {
        let res = app
            .delete(&format!("/api/v1/agents/documents/{id}"), Some(t))
            .await;
        assert_eq!(res.status, StatusCode::NO_CONTENT);
    }
    let after_delete = ingest(&app, t, vec![doc("Shipping", text)]).await;
    let fresh = after_delete.body["documentIds"][0].as_str().unwrap();
    assert!(fresh != original && fresh != copy);
    assert_eq!(after_delete.body["skipped"], json!([]));

    // A failed document is no twin: uploading it again retries it.
    let empty = json!({"title": "Empty page", "content": "<script>track()</script>", "contentType": "text/html"});
    let failed = ingest(&app, t, vec![empty.clone()]).await;
    index_queued(&k, &mut rx).await;
    let failed_id = failed.body["documentIds"][0].as_str().unwrap();
    let failed_doc = document(&app, t, failed_id).await;
    assert_eq!(failed_doc.body["status"], "failed");
    let retried = ingest(&app, t, vec![empty]).await;
    assert_ne!(retried.body["documentIds"][0].as_str().unwrap(), failed_id);
}

#[tokio::test]
async fn when_a_duplicate_answer_is_replayed_or_two_requests_race_one_document_is_stored() {
    let (app, k, mut rx, ada) = setup().await;
    let text = "Returns are accepted within 30 days.";
    let first = ingest(&app, &ada.access_token, vec![doc("Returns", text)]).await;
    let original = first.body["documentIds"][0].as_str().unwrap().to_owned();
    index_queued(&k, &mut rx).await;

    let send = |b: Value, key: &'static str| ingest_keyed(&app, &ada.access_token, b, key);
    let body = json!({"documents": [doc("Returns", text)]});
    let answer = send(body.clone(), "dup-1").await;
    let replay = send(body.clone(), "dup-1").await;
    assert_eq!(answer.status, StatusCode::ACCEPTED, "{}", answer.body);
    assert_eq!(answer.body, replay.body);
    assert_eq!(answer.body["documentIds"], json!([original]));
    // The same key with allowDuplicates is another request.
    let other = send(
        json!({"documents": [doc("Returns", text)], "allowDuplicates": true}),
        "dup-1",
    )
    .await;
    assert_error(&other, StatusCode::CONFLICT, "conflict");
    assert_eq!(stored_documents(&app).await, 1);

    // Two requests with the same new content at once: one stores it, the other gets its id.
    let new = json!({"documents": [doc("Exchanges", "Exchanges are free within 60 days.")]});
    let (a, b) = tokio::join!(
        ingest_with(&app, &ada.access_token, new.clone()),
        ingest_with(&app, &ada.access_token, new.clone())
    );
    assert_eq!(a.body["documentIds"], b.body["documentIds"]);
    assert_eq!(stored_documents(&app).await, 2);
}

#[tokio::test]
async fn a_search_hit_names_the_section_it_comes_from_and_links_only_web_urls() {
    let (app, k, mut rx, ada) = setup().await;
    // Sections long enough (about 400 tokens each) for each to be a chunk of its own at 512 tokens.
    let filler = |topic: &str| {
        (0..40)
            .map(|i| format!("Note {i} on {topic} for campers."))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let manual = format!(
        "# Returns\n\nReturn a tent within 45 days. {}\n\n## Refunds\n\nRefunds reach your card within five working days of the return arriving. {}\n\n# Shipping\n\nWe ship worldwide with tracked couriers. {}\n",
        filler("returns"),
        filler("refunds"),
        filler("shipping")
    );
    let res = ingest(
        &app,
        &ada.access_token,
        vec![
            json!({"title": "Manual", "content": manual, "contentType": "text/markdown", "sourceUrl": "https://acme.test/manual"}),
            json!({"title": "Plain refunds note", "content": "Refunds reach your card, as the manual says.", "sourceUrl": "javascript:alert(1)"}),
        ],
    )
    .await;
    assert_eq!(res.status, StatusCode::ACCEPTED, "{}", res.body);
    index_queued(&k, &mut rx).await;

    let found = search(
        &app,
        &ada.access_token,
        json!({"query": "refunds reach your card working days", "limit": 10}),
    )
    .await;
    assert_eq!(found.status, StatusCode::OK, "{}", found.body);
    let hits = found.body.as_array().unwrap().clone();
    let refunds = hits
        .iter()
        .find(|h| h["text"].as_str().unwrap().contains("five working days"))
        .unwrap_or_else(|| panic!("{hits:#?}"));
    assert_eq!(refunds["section"], "Returns › Refunds");
    assert_eq!(refunds["url"], "https://acme.test/manual");
    let plain = hits
        .iter()
        .find(|h| h["title"] == "Plain refunds note")
        .unwrap_or_else(|| panic!("{hits:#?}"));
    assert!(plain.get("section").is_none(), "{plain}");
    assert!(
        plain.get("url").is_none(),
        "a javascript: URL is no link: {plain}"
    );

    // A chat answer's sources say the same.
    let answer = app
        .post(
            "/api/v1/agents/customer-service/run",
            Some(&ada.access_token),
            json!({"message": "Refunds reach your card within how many working days?"}),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let manual = answer.body["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["title"] == "Manual")
        .unwrap_or_else(|| panic!("{}", answer.body))
        .clone();
    assert_eq!(manual["section"], "Returns › Refunds", "{manual}");
    assert_eq!(manual["url"], "https://acme.test/manual");
}

/// The texts of the hits for `query`.
async fn hit_texts(app: &TestApp, token: &str, query: &str) -> Vec<String> {
    let res = search(app, token, json!({"query": query, "limit": 10})).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    res.body
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["text"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn when_a_document_is_edited_searches_see_the_old_version_until_the_new_one_is_indexed() {
    let (app, k, mut rx, ada) = setup().await;
    let token = &ada.access_token;
    let res = ingest(
        &app,
        token,
        vec![doc(
            "Returns",
            "Returns are accepted within 30 days of delivery.",
        )],
    )
    .await;
    let id = res.body["documentIds"][0].as_str().unwrap().to_owned();
    index_queued(&k, &mut rx).await;
    let before = document(&app, token, &id).await;
    assert_eq!(
        (
            before.body["version"].as_i64(),
            before.body["searchableVersion"].as_i64()
        ),
        (Some(1), Some(1))
    );

    let edited = app
        .send(
            Method::PUT,
            &format!("/api/v1/agents/documents/{id}"),
            Some(token),
            Some(json!({"content": "Returns are accepted within 60 days of delivery."})),
        )
        .await;
    assert_eq!(edited.status, StatusCode::OK, "{}", edited.body);
    assert_eq!(edited.body["version"], 2);
    assert_eq!(
        edited.body["searchableVersion"], 1,
        "the old version stays searchable"
    );
    assert_eq!(edited.body["status"], "pending");
    let progress_of = progress(&app, token, edited.str("/ingestionId").as_str()).await;
    assert_eq!(progress_of.body["documents"][0]["id"], id.as_str());
    assert_eq!(
        hit_texts(&app, token, "how many days to return").await,
        vec!["Returns are accepted within 30 days of delivery."]
    );

    // Half-way: the new version's points are stored beside the old ones, not yet swapped in.
    let text = "Returns are accepted within 60 days of delivery.".to_owned();
    let vector = k
        .embedder
        .embed(std::slice::from_ref(&text))
        .await
        .unwrap()
        .remove(0);
    let ws = studio::WorkspaceId::from_trusted_source(ada.workspace_id);
    k.vectors
        .upsert(
            ws,
            vec![studio::knowledge::ChunkPoint {
                document_id: id.parse().unwrap(),
                chunk_index: 0,
                title: "Returns".into(),
                section: None,
                page: None,
                version: 2,
                sparse: studio::knowledge::bm25::document_vector(
                    &studio::knowledge::bm25::Analyzer::for_language("en").count(&text),
                    8.0,
                ),
                dense: Some(vector),
                text,
            }],
        )
        .await
        .unwrap();
    assert_eq!(
        hit_texts(&app, token, "how many days to return").await,
        vec!["Returns are accepted within 30 days of delivery."],
        "never both versions"
    );

    // Indexed: the new version is swapped in, the old one's points are gone.
    assert_eq!(index_queued(&k, &mut rx).await, 1);
    assert_eq!(
        hit_texts(&app, token, "how many days to return").await,
        vec!["Returns are accepted within 60 days of delivery."]
    );
    let after = document(&app, token, &id).await;
    assert_eq!(
        (
            after.body["version"].as_i64(),
            after.body["searchableVersion"].as_i64(),
            after.body["status"].as_str()
        ),
        (Some(2), Some(2), Some("ready"))
    );
    assert_eq!(
        k.vectors
            .count(ws, Some(id.parse().unwrap()))
            .await
            .unwrap(),
        1
    );

    // Metadata alone: no new version.
    let meta = app
        .send(
            Method::PUT,
            &format!("/api/v1/agents/documents/{id}"),
            Some(token),
            Some(json!({"metadata": {"lang": "en"}})),
        )
        .await;
    assert_eq!(
        (meta.body["version"].as_i64(), meta.body["status"].as_str()),
        (Some(2), Some("ready")),
        "{}",
        meta.body
    );
    assert_eq!(meta.body["metadata"], json!({"lang": "en"}));
}

#[tokio::test]
async fn when_an_edit_is_refused_it_says_why_and_changes_nothing() {
    let (app, _k, _rx, ada) = setup().await;
    let token = &ada.access_token;
    let res = ingest(&app, token, vec![doc("Hours", "Open nine to five.")]).await;
    let id = res.body["documentIds"][0].as_str().unwrap().to_owned();
    let put = |token: String, path: String, body: Value| {
        let app = app.clone();
        async move { app.send(Method::PUT, &path, Some(&token), Some(body)).await }
    };
    let path = format!("/api/v1/agents/documents/{id}");
    let empty = put(token.clone(), path.clone(), json!({})).await;
    assert_error(&empty, StatusCode::BAD_REQUEST, "validation_failed");
    let blank = put(token.clone(), path.clone(), json!({"content": "   "})).await;
    assert_error(&blank, StatusCode::BAD_REQUEST, "validation_failed");
    for (body, field) in [
        (json!({"content": "Open\u{0} nine"}), "content"),
        (json!({"title": "Hours\u{0}"}), "title"),
        (json!({"contentType": "application/pdf"}), "contentType"),
    ] {
        let bad = put(token.clone(), path.clone(), body).await;
        assert_error(&bad, StatusCode::BAD_REQUEST, "validation_failed");
        assert!(
            bad.invalid_fields().contains(&field.to_owned()),
            "{}",
            bad.body
        );
    }
    let unknown = put(
        token.clone(),
        format!("/api/v1/agents/documents/{}", uuid::Uuid::now_v7()),
        json!({"title": "x"}),
    )
    .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    let bob = app.user("Bob").await;
    let foreign = put(
        bob.access_token.clone(),
        path.clone(),
        json!({"title": "Mine now"}),
    )
    .await;
    assert_eq!(
        foreign.status,
        StatusCode::NOT_FOUND,
        "another workspace's document is a 404"
    );
    let viewer = app.member("Viewer", &ada, Role::Viewer).await;
    let by_viewer = app
        .send_with(
            Method::PUT,
            &path,
            Some(&viewer.access_token),
            Some(json!({"title": "x"})),
            &[("x-workspace-id", &ada.workspace_id.to_string())],
        )
        .await;
    assert_error(&by_viewer, StatusCode::FORBIDDEN, "forbidden");
    // An upload's document: its text comes from its file.
    let granted = app
        .post(
            "/api/v1/agents/uploads",
            Some(token),
            json!({"filename": "a.pdf", "contentType": "application/pdf", "size": 10}),
        )
        .await;
    let upload = granted.str("/documentId");
    let uploading = put(
        token.clone(),
        format!("/api/v1/agents/documents/{upload}"),
        json!({"title": "x"}),
    )
    .await;
    assert_error(&uploading, StatusCode::CONFLICT, "conflict");
    assert_eq!(document(&app, token, &id).await.body["title"], "Hours");
}

#[tokio::test]
async fn when_an_ingest_carries_an_external_id_the_same_id_replaces_the_document_or_is_skipped_unchanged()
 {
    let (app, k, mut rx, ada) = setup().await;
    let token = &ada.access_token;
    let keyed =
        |content: &str| json!({"title": "FAQ 1", "content": content, "externalId": "faq-1"});
    let first = ingest(&app, token, vec![keyed("Shipping takes two days.")]).await;
    let id = first.body["documentIds"][0].as_str().unwrap().to_owned();
    index_queued(&k, &mut rx).await;
    assert_eq!(document(&app, token, &id).await.body["externalId"], "faq-1");

    let second = ingest(&app, token, vec![keyed("Shipping takes three days.")]).await;
    assert_eq!(second.status, StatusCode::ACCEPTED, "{}", second.body);
    assert_eq!(second.body["documentIds"], json!([id]), "the same document");
    assert_eq!(second.body["skipped"], json!([]));
    assert_eq!(index_queued(&k, &mut rx).await, 1);
    assert_eq!(
        hit_texts(&app, token, "how long is shipping").await,
        vec!["Shipping takes three days."]
    );
    let doc_now = document(&app, token, &id).await;
    assert_eq!(doc_now.body["version"], 2);
    let listed = app.get("/api/v1/agents/documents", Some(token)).await;
    assert_eq!(listed.items().len(), 1, "replaced, not added");

    let same = ingest(&app, token, vec![keyed("Shipping takes three days.")]).await;
    assert_eq!(
        same.body["skipped"],
        json!([{"index": 0, "documentId": id, "reason": "unchanged"}])
    );
    assert_eq!(index_queued(&k, &mut rx).await, 0, "nothing to index");

    let twice = ingest(&app, token, vec![keyed("a"), keyed("b")]).await;
    assert_error(&twice, StatusCode::BAD_REQUEST, "validation_failed");
    assert!(
        twice
            .invalid_fields()
            .contains(&"documents[1].externalId".to_owned()),
        "{}",
        twice.body
    );

    // The key is the workspace's: another workspace's faq-1 is its own document.
    let bob = app.user("Bob").await;
    let other = ingest(&app, &bob.access_token, vec![keyed("Bob's shipping text.")]).await;
    assert_ne!(other.body["documentIds"][0], json!(id));
}

/// `(title, score)` of each hit of `query` in `mode`.
async fn scored(app: &TestApp, token: &str, query: &str, mode: &str) -> Vec<(String, f64)> {
    let res = search(
        app,
        token,
        json!({"query": query, "limit": 10, "mode": mode}),
    )
    .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    res.body
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["title"].as_str().unwrap().to_owned(),
                h["score"].as_f64().unwrap(),
            )
        })
        .collect()
}

fn titles(hits: &[(String, f64)]) -> Vec<&str> {
    hits.iter().map(|(t, _)| t.as_str()).collect()
}

#[tokio::test]
async fn when_searching_by_mode_bm25_finds_product_codes_and_rare_terms_exactly() {
    let (app, k, mut rx, ada) = setup().await;
    let token = ada.access_token.as_str();
    ingest(
        &app,
        token,
        vec![
            doc("Parts", "Replacement part SKU-4411 ships within 2 days."),
            doc("Other parts", "Replacement part SKU-4412 is discontinued."),
            doc(
                "Refunds",
                "Refunds are processed within five business days.",
            ),
            doc("Shipping", "We ship worldwide; shipping takes a week."),
        ],
    )
    .await;
    index_queued(&k, &mut rx).await;

    // The code, typed as written or in parts, finds its document first; its sibling code does not win.
    for query in ["SKU-4411", "sku 4411", "do you have sku-4411?"] {
        let hits = scored(&app, token, query, "sparse").await;
        assert_eq!(
            hits.first().map(|h| h.0.as_str()),
            Some("Parts"),
            "{query}: {hits:?}"
        );
    }
    // Stemming: the question's inflections meet the document's.
    let hits = scored(&app, token, "how long is a refund processing?", "sparse").await;
    assert_eq!(
        titles(&hits),
        vec!["Refunds"],
        "only documents sharing a term"
    );
    // Every chunk got its sparse vector: each document is found by a word only it has.
    for (word, title) in [
        ("discontinued", "Other parts"),
        ("worldwide", "Shipping"),
        ("business", "Refunds"),
    ] {
        assert_eq!(
            titles(&scored(&app, token, word, "sparse").await),
            vec![title],
            "{word}"
        );
    }
    // Hybrid (the default) and dense answer too; hybrid ranks the code's document first.
    let hybrid = scored(&app, token, "SKU-4411", "hybrid").await;
    assert_eq!(hybrid[0].0, "Parts", "{hybrid:?}");
    let default = search(&app, token, json!({"query": "SKU-4411"})).await;
    assert_eq!(default.body[0]["title"], "Parts");
    assert!(!scored(&app, token, "refund", "dense").await.is_empty());
    // A query with no term the workspace has finds nothing in BM25 (and is no error).
    assert!(scored(&app, token, "zyzzyva", "sparse").await.is_empty());
    // Bad modes are named.
    let res = search(&app, token, json!({"query": "refund", "mode": "fuzzy"})).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.body);
}

#[tokio::test]
async fn when_there_is_no_dense_embedder_search_is_bm25_and_dense_modes_are_refused_by_name() {
    let (queue, mut rx) = local_queue();
    let (app, k) = knowledge_app(Embedder::none(), queue, agents_api::routes()).await;
    let ada = app.user("Ada").await;
    let token = ada.access_token.as_str();
    ingest(
        &app,
        token,
        vec![doc("Refunds", "Refunds take five business days.")],
    )
    .await;
    assert_eq!(index_queued(&k, &mut rx).await, 1);
    let res = search(&app, token, json!({"query": "refunds"})).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(res.body[0]["title"], "Refunds", "the default is BM25 here");
    for mode in ["dense", "hybrid"] {
        let res = search(&app, token, json!({"query": "refunds", "mode": mode})).await;
        assert_error(&res, StatusCode::BAD_REQUEST, "dense_search_unavailable");
        assert!(
            res.body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("sparse"),
            "{}",
            res.body
        );
    }
}

#[tokio::test]
async fn when_another_workspace_adds_documents_our_bm25_scores_do_not_move() {
    let (app, k, mut rx, ada) = setup().await;
    let bob = app.user("Bob").await;
    let (a, b) = (ada.access_token.as_str(), bob.access_token.as_str());
    ingest(
        &app,
        a,
        vec![
            doc(
                "Refunds",
                "Refunds are paid to the original card within five days.",
            ),
            doc(
                "Warranty",
                "The warranty covers parts for two years; refunds are not part of it.",
            ),
            doc("Contact", "Call us any day of the week."),
        ],
    )
    .await;
    index_queued(&k, &mut rx).await;
    let query = "refunds to the card";
    let before = scored(&app, a, query, "sparse").await;
    assert_eq!(before.len(), 2, "{before:?}");

    // Workspace B fills up with "refunds" and "card": in a collection-wide IDF both would become common
    // words and A's scores would drop.
    let flood: Vec<Value> = (0..30)
        .map(|i| {
            doc(
                &format!("B{i}"),
                &format!("Refunds on card {i}: refunds refunds card card."),
            )
        })
        .collect();
    ingest(&app, b, flood).await;
    index_queued(&k, &mut rx).await;
    assert_eq!(
        scored(&app, b, query, "sparse").await.len(),
        10,
        "B's own search sees B's"
    );
    let after = scored(&app, a, query, "sparse").await;
    assert_eq!(after, before, "A's scores are A's alone");

    // The statistics do matter: the same words added to A itself change A's scores.
    ingest(
        &app,
        a,
        vec![doc("More refunds", "Refunds refunds card card card.")],
    )
    .await;
    index_queued(&k, &mut rx).await;
    let grown = scored(&app, a, query, "sparse").await;
    let refunds = |hits: &[(String, f64)]| hits.iter().find(|h| h.0 == "Refunds").map(|h| h.1);
    assert_ne!(refunds(&grown), refunds(&before), "{grown:?}");

    // A deleted document stops counting: after deleting it, A scores as before it came.
    let listed = app.get("/api/v1/agents/documents", Some(a)).await;
    let more = listed.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["title"] == "More refunds")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let res = app
        .delete(&format!("/api/v1/agents/documents/{more}"), Some(a))
        .await;
    assert_eq!(res.status, StatusCode::NO_CONTENT);
    assert_eq!(
        scored(&app, a, query, "sparse").await,
        before,
        "no trace of the deleted document"
    );
}

/// Row-level security is in the request path, not only in the schema: with the tenant policy taken
/// away, the routes' own queries (which do filter by workspace) see nothing — they run as `studio_app`,
/// not as the tables' owner — and with it back, everything is there again.
#[tokio::test]
async fn when_the_tenant_policy_is_taken_away_the_documents_and_search_routes_see_nothing_their_queries_run_under_row_level_security()
 {
    let (app, k, mut rx, ada) = setup().await;
    let res = ingest(
        &app,
        &ada.access_token,
        vec![
            doc("Returns", "Refunds take five days."),
            doc("Shipping", "We ship worldwide."),
        ],
    )
    .await;
    assert_eq!(res.status, StatusCode::ACCEPTED, "{}", res.body);
    index_queued(&k, &mut rx).await;
    let listed = |app: &TestApp, token: &str| {
        let (app, token) = (app.clone(), token.to_owned());
        async move {
            let res = app.get("/api/v1/agents/documents", Some(&token)).await;
            assert_eq!(res.status, StatusCode::OK, "{}", res.body);
            res.body["items"].as_array().unwrap().len()
        }
    };
    let searched = |app: &TestApp, token: &str| {
        let (app, token) = (app.clone(), token.to_owned());
        async move {
            let res = search(&app, &token, json!({"query": "refunds"})).await;
            assert_eq!(res.status, StatusCode::OK, "{}", res.body);
            res.body.as_array().unwrap().len()
        }
    };
    assert_eq!(listed(&app, &ada.access_token).await, 2);
    assert!(searched(&app, &ada.access_token).await >= 1);

    let owner = studio_testing::admin_client(&app.db_url).await;
    owner
        .batch_execute("DROP POLICY tenant ON kb_documents")
        .await
        .unwrap();
    assert_eq!(
        listed(&app, &ada.access_token).await,
        0,
        "no policy: nothing"
    );
    assert_eq!(
        searched(&app, &ada.access_token).await,
        0,
        "hits of documents it cannot see are dropped"
    );

    owner
        .batch_execute(
            "CREATE POLICY tenant ON kb_documents TO studio_app
                 USING (workspace_id = studio_workspace()) WITH CHECK (workspace_id = studio_workspace())",
        )
        .await
        .unwrap();
    assert_eq!(listed(&app, &ada.access_token).await, 2);
}
