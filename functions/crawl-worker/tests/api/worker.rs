//! A website source's whole way, against a site served on loopback (allowed by the development setting
//! `FETCH_ALLOW_PRIVATE_NETWORKS`), the moto server's SQS as the crawl queue and a real PostgreSQL: the
//! route announces the crawl, the worker reads robots.txt and the sitemap and fetches the pages, the
//! ingest worker indexes them, search finds them by their URL — and a re-sync touches exactly the pages
//! that changed or left. With the setting off, every address that is not public is refused.

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode as AxumStatus, header};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use studio::fetch::{FetchPolicy, Fetcher, Guard};
use studio::knowledge::{Embedder, Llm, Queue};
use studio::queue::CrawlMessage;
use studio::state::{CrawlState, KnowledgeState};
use studio_testing::{
    TestApp, TestUser, index_queued, knowledge_app_with, local_queue, moto_queue, moto_receive,
    moto_sdk,
};
use tokio::sync::mpsc::UnboundedReceiver;
use uuid::Uuid;

/// A path's status, content type and body.
type Answer = (u16, &'static str, Vec<u8>);

/// A site: each path's answer, and every path requested, in order.
#[derive(Clone, Default)]
struct Site {
    pages: Arc<Mutex<HashMap<String, Answer>>>,
    hits: Arc<Mutex<Vec<String>>>,
}

impl Site {
    fn set(&self, path: &str, status: u16, content_type: &'static str, body: &str) {
        self.set_bytes(path, status, content_type, body.as_bytes());
    }

    fn set_bytes(&self, path: &str, status: u16, content_type: &'static str, body: &[u8]) {
        self.pages
            .lock()
            .unwrap()
            .insert(path.to_owned(), (status, content_type, body.to_vec()));
    }

    fn html(&self, path: &str, title: &str, body: &str) {
        let page = format!(
            "<!doctype html><html><head><title>{title}</title></head><body><nav><a href=\"/\">Home</a> Menu</nav><main><h1>{title}</h1>{body}</main><footer>© Shop</footer></body></html>"
        );
        self.set(path, 200, "text/html; charset=utf-8", &page);
    }

    fn hits(&self) -> Vec<String> {
        self.hits.lock().unwrap().clone()
    }

    /// Serves the site on loopback; returns its address.
    async fn serve(&self) -> SocketAddr {
        async fn answer(State(site): State<Site>, request: Request) -> Response {
            let path = request
                .uri()
                .path_and_query()
                .map_or("/", |p| p.as_str())
                .to_owned();
            site.hits.lock().unwrap().push(path.clone());
            let found = site.pages.lock().unwrap().get(&path).cloned();
            match found {
                Some((status, content_type, body)) => {
                    let status = AxumStatus::from_u16(status).unwrap();
                    let mut response = (status, body).into_response();
                    if let Some(location) = response_location(&path) {
                        response
                            .headers_mut()
                            .insert(header::LOCATION, HeaderValue::from_static(location));
                    }
                    response
                        .headers_mut()
                        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
                    response
                }
                None => (AxumStatus::NOT_FOUND, "not here").into_response(),
            }
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = Router::new().fallback(answer).with_state(self.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        addr
    }
}

/// The redirect the test site answers for a path (the one page that sends the crawler elsewhere).
fn response_location(path: &str) -> Option<&'static str> {
    (path == "/to-metadata").then_some("http://169.254.169.254/latest/meta-data/")
}

/// Fields drop in order: the state (the vector store flushes) before the app (its temporary folders).
struct World {
    k: KnowledgeState,
    c: CrawlState,
    app: TestApp,
    ingest: UnboundedReceiver<String>,
    ada: TestUser,
    sdk: aws_config::SdkConfig,
    crawl_url: String,
    site: Site,
    addr: SocketAddr,
    base: String,
}

/// How far the crawl may reach.
#[derive(PartialEq)]
enum Reach {
    /// The development setting on: the site on loopback is reachable.
    Private,
    /// The setting off; a test resolver maps `public.test` to the site on loopback (exempted as if it
    /// were public) and any other name, `rebinding.test` among them, to 127.0.0.2.
    PublicOnly,
}

/// The agents routes announcing crawls on a moto queue, the crawl worker's state, and a site on
/// loopback that the development setting lets the crawl reach; no crawl delay.
async fn world() -> World {
    world_with(Reach::Private, &[("CRAWL_DELAY_MS", "0")]).await
}

async fn world_with(reach: Reach, extra: &[(&str, &str)]) -> World {
    let site = Site::default();
    let addr = site.serve().await;
    let sdk = moto_sdk().await;
    let crawl_url = moto_queue(&sdk, "crawl", None).await;
    let (queue, ingest) = local_queue();
    let port = addr.port().to_string();
    let mut config = vec![("SQS_CRAWL_QUEUE_URL", crawl_url.as_str())];
    if reach == Reach::Private {
        config.extend([
            ("FETCH_ALLOW_PRIVATE_NETWORKS", "true"),
            ("FETCH_ALLOWED_PORTS", port.as_str()),
        ]);
    }
    config.extend_from_slice(extra);
    let (app, k) = knowledge_app_with(
        Embedder::offline(),
        Llm::offline(),
        queue,
        agents_api::routes(),
        &config,
    )
    .await;
    let ada = app.user("Ada").await;
    let guard = match reach {
        Reach::Private => Guard::new(k.app.config.fetch.clone()),
        Reach::PublicOnly => {
            assert!(!k.app.config.fetch.allow_private, "the setting is off");
            let policy = FetchPolicy {
                ports: vec![80, 443, addr.port()],
                ..k.app.config.fetch.clone()
            };
            let loopback: IpAddr = "127.0.0.1".parse().unwrap();
            Guard::with_resolver(policy, Arc::new(PublicOnly)).exempting(loopback)
        }
    };
    let c = crawl_state(&k, &sdk, &crawl_url, guard);
    World {
        c,
        app,
        k,
        ingest,
        ada,
        sdk,
        crawl_url,
        site,
        addr,
        base: format!("http://{addr}"),
    }
}

fn crawl_state(
    k: &KnowledgeState,
    sdk: &aws_config::SdkConfig,
    url: &str,
    guard: Guard,
) -> CrawlState {
    CrawlState {
        app: k.app.clone(),
        fetcher: Fetcher::new(guard, &studio::crawl::user_agent("http://localhost")).unwrap(),
        queue: Queue::sqs_with(sdk, url.to_owned(), None),
        ingest: k.queue.clone(),
    }
}

/// Delivers what the crawl queue holds to the worker until it is empty (a crawl's steps included);
/// returns how many messages were handled.
async fn crawl(w: &World) -> usize {
    let mut handled = 0;
    loop {
        let event = moto_receive(&w.sdk, &w.crawl_url, 1).await;
        if event.records.is_empty() {
            return handled;
        }
        handled += event.records.len();
        let response = crawl_worker::handle(&w.c, event).await;
        assert!(
            response.batch_item_failures.is_empty(),
            "a step failed: {:?}",
            response.batch_item_failures
        );
    }
}

async fn get(w: &World, path: &str) -> Value {
    get_with(&w.app, &w.ada, path).await
}

async fn source(w: &World, id: &str) -> Value {
    get(w, &format!("/api/v1/agents/sources/{id}")).await
}

/// The source's page at `path`.
fn page<'a>(source: &'a Value, base: &str, path: &str) -> &'a Value {
    let url = format!("{base}{path}");
    source["pages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["url"] == url.as_str())
        .unwrap_or_else(|| panic!("no page {url} in {source}"))
}

async fn search(w: &World, query: &str) -> Vec<Value> {
    studio_testing::search_hits(&w.app, &w.ada, query).await
}

fn sitemap(base: &str, paths: &[&str]) -> String {
    let urls: String = paths
        .iter()
        .map(|p| format!("<url><loc>{base}{p}</loc></url>"))
        .collect();
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>"#
    )
}

