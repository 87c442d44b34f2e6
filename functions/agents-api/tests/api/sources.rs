//! What a client of `/api/v1/agents/sources` sees: a source answered 202 with its crawl announced on the
//! crawl queue (moto's SQS), listing and reading, the schedule, syncing, deleting; roles, tenants, plan
//! limits, bad input and a queue that is down. The crawl itself is the crawl worker's suite.

use http::{Method, StatusCode};
use serde_json::{Value, json};
use studio::Role;
use studio::auth::Caller;
use studio::billing::plan::Plan;
use studio::knowledge::{Embedder, Llm};
use studio::repo::documents::{self, NewDocument};
use studio::services::jobs::{self, Job};
use studio::state::KnowledgeState;
use studio_testing::{
    TestApp, TestUser, assert_error, knowledge_app_with, local_queue, moto_queue, moto_receive,
    moto_sdk, set_plan,
};

struct World {
    k: KnowledgeState,
    app: TestApp,
    ada: TestUser,
    crawl_url: Option<String>,
}

/// The agents routes announcing crawls on a moto queue (or, with `queue: false`, on none: the
/// announcement waits in the outbox).
async fn world(queue: bool) -> World {
    let sdk = moto_sdk().await;
    let crawl_url = if queue {
        Some(moto_queue(&sdk, "crawl", None).await)
    } else {
        None
    };
    let mut extra = vec![("CRAWL_DELAY_MS", "0")];
    if let Some(url) = &crawl_url {
        extra.push(("SQS_CRAWL_QUEUE_URL", url.as_str()));
    }
    let (ingest, _rx) = local_queue();
    let (app, k) = knowledge_app_with(
        Embedder::offline(),
        Llm::offline(),
        ingest,
        agents_api::routes(),
        &extra,
    )
    .await;
    let ada = app.user("Ada").await;
    World {
        k,
        app,
        ada,
        crawl_url,
    }
}

async fn add(w: &World, user: &TestUser, body: Value) -> studio_testing::TestResponse {
    w.app
        .post("/api/v1/agents/sources", Some(&user.access_token), body)
        .await
}

fn docs(n: u32) -> Value {
    json!({"url": format!("https://docs{n}.example.com/"), "kind": "site"})
}

/// The crawl messages the queue holds now.
async fn announced(w: &World) -> Vec<Value> {
    let sdk = moto_sdk().await;
    moto_receive(&sdk, w.crawl_url.as_deref().unwrap(), 1)
        .await
        .records
        .iter()
        .map(|r| serde_json::from_str(r.body.as_deref().unwrap()).unwrap())
        .collect()
}

