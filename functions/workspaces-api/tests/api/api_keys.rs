//! API keys as an admin manages them: created (the key shown once, stored as its hash), listed without
//! the key, revoked at once, each in the workspace's audit log; members below admin, other workspaces and
//! bad input refused; a secret key on a route for people refused.

use http::{Method, StatusCode};
use serde_json::{Value, json};
use studio::Role;
use studio_testing::{TestApp, TestResponse, TestUser, assert_error};
use uuid::Uuid;

async fn app() -> TestApp {
    TestApp::new(workspaces_api::routes()).await
}

/// An audit entry as the test reads it: action, actor kind, actor user, target id, the key's prefix.
type AuditLine = (String, String, Option<Uuid>, Option<String>, Option<String>);

fn keys(ws: Uuid) -> String {
    format!("/api/v1/workspaces/{ws}/api-keys")
}

async fn create(app: &TestApp, by: &TestUser, body: Value) -> TestResponse {
    app.post(&keys(by.workspace_id), Some(&by.access_token), body)
        .await
}

fn publishable() -> Value {
    json!({"name": "Shop widget", "kind": "publishable",
           "allowedOrigins": ["https://Shop.example.com", "https://*.example.com", "http://localhost:*"]})
}

fn secret() -> Value {
    json!({"name": "Backend", "kind": "secret", "scopes": ["read", "chat"]})
}

#[tokio::test]
async fn when_an_admin_creates_keys_each_is_shown_once_and_stored_only_as_its_hash() {
    let app = app().await;
    let ada = app.user("Ada").await;

    let pk = create(&app, &ada, publishable()).await;
    assert_eq!(pk.status, StatusCode::CREATED, "{}", pk.body);
    let pk_key = pk.str("/key");
    assert!(
        pk_key.starts_with("pk_ws_") && pk_key.len() == 6 + 43,
        "{pk_key}"
    );
    assert_eq!(pk.body["kind"], "publishable");
    assert_eq!(
        pk.body["allowedOrigins"],
        json!([
            "http://localhost:*",
            "https://*.example.com",
            "https://shop.example.com"
        ]),
        "normalised and sorted"
    );
    assert_eq!(pk.body["scopes"], json!([]));
    assert_eq!(pk.str("/prefix"), pk_key[..12]);

    let sk = create(&app, &ada, secret()).await;
    assert_eq!(sk.status, StatusCode::CREATED, "{}", sk.body);
    let sk_key = sk.str("/key");
    assert!(
        sk_key.starts_with("sk_ws_") && sk_key.len() == 6 + 43,
        "{sk_key}"
    );
    assert_eq!(sk.body["scopes"], json!(["chat", "read"]));
    assert_eq!(sk.body["allowedOrigins"], json!([]));
    assert!(sk.body["lastUsedAt"].is_null() && sk.body["revokedAt"].is_null());

    for key in [&pk_key, &sk_key] {
        let hash = studio::auth::api_keys::hash(key);
        let stored: i64 = app
            .value(
                "SELECT count(*) FROM api_keys WHERE key_hash = $1",
                &[&hash],
            )
            .await;
        assert_eq!(stored, 1, "stored by its hash");
        let plain: i64 = app
            .value(
                "SELECT count(*) FROM api_keys k WHERE strpos(row_to_json(k)::text, $1) > 0",
                &[key],
            )
            .await;
        assert_eq!(plain, 0, "the key itself is stored nowhere");
    }

    let list = app
        .get(&keys(ada.workspace_id), Some(&ada.access_token))
        .await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.body);
    let items = list.items();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["id"], sk.body["id"], "newest first");
    assert_eq!(items[1]["name"], "Shop widget");
    let text = list.body.to_string();
    assert!(
        !text.contains(&pk_key) && !text.contains(&sk_key),
        "never listed: {text}"
    );
    for item in items {
        assert!(
            item.get("key").is_none() && item.get("keyHash").is_none(),
            "{item}"
        );
        for field in [
            "id",
            "prefix",
            "name",
            "kind",
            "allowedOrigins",
            "scopes",
            "createdAt",
            "lastUsedAt",
            "revokedAt",
        ] {
            assert!(item.get(field).is_some(), "{field} missing in {item}");
        }
    }
}

