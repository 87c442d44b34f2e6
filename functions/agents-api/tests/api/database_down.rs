//! The ingest path while PostgreSQL goes away (a private instance): 503 with nothing half-written, then
//! the same request, retried with its Idempotency-Key once the database is back, is accepted exactly once.

use http::{Method, StatusCode};
use serde_json::json;
use studio::knowledge::Embedder;
use studio_testing::{PrivatePostgres, TestApp, assert_error, knowledge, local_queue};

#[tokio::test]
async fn when_the_database_goes_away_during_ingest_nothing_is_half_written_and_the_retry_lands_once()
 {
    let pg = PrivatePostgres::start();
    let url = pg.url("studio");
    studio::db::ensure_database_exists(&url).await.unwrap();
    studio::db::migrate(&url).await.unwrap();
    let core = studio_testing::state(&url);
    let (queue, mut rx) = local_queue();
    let (k, dir) = knowledge(&core, Embedder::offline(), queue);
    let app = TestApp::with_router(
        studio::http::app(agents_api::routes(), k.clone()),
        core,
        url.clone(),
    );
    let ada = app.user("Ada").await;
    let body = json!({"documents": [
        {"title": "One", "content": "first"},
        {"title": "Two", "content": "second"},
        {"title": "Three", "content": "third"}
    ]});
    let ingest = |app: &TestApp| {
        let body = body.clone();
        let token = ada.access_token.clone();
        let app = app.clone();
        async move {
            app.send_with(
                Method::POST,
                "/api/v1/agents/ingest",
                Some(&token),
                Some(body),
                &[("idempotency-key", "ingest-during-outage")],
            )
            .await
        }
    };

    pg.stop();
    let during = ingest(&app).await;
    assert_error(
        &during,
        StatusCode::SERVICE_UNAVAILABLE,
        "service_unavailable",
    );
    assert!(rx.try_recv().is_err(), "nothing was announced");
    // The other writes of the knowledge base answer the same way: an upload grant, an edit.
    let upload = app
        .post(
            "/api/v1/agents/uploads",
            Some(&ada.access_token),
            json!({"filename": "a.pdf", "contentType": "application/pdf", "size": 10}),
        )
        .await;
    assert_error(
        &upload,
        StatusCode::SERVICE_UNAVAILABLE,
        "service_unavailable",
    );
    let edit = app
        .send(
            Method::PUT,
            &format!("/api/v1/agents/documents/{}", uuid::Uuid::now_v7()),
            Some(&ada.access_token),
            Some(json!({"title": "New"})),
        )
        .await;
    assert_error(
        &edit,
        StatusCode::SERVICE_UNAVAILABLE,
        "service_unavailable",
    );
    // And the website sources' routes: adding, listing, syncing.
    let source = app
        .post(
            "/api/v1/agents/sources",
            Some(&ada.access_token),
            json!({"url": "https://docs.example.com/", "kind": "page"}),
        )
        .await;
    assert_error(
        &source,
        StatusCode::SERVICE_UNAVAILABLE,
        "service_unavailable",
    );
    for (method, path) in [
        (Method::GET, "/api/v1/agents/sources".to_owned()),
        (
            Method::POST,
            format!("/api/v1/agents/sources/{}/sync", uuid::Uuid::now_v7()),
        ),
    ] {
        let res = app.send(method, &path, Some(&ada.access_token), None).await;
        assert_error(&res, StatusCode::SERVICE_UNAVAILABLE, "service_unavailable");
    }

    pg.resume();
    let mut accepted = None;
    for _ in 0..40 {
        let res = ingest(&app).await;
        if res.status == StatusCode::ACCEPTED {
            accepted = Some(res);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    let accepted = accepted.expect("accepted once the database is back");
    let again = ingest(&app).await;
    assert_eq!(again.status, StatusCode::ACCEPTED);
    assert_eq!(
        again.body, accepted.body,
        "the retry replays the first answer"
    );

    let sql = app.sql().await;
    let count = |q: &'static str| {
        let sql = &sql;
        async move { sql.query_one(q, &[]).await.unwrap().get::<_, i64>(0) }
    };
    assert_eq!(
        count("SELECT count(*) FROM kb_documents").await,
        3,
        "all three, once"
    );
    assert_eq!(count("SELECT count(*) FROM ingestions").await, 1);
    assert_eq!(
        count("SELECT count(*) FROM outbox WHERE topic = 'ingest'").await,
        1
    );
    assert!(rx.try_recv().is_ok(), "announced once");
    assert!(rx.try_recv().is_err());
    // The vector store flushes when its last handle drops: before its directory goes.
    drop(app);
    drop(k);
    drop(dir);
}
