//! A workspace's secret key on the agents routes: each scope opens its routes and no others, the key acts
//! as a member with no user (what it writes records the key), and it is refused from a browser, once
//! revoked, on another workspace, and where a person or an admin is needed.

use http::{Method, StatusCode};
use serde_json::{Value, json};
use studio::knowledge::Embedder;
use studio::state::KnowledgeState;
use studio_testing::{
    TestApp, TestResponse, TestUser, assert_error, ingest_indexed, knowledge_app, local_queue,
    secret_key,
};
use uuid::Uuid;

/// `k` first: fields drop in order, and the vector store must flush before the app removes its directory.
struct Setup {
    k: KnowledgeState,
    app: TestApp,
    ada: TestUser,
    rx: tokio::sync::mpsc::UnboundedReceiver<String>,
}

async fn setup() -> Setup {
    let (queue, rx) = local_queue();
    let (app, k) = knowledge_app(Embedder::offline(), queue, agents_api::routes()).await;
    let ada = app.user("Ada").await;
    Setup { k, app, ada, rx }
}

impl Setup {
    /// One document, ingested and indexed by Ada, and one conversation she had; their ids.
    async fn content(&mut self) -> (String, String) {
        let doc = ingest_indexed(
            &self.app,
            &self.k,
            &mut self.rx,
            &self.ada.access_token,
            json!([{"title": "Refunds", "content": "Refunds take five days."}]),
        )
        .await
        .str("/documentIds/0");
        let conv = run(&self.app, &self.ada.access_token).await.str("/convId");
        (doc, conv)
    }
}

async fn run(app: &TestApp, token: &str) -> TestResponse {
    app.post(
        "/api/v1/agents/customer-service/run",
        Some(token),
        json!({"message": "How long do refunds take?"}),
    )
    .await
}

/// Every agents route but the stream's, with a body where it takes one, and the scope that opens it
/// for a key (GET routes: that scope or `read`).
fn routes(doc: &str, conv: &str) -> Vec<(Method, String, Option<Value>, &'static str)> {
    let ingest = json!({"documents": [{"title": "T", "content": "Shipping is free."}]});
    vec![
        (
            Method::POST,
            "/api/v1/agents/customer-service/run".into(),
            Some(json!({"message": "Hi"})),
            "chat",
        ),
        (
            Method::GET,
            "/api/v1/agents/conversations".into(),
            None,
            "chat",
        ),
        (
            Method::GET,
            format!("/api/v1/agents/conversations/{conv}"),
            None,
            "chat",
        ),
        (
            Method::PATCH,
            format!("/api/v1/agents/conversations/{conv}"),
            Some(json!({"title": "New"})),
            "chat",
        ),
        (Method::GET, "/api/v1/agents/feedback".into(), None, "chat"),
        (
            Method::POST,
            "/api/v1/agents/ingest".into(),
            Some(ingest),
            "ingest",
        ),
        (
            Method::GET,
            "/api/v1/agents/documents".into(),
            None,
            "ingest",
        ),
        (
            Method::GET,
            format!("/api/v1/agents/documents/{doc}"),
            None,
            "ingest",
        ),
        (
            Method::POST,
            "/api/v1/agents/search".into(),
            Some(json!({"query": "refunds"})),
            "ingest",
        ),
    ]
}

#[tokio::test]
async fn when_a_secret_key_calls_the_agents_routes_each_scope_opens_its_routes_only() {
    let mut s = setup().await;
    let (doc, conv) = s.content().await;
    for scope in ["chat", "ingest", "read"] {
        let (_, key) = secret_key(&s.app, &s.ada, &[scope]).await;
        for (method, path, body, opened_by) in routes(&doc, &conv) {
            let allowed = scope == opened_by || (scope == "read" && method == Method::GET);
            let res = s.app.send(method.clone(), &path, Some(&key), body).await;
            if allowed {
                assert!(
                    res.status.is_success(),
                    "{scope}: {method} {path} → {} {}",
                    res.status,
                    res.body
                );
            } else {
                assert_error(&res, StatusCode::FORBIDDEN, "insufficient_scope");
                assert!(
                    res.body["error"]["details"]["required"]
                        .as_array()
                        .unwrap()
                        .contains(&json!(opened_by)),
                    "{}",
                    res.body
                );
            }
        }
    }
}

#[tokio::test]
async fn when_a_key_writes_the_rows_record_the_key_and_no_user() {
    let s = setup().await;
    let (key_id, key) = secret_key(&s.app, &s.ada, &["chat", "ingest"]).await;
    let res = run(&s.app, &key).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let conv = Uuid::parse_str(&res.str("/convId")).unwrap();
    let (user, by_key): (Option<Uuid>, Option<Uuid>) = {
        let row = s
            .app
            .sql()
            .await
            .query_one(
                "SELECT user_id, api_key_id FROM conversations WHERE id = $1",
                &[&conv],
            )
            .await
            .unwrap();
        (row.get(0), row.get(1))
    };
    assert_eq!((user, by_key), (None, Some(key_id)));
    let view = s
        .app
        .get(&format!("/api/v1/agents/conversations/{conv}"), Some(&key))
        .await;
    assert!(view.body["startedBy"]["userId"].is_null(), "{}", view.body);

    let message = res.str("/messageId");
    let fb = s
        .app
        .post(
            &format!("/api/v1/agents/messages/{message}/feedback"),
            Some(&key),
            json!({"rating": "up"}),
        )
        .await;
    assert_eq!(fb.status, StatusCode::NO_CONTENT, "{}", fb.body);

    let ing = s
        .app
        .post(
            "/api/v1/agents/ingest",
            Some(&key),
            json!({"documents": [{"title": "T", "content": "Text."}]}),
        )
        .await;
    assert_eq!(ing.status, StatusCode::ACCEPTED, "{}", ing.body);
    for table in ["kb_documents", "ingestions", "message_feedback"] {
        let (users, keys): (i64, i64) = {
            let row = s
                .app
                .sql()
                .await
                .query_one(
                    &format!("SELECT count(*) FILTER (WHERE {}), count(*) FILTER (WHERE api_key_id = $1) FROM {table}",
                        if table == "message_feedback" { "user_id IS NOT NULL" } else { "created_by IS NOT NULL" }),
                    &[&key_id],
                )
                .await
                .unwrap();
            (row.get(0), row.get(1))
        };
        assert_eq!((users, keys), (0, 1), "{table}");
    }
    let used: bool = s
        .app
        .value(
            "SELECT last_used_at IS NOT NULL FROM api_keys WHERE id = $1",
            &[&key_id],
        )
        .await;
    assert!(used, "its use is noted");
}