#[tokio::test]
async fn when_a_key_is_revoked_it_shows_revoked_and_the_audit_log_has_both_actions() {
    let app = app().await;
    let ada = app.user("Ada").await;
    let sk = create(&app, &ada, secret()).await;
    let id = sk.str("/id");
    let path = format!("{}/{id}", keys(ada.workspace_id));

    let res = app.delete(&path, Some(&ada.access_token)).await;
    assert_eq!(res.status, StatusCode::NO_CONTENT, "{}", res.body);
    let list = app
        .get(&keys(ada.workspace_id), Some(&ada.access_token))
        .await;
    assert!(list.items()[0]["revokedAt"].is_string(), "{}", list.body);
    let again = app.delete(&path, Some(&ada.access_token)).await;
    assert_eq!(
        again.status,
        StatusCode::NO_CONTENT,
        "revoking again changes nothing"
    );

    let rows = app
        .sql()
        .await
        .query(
            "SELECT action, actor_kind, actor_user_id, target_id, details->>'prefix' FROM audit_log
              WHERE workspace_id = $1 ORDER BY id",
            &[&ada.workspace_id],
        )
        .await
        .unwrap();
    let entries: Vec<AuditLine> = rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
        .collect();
    let prefix = Some(sk.str("/prefix"));
    assert_eq!(
        entries,
        [
            (
                "api_key.created".into(),
                "member".into(),
                Some(ada.id),
                Some(id.clone()),
                prefix.clone()
            ),
            (
                "api_key.revoked".into(),
                "member".into(),
                Some(ada.id),
                Some(id),
                prefix
            ),
        ],
        "one entry per action, the second revoke not audited"
    );
}

#[tokio::test]
async fn when_a_member_below_admin_manages_keys_it_is_forbidden() {
    let app = app().await;
    let ada = app.user("Ada").await;
    let bob = app.member("Bob", &ada, Role::Member).await;
    let path = keys(ada.workspace_id);
    let res = app.post(&path, Some(&bob.access_token), secret()).await;
    assert_error(&res, StatusCode::FORBIDDEN, "forbidden");
    let res = app.get(&path, Some(&bob.access_token)).await;
    assert_error(&res, StatusCode::FORBIDDEN, "forbidden");
    let count: i64 = app.value("SELECT count(*) FROM api_keys", &[]).await;
    assert_eq!(count, 0);
}

#[tokio::test]
async fn when_another_workspaces_key_is_named_it_is_not_found() {
    let app = app().await;
    let ada = app.user("Ada").await;
    let eve = app.user("Eve").await;
    let ada_key = create(&app, &ada, secret()).await.str("/id");

    let unknown = Uuid::now_v7().to_string();
    for (ws, key, by, why) in [
        (
            eve.workspace_id,
            &ada_key,
            &eve,
            "Eve's workspace has no such key",
        ),
        (
            ada.workspace_id,
            &ada_key,
            &eve,
            "Ada's workspace is not Eve's, as any she is not in",
        ),
        (
            ada.workspace_id,
            &unknown,
            &ada,
            "Ada's workspace has no such key",
        ),
    ] {
        let res = app
            .delete(&format!("{}/{key}", keys(ws)), Some(&by.access_token))
            .await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{why}");
        assert_error(&res, StatusCode::NOT_FOUND, "not_found");
    }
    let revoked: i64 = app
        .value(
            "SELECT count(*) FROM api_keys WHERE revoked_at IS NOT NULL",
            &[],
        )
        .await;
    assert_eq!(revoked, 0);
}