#[tokio::test]
async fn a_site_is_crawled_through_its_sitemap_honouring_robots_and_a_resync_updates_exactly_what_changed()
 {
    let mut w = world().await;
    let base = w.base.clone();
    w.site.set(
        "/robots.txt",
        200,
        "text/plain",
        "User-agent: *\nDisallow: /private\n",
    );
    w.site.set(
        "/sitemap.xml",
        200,
        "application/xml",
        &sitemap(
            &base,
            &["/returns", "/shipping", "/warranty", "/private/prices"],
        ),
    );
    w.site.html(
        "/returns",
        "Returns",
        "<p>Parcels can be returned within thirty days.</p>",
    );
    w.site.html(
        "/shipping",
        "Shipping",
        "<p>Orders ship from the harbour warehouse.</p>",
    );
    w.site.html(
        "/warranty",
        "Warranty",
        "<p>Tent poles carry a five year warranty.</p>",
    );
    w.site.html(
        "/private/prices",
        "Prices",
        "<p>Secret wholesale prices.</p>",
    );

    let res = w
        .app
        .post(
            "/api/v1/agents/sources",
            Some(&w.ada.access_token),
            json!({"url": format!("{base}/sitemap.xml"), "kind": "sitemap", "syncEvery": "weekly"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::ACCEPTED, "{}", res.body);
    assert_eq!(res.body["status"], "queued");
    let id = res.str("/id");

    assert!(crawl(&w).await >= 1);
    let s = source(&w, &id).await;
    assert_eq!(s["status"], "ready", "{s}");
    assert_eq!(
        s["progress"],
        json!({"queued": 0, "new": 3, "changed": 0, "unchanged": 0, "failed": 0, "skipped": 1, "removed": 0}),
        "{s}"
    );
    assert!(s["nextSyncAt"].is_string(), "weekly sync scheduled: {s}");
    let private = page(&s, &base, "/private/prices");
    assert_eq!(private["status"], "skipped");
    assert!(private["error"].as_str().unwrap().contains("robots.txt"));
    assert!(
        !w.site.hits().iter().any(|h| h.starts_with("/private")),
        "robots.txt disallow honoured: {:?}",
        w.site.hits()
    );

    // The pages are documents of the url kind, indexed like any other.
    assert_eq!(index_queued(&w.k, &mut w.ingest).await, 3);
    let returns_doc = page(&s, &base, "/returns")["documentId"]
        .as_str()
        .unwrap()
        .to_owned();
    let shipping_doc = page(&s, &base, "/shipping")["documentId"]
        .as_str()
        .unwrap()
        .to_owned();
    let warranty_doc = page(&s, &base, "/warranty")["documentId"]
        .as_str()
        .unwrap()
        .to_owned();
    let doc = get(&w, &format!("/api/v1/agents/documents/{shipping_doc}")).await;
    assert_eq!(
        (
            &doc["sourceType"],
            &doc["sourceId"],
            &doc["title"],
            &doc["status"]
        ),
        (
            &json!("url"),
            &json!(id),
            &json!("Shipping"),
            &json!("ready")
        ),
        "{doc}"
    );
    assert_eq!(doc["sourceUrl"], format!("{base}/shipping"));
    // A page's text comes from the page: not edited in place.
    let res = w
        .app
        .send(
            http::Method::PUT,
            &format!("/api/v1/agents/documents/{shipping_doc}"),
            Some(&w.ada.access_token),
            Some(json!({"content": "Edited by hand."})),
        )
        .await;
    assert_eq!(res.status, StatusCode::CONFLICT, "{}", res.body);
    assert!(
        res.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("sync")
    );
    let hits = search(&w, "tent poles five year warranty").await;
    assert_eq!(hits[0]["documentId"], warranty_doc.as_str(), "{hits:?}");
    assert_eq!(hits[0]["url"], format!("{base}/warranty"));
    assert!(
        !hits
            .iter()
            .any(|h| h["text"].as_str().unwrap().contains("Menu")),
        "navigation is not indexed: {hits:?}"
    );
    let returns_ingestion =
        get(&w, &format!("/api/v1/agents/documents/{returns_doc}")).await["ingestionId"].clone();

    // One page changes, one leaves the sitemap; the third stays as it was.
    w.site.html(
        "/shipping",
        "Shipping",
        "<p>Orders now ship from the mountain depot.</p>",
    );
    w.site.set(
        "/sitemap.xml",
        200,
        "application/xml",
        &sitemap(&base, &["/returns", "/shipping", "/private/prices"]),
    );
    let first = w
        .app
        .post(
            &format!("/api/v1/agents/sources/{id}/sync"),
            Some(&w.ada.access_token),
            json!({}),
        )
        .await;
    assert_eq!(first.status, StatusCode::ACCEPTED, "{}", first.body);
    assert_eq!(first.body["status"], "queued");
    assert_ne!(first.body["crawlId"], s["crawlId"], "a new crawl");
    // A second sync while the first is queued starts nothing new.
    let again = w
        .app
        .post(
            &format!("/api/v1/agents/sources/{id}/sync"),
            Some(&w.ada.access_token),
            json!({}),
        )
        .await;
    assert_eq!(again.status, StatusCode::ACCEPTED);
    assert_eq!(again.body["crawlId"], first.body["crawlId"]);

    crawl(&w).await;
    let s = source(&w, &id).await;
    assert_eq!(s["status"], "ready", "{s}");
    assert_eq!(
        s["progress"],
        json!({"queued": 0, "new": 0, "changed": 1, "unchanged": 1, "failed": 0, "skipped": 1, "removed": 1}),
        "{s}"
    );
    assert_eq!(page(&s, &base, "/warranty")["status"], "removed");
    // Exactly one page is embedded again.
    assert_eq!(index_queued(&w.k, &mut w.ingest).await, 1);
    let returns = get(&w, &format!("/api/v1/agents/documents/{returns_doc}")).await;
    assert_eq!(
        (returns["version"].as_i64(), &returns["ingestionId"]),
        (Some(1), &returns_ingestion)
    );
    let shipping = get(&w, &format!("/api/v1/agents/documents/{shipping_doc}")).await;
    assert_eq!(
        (
            shipping["version"].as_i64(),
            shipping["searchableVersion"].as_i64()
        ),
        (Some(2), Some(2)),
        "{shipping}"
    );
    let res = w
        .app
        .get(
            &format!("/api/v1/agents/documents/{warranty_doc}"),
            Some(&w.ada.access_token),
        )
        .await;
    assert_eq!(
        res.status,
        StatusCode::NOT_FOUND,
        "the gone page's document is deleted"
    );
    let hits = search(&w, "mountain depot").await;
    assert_eq!(hits[0]["documentId"], shipping_doc.as_str());
    assert!(hits[0]["text"].as_str().unwrap().contains("mountain depot"));
    assert!(
        !search(&w, "tent poles five year warranty")
            .await
            .iter()
            .any(|h| h["documentId"] == warranty_doc.as_str()),
        "the removed page is not found any more"
    );

    // Deleting the source deletes its documents and their vectors.
    let res = w
        .app
        .delete(
            &format!("/api/v1/agents/sources/{id}"),
            Some(&w.ada.access_token),
        )
        .await;
    assert_eq!(res.status, StatusCode::NO_CONTENT, "{}", res.body);
    for doc in [&returns_doc, &shipping_doc] {
        let res = w
            .app
            .get(
                &format!("/api/v1/agents/documents/{doc}"),
                Some(&w.ada.access_token),
            )
            .await;
        assert_eq!(res.status, StatusCode::NOT_FOUND);
        let ws = studio::WorkspaceId::from_trusted_source(w.ada.workspace_id);
        assert_eq!(
            w.k.vectors
                .count(ws, Some(doc.parse().unwrap()))
                .await
                .unwrap(),
            0
        );
    }
    let res = w
        .app
        .get(
            &format!("/api/v1/agents/sources/{id}"),
            Some(&w.ada.access_token),
        )
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_site_is_crawled_by_its_links_within_the_site_up_to_its_page_cap() {
    let mut w = world().await;
    let base = w.base.clone();
    w.site.set("/robots.txt", 404, "text/plain", "");
    w.site.html(
        "/",
        "Help centre",
        r#"<p>Start here.</p><a href="/faq">FAQ</a> <a href="/faq#top">FAQ again</a>
           <a href="http://other.example/away">Elsewhere</a> <a href="/manual.pdf">Manual</a>
           <a href="/hidden">Hidden</a> <a href="/image.png">Picture</a>"#,
    );
    w.site.html(
        "/faq",
        "FAQ",
        r#"<p>Answers.</p><a href="/deeper">Deeper</a>"#,
    );
    w.site.set(
        "/hidden",
        200,
        "text/html",
        r#"<html><head><meta name="robots" content="noindex"></head><body><p>Hidden page.</p></body></html>"#,
    );
    w.site.set_bytes(
        "/image.png",
        200,
        "image/png",
        b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR",
    );
    w.site
        .html("/deeper", "Deeper", "<p>Too deep for the cap.</p>");

    let res = w
        .app
        .post(
            "/api/v1/agents/sources",
            Some(&w.ada.access_token),
            json!({"url": format!("{base}/"), "kind": "site", "maxPages": 5}),
        )
        .await;
    assert_eq!(res.status, StatusCode::ACCEPTED, "{}", res.body);
    let id = res.str("/id");
    crawl(&w).await;
    let s = source(&w, &id).await;
    assert_eq!(s["status"], "ready", "{s}");
    let urls: Vec<&str> = s["pages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["url"].as_str().unwrap())
        .collect();
    // The start page and four of its links (the fragment dropped, the other site left out): the cap.
    assert_eq!(urls.len(), 5, "{urls:?}");
    assert!(
        !urls
            .iter()
            .any(|u| u.contains("other.example") || u.contains('#'))
    );
    assert_eq!(page(&s, &base, "/faq")["depth"], 1);
    assert_eq!(page(&s, &base, "/hidden")["status"], "skipped");
    assert!(
        page(&s, &base, "/hidden")["error"]
            .as_str()
            .unwrap()
            .contains("noindex")
    );
    assert_eq!(page(&s, &base, "/image.png")["status"], "skipped");
    // A link that answers 404 on a first crawl is simply gone.
    assert_eq!(page(&s, &base, "/manual.pdf")["status"], "removed");
    assert!(
        !w.site.hits().contains(&"/deeper".to_owned()),
        "past the page cap"
    );
    assert_eq!(
        index_queued(&w.k, &mut w.ingest).await,
        2,
        "the start page and the FAQ"
    );
}

#[tokio::test]
async fn a_crawl_runs_in_steps_through_its_queue_and_a_repeated_message_does_nothing() {
    // One page every 2.5 s: a 10 s step leaves the rest to the next step.
    let mut w = world_with(
        Reach::Private,
        &[("CRAWL_DELAY_MS", "2500"), ("CRAWL_STEP_SECONDS", "10")],
    )
    .await;
    let (app, ada, site, base) = (&w.app, &w.ada, &w.site, w.base.clone());
    let paths = ["/p1", "/p2", "/p3", "/p4", "/p5"];
    site.set("/robots.txt", 404, "text/plain", "");
    site.set(
        "/sitemap.xml",
        200,
        "application/xml",
        &sitemap(&base, &paths),
    );
    for p in paths {
        site.html(p, p, &format!("<p>Page {p} of the catalogue.</p>"));
    }
    let res = app
        .post(
            "/api/v1/agents/sources",
            Some(&ada.access_token),
            json!({"url": format!("{base}/sitemap.xml"), "kind": "sitemap"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::ACCEPTED, "{}", res.body);
    let id = res.str("/id");
    let first = moto_receive(&w.sdk, &w.crawl_url, 1).await;
    assert_eq!(first.records.len(), 1);
    let message: CrawlMessage =
        serde_json::from_str(first.records[0].body.as_deref().unwrap()).unwrap();
    // The same message delivered twice at once: one step runs, the other finds the crawl held.
    let (a, b) = tokio::join!(
        crawl_worker::handle(&w.c, first.clone()),
        crawl_worker::handle(&w.c, first.clone())
    );
    assert!(a.batch_item_failures.is_empty() && b.batch_item_failures.is_empty());
    let s = app
        .get(
            &format!("/api/v1/agents/sources/{id}"),
            Some(&ada.access_token),
        )
        .await;
    assert_eq!(s.body["status"], "crawling", "{}", s.body);
    let queued = s.body["progress"]["queued"].as_i64().unwrap();
    assert!(
        queued > 0 && queued < 5,
        "the step stopped part way: {}",
        s.body
    );
    assert!(s.body["bytesFetched"].as_i64().unwrap() > 0);
    // The next step, handed on through the queue, finishes the crawl.
    let next = moto_receive(&w.sdk, &w.crawl_url, 1).await;
    assert_eq!(next.records.len(), 1, "exactly one continuation");
    let continued: CrawlMessage =
        serde_json::from_str(next.records[0].body.as_deref().unwrap()).unwrap();
    assert_eq!(continued, message);
    assert!(
        crawl_worker::handle(&w.c, next)
            .await
            .batch_item_failures
            .is_empty()
    );
    let s = app
        .get(
            &format!("/api/v1/agents/sources/{id}"),
            Some(&ada.access_token),
        )
        .await;
    assert_eq!(s.body["status"], "ready", "{}", s.body);
    assert_eq!(s.body["progress"]["new"], 5);
    assert_eq!(index_queued(&w.k, &mut w.ingest).await, 5);
    // Every page fetched once, the crawl delay apart.
    let hits = site.hits();
    for p in paths {
        assert_eq!(
            hits.iter().filter(|h| h.as_str() == p).count(),
            1,
            "{hits:?}"
        );
    }
}

/// The source's row and its announced crawl, written as the route would (the route's own check resolves
/// names with the system's resolver, which the test names below are unknown to).
async fn insert_source(k: &KnowledgeState, ada: &TestUser, url: &str, kind: &str) -> CrawlMessage {
    let ws = studio::WorkspaceId::from_trusted_source(ada.workspace_id);
    let client = k.app.db.get().await.unwrap();
    let (id, crawl) = (Uuid::now_v7(), Uuid::now_v7());
    let source = studio::repo::sources::NewSource {
        id,
        url,
        kind,
        max_pages: 10,
        sync_every: None,
        crawl_id: crawl,
        created_by: Some(ada.id),
    };
    assert!(
        studio::repo::sources::insert(&**client, ws, &source)
            .await
            .unwrap()
    );
    CrawlMessage {
        source_id: id,
        workspace_id: ada.workspace_id,
        crawl_id: crawl,
    }
}

#[tokio::test]
async fn without_the_development_setting_no_private_address_is_reached_by_the_route_or_the_crawler()
{
    let w = world_with(Reach::PublicOnly, &[("CRAWL_DELAY_MS", "0")]).await;
    // The route refuses what is written in the URL, and names resolving to private addresses.
    for (url, kind) in [
        ("http://127.0.0.1/", "loopback"),
        ("http://[::1]/", "loopback"),
        ("http://10.0.0.1/", "private"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://localhost/", "loopback"),
        ("http://[::ffff:127.0.0.1]/", "loopback"),
    ] {
        let res = w
            .app
            .post(
                "/api/v1/agents/sources",
                Some(&w.ada.access_token),
                json!({"url": url, "kind": "page"}),
            )
            .await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{url}: {}", res.body);
        assert_eq!(res.body["error"]["details"][0]["field"], "url");
        assert!(
            res.body["error"]["details"][0]["message"]
                .as_str()
                .unwrap()
                .contains(kind),
            "{url}: {}",
            res.body
        );
    }
    for (url, why) in [
        ("http://example.com:22/", "port 22"),
        ("ftp://example.com/", "http"),
        ("http://user:pw@example.com/", "user name"),
    ] {
        let res = w
            .app
            .post(
                "/api/v1/agents/sources",
                Some(&w.ada.access_token),
                json!({"url": url, "kind": "page"}),
            )
            .await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{url}");
        assert!(res.body.to_string().contains(why), "{url}: {}", res.body);
    }
    // Nothing was stored, and nothing announced.
    let list = get_with(&w.app, &w.ada, "/api/v1/agents/sources").await;
    assert_eq!(list["items"], json!([]));

    // The crawler: a name resolving to loopback is refused before any connection, and so is a public
    // page's redirect to the metadata endpoint.
    let site = w.site.clone();
    site.set("/robots.txt", 404, "text/plain", "");
    site.set("/to-metadata", 302, "text/plain", "");
    let port = w.addr.port();
    let rebinding = insert_source(
        &w.k,
        &w.ada,
        &format!("http://rebinding.test:{port}/"),
        "page",
    )
    .await;
    let redirecting = insert_source(
        &w.k,
        &w.ada,
        &format!("http://public.test:{port}/to-metadata"),
        "page",
    )
    .await;
    for message in [&rebinding, &redirecting] {
        crawl_worker::process(&w.c, &serde_json::to_string(message).unwrap())
            .await
            .unwrap();
    }
    let s = get_with(
        &w.app,
        &w.ada,
        &format!("/api/v1/agents/sources/{}", rebinding.source_id),
    )
    .await;
    assert_eq!(s["status"], "failed", "{s}");
    assert!(
        s["lastError"]
            .as_str()
            .unwrap()
            .contains("127.0.0.2, a loopback address"),
        "{s}"
    );
    let s = get_with(
        &w.app,
        &w.ada,
        &format!("/api/v1/agents/sources/{}", redirecting.source_id),
    )
    .await;
    let to_metadata = &s["pages"][0];
    assert_eq!(to_metadata["status"], "failed", "{s}");
    assert!(
        to_metadata["error"]
            .as_str()
            .unwrap()
            .contains("169.254.169.254"),
        "{s}"
    );
    assert!(to_metadata["documentId"].is_null());
    // Only the public name's robots.txt and page were requested; nothing ever reached "rebinding.test".
    assert_eq!(site.hits(), ["/robots.txt", "/to-metadata"]);
}

async fn get_with(app: &TestApp, user: &TestUser, path: &str) -> Value {
    let res = app.get(path, Some(&user.access_token)).await;
    assert_eq!(res.status, StatusCode::OK, "{path}: {}", res.body);
    res.body
}

/// A resolver under which `public.test` stands for a public site (the exempted loopback address of the
/// test's server) and every other name resolves to loopback that is not exempted (127.0.0.2).
struct PublicOnly;

impl studio::fetch::Resolver for PublicOnly {
    fn lookup(&self, host: &str) -> studio::fetch::Lookup<'_> {
        let addr = if host.eq_ignore_ascii_case("public.test") {
            "127.0.0.1"
        } else {
            "127.0.0.2"
        };
        Box::pin(async move { Ok(vec![addr.parse().unwrap()]) })
    }
}