#[tokio::test]
async fn an_admin_adds_a_source_and_its_crawl_is_announced_then_followed_scheduled_and_synced_once()
{
    let w = world(true).await;
    let res = add(
        &w,
        &w.ada,
        json!({"url": "https://docs.example.com/sitemap.xml", "kind": "sitemap", "maxPages": 20}),
    )
    .await;
    assert_eq!(res.status, StatusCode::ACCEPTED, "{}", res.body);
    let id = res.str("/id");
    assert_eq!(
        (
            &res.body["status"],
            &res.body["kind"],
            &res.body["maxPages"],
            &res.body["syncEvery"]
        ),
        (
            &json!("queued"),
            &json!("sitemap"),
            &json!(20),
            &Value::Null
        )
    );
    assert_eq!(res.body["progress"]["queued"], 0);
    assert!(res.body["nextSyncAt"].is_null());
    assert_eq!(
        announced(&w).await,
        [
            json!({"sourceId": id, "workspaceId": w.ada.workspace_id, "crawlId": res.body["crawlId"]})
        ]
    );

    // The plan's pages per source is the default.
    let res = add(&w, &w.ada, docs(1)).await;
    assert_eq!(res.body["maxPages"], 50, "the free plan's");

    let list = w
        .app
        .get("/api/v1/agents/sources", Some(&w.ada.access_token))
        .await;
    assert_eq!(list.status, StatusCode::OK);
    assert_eq!(list.body["items"].as_array().unwrap().len(), 2);
    let detail = w
        .app
        .get(
            &format!("/api/v1/agents/sources/{id}"),
            Some(&w.ada.access_token),
        )
        .await;
    assert_eq!(detail.status, StatusCode::OK);
    assert_eq!(
        (&detail.body["pages"], &detail.body["pagesTruncated"]),
        (&json!([]), &json!(false))
    );

    // A schedule, and back to on request only.
    let res = w
        .app
        .patch(
            &format!("/api/v1/agents/sources/{id}"),
            Some(&w.ada.access_token),
            json!({"syncEvery": "daily"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(res.body["syncEvery"], "daily");
    assert!(res.body["nextSyncAt"].is_string());
    let res = w
        .app
        .patch(
            &format!("/api/v1/agents/sources/{id}"),
            Some(&w.ada.access_token),
            json!({"syncEvery": null}),
        )
        .await;
    assert!(res.body["nextSyncAt"].is_null() && res.body["syncEvery"].is_null());

    // A sync while the first crawl is still queued answers that crawl and announces nothing.
    let sync = w
        .app
        .post(
            &format!("/api/v1/agents/sources/{id}/sync"),
            Some(&w.ada.access_token),
            json!({}),
        )
        .await;
    assert_eq!(sync.status, StatusCode::ACCEPTED);
    assert_eq!(sync.body["crawlId"], detail.body["crawlId"]);
    let left: Vec<Value> = announced(&w).await;
    assert_eq!(left.len(), 1, "only the second source's crawl: {left:?}");

    // The same URL twice is one source.
    let res = add(
        &w,
        &w.ada,
        json!({"url": "https://docs.example.com/sitemap.xml", "kind": "sitemap"}),
    )
    .await;
    assert_error(&res, StatusCode::CONFLICT, "conflict");

    let res = w
        .app
        .delete(
            &format!("/api/v1/agents/sources/{id}"),
            Some(&w.ada.access_token),
        )
        .await;
    assert_eq!(res.status, StatusCode::NO_CONTENT);
    let res = w
        .app
        .get(
            &format!("/api/v1/agents/sources/{id}"),
            Some(&w.ada.access_token),
        )
        .await;
    assert_error(&res, StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn only_admins_change_sources_viewers_read_them_and_another_workspace_sees_nothing() {
    let w = world(true).await;
    let id = add(&w, &w.ada, docs(1)).await.str("/id");
    let member = w.app.member("Mo", &w.ada, Role::Member).await;
    let viewer = w.app.member("Vi", &w.ada, Role::Viewer).await;
    let ws = w.ada.workspace_id.to_string();
    let in_ada = [("x-workspace-id", ws.as_str())];
    let path = format!("/api/v1/agents/sources/{id}");
    for (method, path, body) in [
        (
            Method::POST,
            "/api/v1/agents/sources".to_owned(),
            Some(docs(2)),
        ),
        (Method::POST, format!("{path}/sync"), Some(json!({}))),
        (
            Method::PATCH,
            path.clone(),
            Some(json!({"syncEvery": "daily"})),
        ),
        (Method::DELETE, path.clone(), None),
    ] {
        let res = w
            .app
            .send_with(
                method.clone(),
                &path,
                Some(&member.access_token),
                body,
                &in_ada,
            )
            .await;
        assert_error(&res, StatusCode::FORBIDDEN, "forbidden");
    }
    let res = w
        .app
        .send_with(
            Method::GET,
            &path,
            Some(&viewer.access_token),
            None,
            &in_ada,
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let res = w
        .app
        .send_with(
            Method::GET,
            "/api/v1/agents/sources",
            Some(&member.access_token),
            None,
            &in_ada,
        )
        .await;
    assert_eq!(res.body["items"].as_array().unwrap().len(), 1);

    // Bob's own workspace: Ada's source is not there, by any route.
    let bob = w.app.user("Bob").await;
    let list = w
        .app
        .get("/api/v1/agents/sources", Some(&bob.access_token))
        .await;
    assert_eq!(list.body["items"], json!([]));
    let path = format!("/api/v1/agents/sources/{id}");
    assert_error(
        &w.app.get(&path, Some(&bob.access_token)).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_error(
        &w.app
            .patch(
                &path,
                Some(&bob.access_token),
                json!({"syncEvery": "daily"}),
            )
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_error(
        &w.app
            .post(&format!("{path}/sync"), Some(&bob.access_token), json!({}))
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_error(
        &w.app.delete(&path, Some(&bob.access_token)).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    // Still Ada's, untouched.
    let res = w.app.get(&path, Some(&w.ada.access_token)).await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(res.body["syncEvery"].is_null());
}

#[tokio::test]
async fn bad_input_is_refused_naming_the_field() {
    let w = world(true).await;
    for (body, field) in [
        (json!({"url": "docs.example.com", "kind": "page"}), "url"),
        (
            json!({"url": "mailto:a@example.com", "kind": "page"}),
            "url",
        ),
        (
            json!({"url": "https://docs.example.com/", "kind": "book"}),
            "kind",
        ),
        (
            json!({"url": "https://docs.example.com/", "kind": "page", "maxPages": 0}),
            "maxPages",
        ),
        (
            json!({"url": "https://docs.example.com/", "kind": "page", "syncEvery": "hourly"}),
            "syncEvery",
        ),
        (
            json!({"url": "https://docs.example.com/", "kind": "page", "depth": 9}),
            "depth",
        ),
        (json!({"kind": "page"}), "url"),
        (
            json!({"url": "https://docs.example.com/a\u{0}b", "kind": "page"}),
            "url",
        ),
        (
            json!({"url": "https://docs.example.com/\nx", "kind": "page"}),
            "url",
        ),
    ] {
        let res = add(&w, &w.ada, body.clone()).await;
        assert_error(&res, StatusCode::BAD_REQUEST, "validation_failed");
        assert!(res.body.to_string().contains(field), "{body}: {}", res.body);
    }
    let res = w
        .app
        .patch(
            "/api/v1/agents/sources/not-a-uuid",
            Some(&w.ada.access_token),
            json!({"syncEvery": "daily"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert!(
        res.body["error"]["code"].is_string(),
        "a JSON error: {}",
        res.body
    );
    let list = w
        .app
        .get("/api/v1/agents/sources", Some(&w.ada.access_token))
        .await;
    assert_eq!(list.body["items"], json!([]), "nothing stored");
}

#[tokio::test]
async fn the_plan_limits_sources_and_pages_per_source() {
    let w = world(true).await;
    let res = add(
        &w,
        &w.ada,
        json!({"url": "https://docs.example.com/", "kind": "site", "maxPages": 51}),
    )
    .await;
    assert_error(&res, StatusCode::PAYMENT_REQUIRED, "quota_exceeded");
    assert_eq!(res.body["error"]["details"]["limit"], "pagesPerSource");
    for n in 1..=3 {
        assert_eq!(add(&w, &w.ada, docs(n)).await.status, StatusCode::ACCEPTED);
    }
    let res = add(&w, &w.ada, docs(4)).await;
    assert_error(&res, StatusCode::PAYMENT_REQUIRED, "quota_exceeded");
    assert_eq!(
        res.body["error"]["details"],
        json!({"limit": "sources", "max": 3, "used": 3, "plan": "free"})
    );
    set_plan(&w.app, w.ada.workspace_id, Plan::Pro).await;
    let res = add(
        &w,
        &w.ada,
        json!({"url": "https://docs4.example.com/", "kind": "site", "maxPages": 500}),
    )
    .await;
    assert_eq!(res.status, StatusCode::ACCEPTED, "{}", res.body);
}

#[tokio::test]
async fn with_the_crawl_queue_down_the_source_is_kept_and_the_outbox_announces_its_crawl_later() {
    let w = world(false).await;
    let res = add(&w, &w.ada, docs(1)).await;
    assert_eq!(res.status, StatusCode::ACCEPTED, "{}", res.body);
    let unsent: i64 = w
        .app
        .value(
            "SELECT count(*) FROM outbox WHERE topic = 'crawl' AND sent_at IS NULL",
            &[],
        )
        .await;
    assert_eq!(unsent, 1);
    // The queue is back: the outbox job sends the announcement.
    let sdk = moto_sdk().await;
    let url = moto_queue(&sdk, "crawl", None).await;
    let k = KnowledgeState {
        crawl: Some(studio::queue::Queue::sqs_with(&sdk, url.clone(), None)),
        ..w.k.clone()
    };
    let old = chrono::Utc::now() - chrono::Duration::minutes(5);
    w.app
        .execute("UPDATE outbox SET created_at = $1", &[&old])
        .await;
    let report = jobs::run(&k, Job::ResendOutbox).await.unwrap();
    assert_eq!(report.counts["sent"], 1, "{report:?}");
    let got = moto_receive(&sdk, &url, 1).await;
    assert_eq!(got.records.len(), 1);
    let message: Value = serde_json::from_str(got.records[0].body.as_deref().unwrap()).unwrap();
    assert_eq!(message["sourceId"], res.body["id"]);
}

#[tokio::test]
async fn the_cron_starts_due_syncs_once_and_announces_stalled_crawls_again() {
    let w = world(true).await;
    let due = add(
        &w,
        &w.ada,
        json!({"url": "https://a.example.com/", "kind": "page", "syncEvery": "daily"}),
    )
    .await;
    let stalled = add(&w, &w.ada, docs(2)).await;
    let fresh = add(&w, &w.ada, docs(3)).await;
    assert_eq!(announced(&w).await.len(), 3);
    // The first one crawled yesterday and is due; the second has been queued, untouched, for an hour.
    w.app
        .execute(
            "UPDATE kb_sources SET status = 'ready', next_sync_at = now() - interval '1 minute' WHERE id = $1",
            &[&uuid(&due.body["id"])],
        )
        .await;
    w.app
        .execute(
            "UPDATE kb_sources SET updated_at = now() - interval '1 hour' WHERE id = $1",
            &[&uuid(&stalled.body["id"])],
        )
        .await;
    let report = jobs::run(&w.k, Job::SyncSources).await.unwrap();
    assert_eq!(
        (
            report.counts["syncsStarted"],
            report.counts["stalledCrawlsResumed"]
        ),
        (1, 1),
        "{report:?}"
    );
    let mut got: Vec<String> = announced(&w)
        .await
        .iter()
        .map(|m| m["sourceId"].as_str().unwrap().to_owned())
        .collect();
    got.sort();
    let mut want = vec![due.str("/id"), stalled.str("/id")];
    want.sort();
    assert_eq!(got, want, "not the fresh source {}", fresh.str("/id"));
    let s = w
        .app
        .get(
            &format!("/api/v1/agents/sources/{}", due.str("/id")),
            Some(&w.ada.access_token),
        )
        .await;
    assert_eq!(s.body["status"], "queued");
    assert_ne!(s.body["crawlId"], due.body["crawlId"], "a new crawl");
    // Run again at once: nothing is due or stalled any more.
    let report = jobs::run(&w.k, Job::SyncSources).await.unwrap();
    assert_eq!(
        (
            report.counts["syncsStarted"],
            report.counts["stalledCrawlsResumed"]
        ),
        (0, 0)
    );
}

fn uuid(v: &Value) -> uuid::Uuid {
    v.as_str().unwrap().parse().unwrap()
}

#[tokio::test]
async fn with_the_vector_store_down_a_source_is_still_deleted_and_its_vectors_left_to_the_purge() {
    let w = world(true).await;
    let id = add(&w, &w.ada, docs(1)).await.str("/id");
    // One of its pages, stored as the crawl stores it.
    let ws = studio::WorkspaceId::from_trusted_source(w.ada.workspace_id);
    let (doc, ingestion) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
    let by = Caller::User(w.ada.id);
    let client = w.k.app.db.get().await.unwrap();
    documents::insert_single_ingestion(&**client, ws, ingestion, by)
        .await
        .unwrap();
    let page = NewDocument {
        id: doc,
        title: "Page".into(),
        content: "Text of the page.".into(),
        content_type: "text/markdown".into(),
        source_url: Some("https://docs1.example.com/".into()),
        metadata: json!({}),
        external_id: None,
        source_id: Some(uuid(&json!(id))),
    };
    documents::insert(&**client, ws, ingestion, by, &page, b"hash")
        .await
        .unwrap();
    drop(client);
    // The same routes over a Qdrant nobody answers at.
    let mut cfg = w.k.app.config.knowledge.clone();
    cfg.qdrant_url = Some("http://127.0.0.1:9".into());
    let down = KnowledgeState {
        vectors: studio::knowledge::VectorStore::from_config(&cfg, Some(("offline-hash-256", 256)))
            .await
            .unwrap(),
        ..w.k.clone()
    };
    let app = TestApp::with_router(
        studio::http::app(agents_api::routes(), down),
        w.app.state.clone(),
        w.app.db_url.clone(),
    );
    let res = app
        .delete(
            &format!("/api/v1/agents/sources/{id}"),
            Some(&w.ada.access_token),
        )
        .await;
    assert_eq!(res.status, StatusCode::NO_CONTENT, "{}", res.body);
    let res = app
        .get(
            &format!("/api/v1/agents/documents/{doc}"),
            Some(&w.ada.access_token),
        )
        .await;
    assert_error(&res, StatusCode::NOT_FOUND, "not_found");
    let deleted: bool = w
        .app
        .value(
            "SELECT deleted_at IS NOT NULL FROM kb_documents WHERE id = $1",
            &[&doc],
        )
        .await;
    assert!(deleted, "kept for the purge, which deletes its vectors");
}