#[tokio::test]
async fn when_a_key_is_described_badly_the_answer_names_each_bad_field() {
    let app = app().await;
    let ada = app.user("Ada").await;
    for (body, expected) in [
        (
            json!({"name": "x", "kind": "public", "allowedOrigins": []}),
            vec!["kind"],
        ),
        (
            json!({"name": "Shop\u{0}widget", "kind": "publishable", "allowedOrigins": []}),
            vec!["name"],
        ),
        (
            json!({"name": "x", "kind": "publishable", "allowedOrigins": ["https://shop.example.com/path"]}),
            vec!["allowedOrigins"],
        ),
        (
            json!({"name": "x", "kind": "publishable", "allowedOrigins": ["*.example.com"]}),
            vec!["allowedOrigins"],
        ),
        (
            json!({"name": "x", "kind": "publishable", "allowedOrigins": ["https://*"]}),
            vec!["allowedOrigins"],
        ),
        (
            json!({"name": "x", "kind": "publishable", "allowedOrigins": ["http://shop.example.com"]}),
            vec!["allowedOrigins"],
        ),
        (
            json!({"name": "x", "kind": "publishable"}),
            vec!["allowedOrigins"],
        ),
        (
            json!({"name": "x", "kind": "publishable", "allowedOrigins": [], "scopes": ["chat"]}),
            vec!["scopes"],
        ),
        (
            json!({"name": "x", "kind": "secret", "scopes": ["chat"], "allowedOrigins": ["https://shop.example.com"]}),
            vec!["allowedOrigins"],
        ),
        (
            json!({"name": "x", "kind": "secret", "scopes": ["chat", "admin"]}),
            vec!["scopes[1]"],
        ),
        (json!({"name": "x", "kind": "secret"}), vec!["scopes"]),
        (
            json!({"name": "x", "kind": "secret", "scopes": []}),
            vec!["scopes"],
        ),
        (
            json!({"name": "", "kind": "secret", "scopes": ["read"], "extra": 1}),
            vec!["extra", "name"],
        ),
        (
            json!({"name": "a\nb", "kind": "secret", "scopes": ["read"]}),
            vec!["name"],
        ),
    ] {
        let res = create(&app, &ada, body.clone()).await;
        assert_eq!(res.invalid_fields(), expected, "{body} → {}", res.body);
    }
    let origin = create(
        &app,
        &ada,
        json!({"name": "x", "kind": "publishable", "allowedOrigins": ["https://ok.example.com", "https://shop.example.com/path"]}),
    )
    .await;
    let message = origin.body["error"]["details"][0]["message"]
        .as_str()
        .unwrap();
    assert!(
        message.contains("entry 1") && message.contains("/path"),
        "{message}"
    );
    let count: i64 = app.value("SELECT count(*) FROM api_keys", &[]).await;
    assert_eq!(count, 0, "nothing stored");
}

#[tokio::test]
async fn when_a_secret_key_calls_a_route_for_people_it_is_refused_without_a_lookup() {
    let app = app().await;
    let ada = app.user("Ada").await;
    let key = create(&app, &ada, secret()).await.str("/key");
    let ws = ada.workspace_id;
    for (method, path) in [
        (Method::GET, keys(ws)),
        (Method::GET, format!("/api/v1/workspaces/{ws}/members")),
        (Method::GET, format!("/api/v1/workspaces/{ws}/billing")),
        (Method::GET, format!("/api/v1/workspaces/{ws}")),
        (Method::GET, "/api/v1/workspaces".to_owned()),
    ] {
        let res = app.send(method.clone(), &path, Some(&key), None).await;
        assert_error(&res, StatusCode::FORBIDDEN, "person_required");
        let res = app
            .send_with(
                method,
                &path,
                Some(&key),
                None,
                &[("origin", "https://shop.example.com")],
            )
            .await;
        assert_error(&res, StatusCode::FORBIDDEN, "secret_key_in_browser");
    }
    let res = app
        .send(
            Method::PUT,
            &format!("/api/v1/workspaces/{ws}/intake"),
            Some(&key),
            Some(json!({"companyName": "Acme"})),
        )
        .await;
    assert_error(&res, StatusCode::FORBIDDEN, "person_required");
    let used: bool = app
        .value("SELECT last_used_at IS NOT NULL FROM api_keys", &[])
        .await;
    assert!(!used, "refused before any lookup");
}

#[tokio::test]
async fn when_a_workspace_has_fifty_live_keys_another_is_refused_until_one_is_revoked() {
    let app = app().await;
    let ada = app.user("Ada").await;
    let body = json!({"name": "server", "kind": "secret", "scopes": ["read"]});
    // 49 stored directly, the 50th through the route.
    for _ in 0..49 {
        studio_testing::secret_key(&app, &ada, &["read"]).await;
    }
    let fiftieth = create(&app, &ada, body.clone()).await;
    assert_eq!(fiftieth.status, StatusCode::CREATED, "{}", fiftieth.body);
    let over = create(&app, &ada, body.clone()).await;
    assert_error(&over, StatusCode::CONFLICT, "conflict");
    assert!(
        over.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("revoke")
    );
    let live: i64 = app
        .value(
            "SELECT count(*) FROM api_keys WHERE workspace_id = $1 AND revoked_at IS NULL",
            &[&ada.workspace_id],
        )
        .await;
    assert_eq!(live, 50);
    let id = fiftieth.str("/id");
    let revoked = app
        .delete(
            &format!("/api/v1/workspaces/{}/api-keys/{id}", ada.workspace_id),
            Some(&ada.access_token),
        )
        .await;
    assert_eq!(revoked.status, StatusCode::NO_CONTENT, "{}", revoked.body);
    assert_eq!(create(&app, &ada, body).await.status, StatusCode::CREATED);
}