#[tokio::test]
async fn when_a_key_asks_for_an_admin_action_it_acts_as_a_member_and_is_forbidden() {
    let mut s = setup().await;
    let (doc, _) = s.content().await;
    let (_, key) = secret_key(&s.app, &s.ada, &["chat", "ingest", "read"]).await;
    let res = s
        .app
        .delete(&format!("/api/v1/agents/documents/{doc}"), Some(&key))
        .await;
    assert_error(&res, StatusCode::FORBIDDEN, "forbidden");
    let res = s
        .app
        .get(&format!("/api/v1/agents/documents/{doc}"), Some(&key))
        .await;
    assert_eq!(res.status, StatusCode::OK, "still there: {}", res.body);
}

#[tokio::test]
async fn when_a_secret_key_comes_from_a_browser_it_is_refused_before_anything_runs() {
    let s = setup().await;
    let (key_id, key) = secret_key(&s.app, &s.ada, &["chat"]).await;
    let res = s
        .app
        .send_with(
            Method::POST,
            "/api/v1/agents/customer-service/run",
            Some(&key),
            Some(json!({"message": "Hi"})),
            &[("origin", "https://shop.example.com")],
        )
        .await;
    assert_error(&res, StatusCode::FORBIDDEN, "secret_key_in_browser");
    let (conversations, used): (i64, bool) = (
        s.app.value("SELECT count(*) FROM conversations", &[]).await,
        s.app
            .value(
                "SELECT last_used_at IS NOT NULL FROM api_keys WHERE id = $1",
                &[&key_id],
            )
            .await,
    );
    assert_eq!((conversations, used), (0, false));
}

#[tokio::test]
async fn when_a_key_is_revoked_or_unknown_the_next_request_is_unauthorized() {
    let s = setup().await;
    let (key_id, key) = secret_key(&s.app, &s.ada, &["read"]).await;
    let res = s.app.get("/api/v1/agents/conversations", Some(&key)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    // The route that revokes is workspaces-api's (tested there); its effect is this column.
    s.app
        .execute(
            "UPDATE api_keys SET revoked_at = now() WHERE id = $1",
            &[&key_id],
        )
        .await;
    let res = s.app.get("/api/v1/agents/conversations", Some(&key)).await;
    assert_error(&res, StatusCode::UNAUTHORIZED, "unauthorized");

    let forged = format!("sk_ws_{}", "A".repeat(43));
    let res = s
        .app
        .get("/api/v1/agents/conversations", Some(&forged))
        .await;
    assert_error(&res, StatusCode::UNAUTHORIZED, "unauthorized");
    let res = s
        .app
        .get("/api/v1/agents/conversations", Some("sk_ws_short"))
        .await;
    assert_error(&res, StatusCode::UNAUTHORIZED, "unauthorized");
    let res = s
        .app
        .get(
            "/api/v1/agents/conversations",
            Some(&format!("pk_ws_{}", "A".repeat(43))),
        )
        .await;
    assert_error(&res, StatusCode::FORBIDDEN, "forbidden");
}

#[tokio::test]
async fn when_a_key_names_another_workspace_it_is_not_found_like_a_stranger() {
    let mut s = setup().await;
    let (_, conv) = s.content().await;
    let eve = s.app.user("Eve").await;
    let (_, eves_key) = secret_key(&s.app, &eve, &["chat", "read"]).await;
    let (app, key) = (&s.app, &eves_key);
    let listed_in = |ws: Uuid| async move {
        let ws = ws.to_string();
        app.send_with(
            Method::GET,
            "/api/v1/agents/conversations",
            Some(key),
            None,
            &[("x-workspace-id", &ws)],
        )
        .await
    };
    let stranger = listed_in(s.ada.workspace_id).await;
    assert_error(&stranger, StatusCode::NOT_FOUND, "not_found");
    let nowhere = listed_in(Uuid::now_v7()).await;
    assert_eq!(
        stranger.body["error"]["message"], nowhere.body["error"]["message"],
        "no difference to learn from"
    );
    // In its own workspace Ada's conversation does not exist either.
    let res = s
        .app
        .get(
            &format!("/api/v1/agents/conversations/{conv}"),
            Some(&eves_key),
        )
        .await;
    assert_error(&res, StatusCode::NOT_FOUND, "not_found");
    let own = s
        .app
        .get("/api/v1/agents/conversations", Some(&eves_key))
        .await;
    assert_eq!(own.status, StatusCode::OK, "{}", own.body);
    assert!(own.items().is_empty(), "{}", own.body);
}
