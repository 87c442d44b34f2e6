//! `DELETE /api/v1/auth/me`: an account erased at its owner's request, against a real PostgreSQL —
//! checked by searching every table of the database for the account's email and name.

use crate::support::{login, refresh};
use http::{Method, StatusCode};
use serde_json::{Value, json};
use studio_testing::oidc::{TestKey, TestProvider};
use studio_testing::{TEST_PASSWORD, TestApp, TestDb, TestResponse, assert_error, state_with};
use uuid::Uuid;

const ME: &str = "/api/v1/auth/me";

async fn erase(app: &TestApp, token: &str, body: Value) -> TestResponse {
    app.send(Method::DELETE, ME, Some(token), Some(body)).await
}

/// The tables (with the number of rows) in which `needle` appears anywhere in a row, case-insensitively.
async fn tables_holding(app: &TestApp, needle: &str) -> Vec<(String, i64)> {
    let sql = app.sql().await;
    let tables: Vec<String> = sql
        .query(
            "SELECT tablename::text FROM pg_tables WHERE schemaname = 'public' ORDER BY 1",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(tables.len() > 20, "every table of the schema: {tables:?}");
    let mut found = Vec::new();
    for table in tables {
        let n: i64 = sql
            .query_one(
                &format!(
                    "SELECT count(*) FROM \"{table}\" t WHERE strpos(lower(t::text), lower($1)) > 0"
                ),
                &[&needle],
            )
            .await
            .unwrap()
            .get(0);
        if n > 0 {
            found.push((table, n));
        }
    }
    found
}

fn near(v: &Value, expected: chrono::DateTime<chrono::Utc>) -> bool {
    let at = chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap_or_default())
        .unwrap_or_else(|e| panic!("{v} is not a time: {e}"));
    (at.to_utc() - expected).num_seconds().abs() < 60
}

#[tokio::test]
async fn when_an_account_is_erased_no_table_holds_its_email_or_name_and_its_sessions_end() {
    let app = TestApp::new(auth_api::routes()).await;
    let tag = Uuid::new_v4().simple().to_string();
    let name = format!("Zebulon Quillfeather {}", &tag[..8]);
    let email = format!("zebulon.{tag}@example.com");
    let registered = app
        .post(
            "/api/v1/auth/register",
            None,
            json!({"email": email, "password": TEST_PASSWORD, "name": name}),
        )
        .await;
    assert_eq!(
        registered.status,
        StatusCode::CREATED,
        "{}",
        registered.body
    );
    let zeb = Uuid::parse_str(&registered.str("/user/id")).unwrap();
    let own_workspace = registered.str("/workspace/id");
    let access = registered.str("/accessToken");
    let refresh_token = registered.str("/refreshToken");

    // Zebulon also works in Bob's workspace: a conversation with the agent, a reply to a visitor, a
    // recorded idempotent request; a reset link was mailed, and Carol invited the address.
    let bob = app.user("Bob").await;
    let carol = app.user("Carol").await;
    app.add_member(bob.workspace_id, zeb, studio::Role::Member)
        .await;
    let conversation = Uuid::now_v7();
    app.execute(
        "INSERT INTO conversations (id, workspace_id, user_id, title) VALUES ($1, $2, $3, 'Refund question')",
        &[&conversation, &bob.workspace_id, &zeb],
    )
    .await;
    app.execute(
        "INSERT INTO messages (id, workspace_id, conversation_id, role, content, author_user_id)
         VALUES ($1, $2, $3, 'user', 'How do refunds work?', NULL),
                ($4, $2, $3, 'human', 'Refunds take five days.', $5)",
        &[
            &Uuid::now_v7(),
            &bob.workspace_id,
            &conversation,
            &Uuid::now_v7(),
            &zeb,
        ],
    )
    .await;
    app.execute(
        "INSERT INTO idempotency_keys (workspace_id, scope, key, request_hash, status_code, response, user_id)
         VALUES ($1, 'POST /api/v1/agents/customer-service/run', 'k-1', '\\x00', 200, '{}', $2)",
        &[&bob.workspace_id, &zeb],
    )
    .await;
    let forgot = app
        .post(
            "/api/v1/auth/password/forgot",
            None,
            json!({"email": email}),
        )
        .await;
    assert_eq!(forgot.status, StatusCode::ACCEPTED, "{}", forgot.body);
    app.execute(
        "INSERT INTO invitations (id, workspace_id, email, role, token_hash, invited_by, expires_at)
         VALUES ($1, $2, $3::text::citext, 'member', $4, $5, now() + interval '7 days')",
        &[
            &Uuid::now_v7(),
            &carol.workspace_id,
            &email,
            &format!("hash-{tag}").into_bytes(),
            &carol.id,
        ],
    )
    .await;
    // Before: the address and the name are in the database (the search finds what it looks for).
    let before = tables_holding(&app, &email).await;
    for table in ["users", "outbox", "invitations"] {
        assert!(
            before.iter().any(|(t, _)| t == table),
            "{table} holds the address before: {before:?}"
        );
    }
    assert!(!tables_holding(&app, &name).await.is_empty());

    // Neither proof, both, or a wrong password: refused, nothing changed.
    assert_error(
        &erase(&app, &access, json!({})).await,
        StatusCode::BAD_REQUEST,
        "validation_failed",
    );
    assert_error(
        &erase(
            &app,
            &access,
            json!({"password": TEST_PASSWORD, "token": "x"}),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "validation_failed",
    );
    assert_error(
        &erase(&app, &access, json!({"password": "not-the-password"})).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    // A NUL is refused by field, before any check.
    for (field, body) in [
        ("password", json!({"password": "not\0it"})),
        ("token", json!({"token": "a\0b"})),
    ] {
        let res = erase(&app, &access, body).await;
        assert_error(&res, StatusCode::BAD_REQUEST, "validation_failed");
        assert_eq!(res.invalid_fields(), [field]);
    }
    assert_error(
        &app.send(
            Method::DELETE,
            ME,
            None,
            Some(json!({"password": TEST_PASSWORD})),
        )
        .await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    );
    assert_eq!(app.get(ME, Some(&access)).await.status, StatusCode::OK);

    let erased = erase(&app, &access, json!({"password": TEST_PASSWORD})).await;
    assert_eq!(erased.status, StatusCode::OK, "{}", erased.body);
    let now = chrono::Utc::now();
    let retention = chrono::Duration::days(30);
    assert!(near(&erased.body["erasedAt"], now), "{}", erased.body);
    assert!(near(&erased.body["addressReleasedAt"], now + retention));
    // The first workspace had no one else: deleted, purged in 30 days. Bob's is left to Bob.
    let deleted = erased.body["workspacesDeleted"].as_array().unwrap();
    assert_eq!(deleted.len(), 1, "{}", erased.body);
    assert_eq!(deleted[0]["id"], own_workspace);
    assert!(near(&deleted[0]["purgeAt"], now + retention));
    assert_eq!(erased.body["workspacesLeft"], 1);

    // No table holds the email or the name any more: not the account, the outbox, the invitation,
    // the first workspace's name ("Zebulon …'s workspace"), nor the audit entry.
    assert_eq!(tables_holding(&app, &email).await, vec![]);
    assert_eq!(tables_holding(&app, &name).await, vec![]);
    assert_eq!(
        tables_holding(&app, &name[..8]).await,
        vec![],
        "not even the first name"
    );

    // The sessions are over: the access token, the refresh token, the password.
    assert_error(
        &app.get(ME, Some(&access)).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    );
    assert_eq!(
        refresh(&app, &refresh_token).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_error(
        &login(&app, &email, TEST_PASSWORD).await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    );
    // Erasing again (a replayed request) finds no account.
    assert_error(
        &erase(&app, &access, json!({"password": TEST_PASSWORD})).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    );

    // What Zebulon wrote stays in Bob's workspace, without its author; nothing references the account
    // but its tombstone and the audit entry of the erasure.
    let kept: i64 = app
        .value(
            "SELECT count(*) FROM messages WHERE conversation_id = $1 AND author_user_id IS NULL",
            &[&conversation],
        )
        .await;
    assert_eq!(kept, 2);
    let authored: i64 = app
        .value(
            "SELECT count(*) FROM conversations WHERE id = $1 AND user_id IS NULL",
            &[&conversation],
        )
        .await;
    assert_eq!(authored, 1);
    for (table, column, _) in studio::repo::erasure::REFERENCES {
        let n: i64 = app
            .value(
                &format!("SELECT count(*) FROM {table} WHERE {column} = $1"),
                &[&zeb],
            )
            .await;
        let expected = i64::from(table == "audit_log");
        assert_eq!(n, expected, "{table}.{column} still references the account");
    }
    let audit: Value = app
        .value(
            "SELECT jsonb_build_object('action', action, 'target', target_id, 'details', details)
               FROM audit_log WHERE actor_user_id = $1",
            &[&zeb],
        )
        .await;
    assert_eq!(audit["action"], "user.erased");
    assert_eq!(audit["target"], zeb.to_string());
    assert_eq!(audit["details"]["workspacesLeft"], 1);
    let bob_members: i64 = app
        .value(
            "SELECT count(*) FROM workspace_members WHERE workspace_id = $1",
            &[&bob.workspace_id],
        )
        .await;
    assert_eq!(bob_members, 1, "Bob keeps his workspace");

    // The address stays reserved until the purge, then it can be registered again.
    let again = json!({"email": email, "password": TEST_PASSWORD, "name": "Someone"});
    let taken = app.post("/api/v1/auth/register", None, again.clone()).await;
    assert_error(&taken, StatusCode::CONFLICT, "email_taken");
    assert!(
        taken.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("erased"),
        "{}",
        taken.body
    );
    app.execute(
        "UPDATE users SET deleted_at = now() - interval '31 days' WHERE id = $1",
        &[&zeb],
    )
    .await;
    let purged = studio::repo::maintenance::delete_expired_users(&app.sql().await, 30)
        .await
        .unwrap();
    assert_eq!(purged, 1);
    let registered = app.post("/api/v1/auth/register", None, again).await;
    assert_eq!(
        registered.status,
        StatusCode::CREATED,
        "{}",
        registered.body
    );
    assert_ne!(registered.str("/user/id"), zeb.to_string());
}

#[tokio::test]
async fn when_the_account_is_the_only_owner_of_a_shared_workspace_erasure_is_refused_with_the_list()
{
    let app = TestApp::new(auth_api::routes()).await;
    let ada = app.user("Ada").await;
    let bob = app.member("Bob", &ada, studio::Role::Admin).await;

    let refused = erase(&app, &ada.access_token, json!({"password": TEST_PASSWORD})).await;
    assert_error(&refused, StatusCode::CONFLICT, "conflict");
    let listed = refused.body["error"]["details"]["workspaces"]
        .as_array()
        .unwrap();
    assert_eq!(listed.len(), 1, "{}", refused.body);
    assert_eq!(listed[0]["id"], ada.workspace_id.to_string());
    assert_eq!(listed[0]["members"], 2);
    // Nothing changed.
    assert_eq!(
        app.get(ME, Some(&ada.access_token)).await.status,
        StatusCode::OK
    );
    let members: i64 = app
        .value(
            "SELECT count(*) FROM workspace_members WHERE workspace_id = $1",
            &[&ada.workspace_id],
        )
        .await;
    assert_eq!(members, 2);

    // Once Bob owns it too, Ada can go: the workspace stays Bob's.
    app.execute(
        "UPDATE workspace_members SET role = 'owner' WHERE workspace_id = $1 AND user_id = $2",
        &[&ada.workspace_id, &bob.id],
    )
    .await;
    let erased = erase(&app, &ada.access_token, json!({"password": TEST_PASSWORD})).await;
    assert_eq!(erased.status, StatusCode::OK, "{}", erased.body);
    assert_eq!(erased.body["workspacesDeleted"], json!([]));
    assert_eq!(erased.body["workspacesLeft"], 1);
    let ws = app.get("/api/v1/auth/me", Some(&bob.access_token)).await;
    assert_eq!(ws.status, StatusCode::OK);
    assert!(
        ws.body["workspaces"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w["id"] == ada.workspace_id.to_string() && w["role"] == "owner"),
        "{}",
        ws.body
    );
}

#[tokio::test]
async fn an_account_signed_in_by_a_provider_is_erased_with_a_fresh_token_of_its_own_identity() {
    let key = TestKey::rsa("clerk-1");
    let clerk = TestProvider::start(&[&key]).await;
    let origin = "https://app.example.com";
    let db = TestDb::new().await;
    let issuers = json!([{"issuer": clerk.issuer, "provider": "clerk"}]).to_string();
    let state = state_with(
        &db.url,
        &[
            ("AUTH_OIDC_ISSUERS", &issuers),
            ("CORS_ALLOWED_ORIGINS", origin),
        ],
    );
    let app = TestApp::with_state(auth_api::routes(), state, db.url);
    let token_of = |sub: &str, issued_ago: u64| {
        let mut claims = clerk.claims(sub);
        let now = jsonwebtoken::get_current_timestamp();
        claims["iat"] = json!(now - issued_ago);
        claims["nbf"] = json!(now - issued_ago);
        claims["azp"] = json!(origin);
        clerk.sign(&key, &claims)
    };
    let session = token_of("user_erase", 0);
    let me = app.get(ME, Some(&session)).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.body);
    let user = me.str("/user/id");
    // Another provider account, provisioned too: its token is no proof for this one.
    assert_eq!(
        app.get(ME, Some(&token_of("user_other", 0))).await.status,
        StatusCode::OK
    );

    assert_error(
        &erase(&app, &session, json!({"password": TEST_PASSWORD})).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    assert_error(
        &erase(&app, &session, json!({"token": token_of("user_other", 0)})).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    // Valid still (a token may live an hour), but issued 20 minutes ago: not fresh enough.
    let mut stale = clerk.claims("user_erase");
    let now = jsonwebtoken::get_current_timestamp();
    stale["iat"] = json!(now - 20 * 60);
    stale["exp"] = json!(now + 3600);
    stale["azp"] = json!(origin);
    let stale = clerk.sign(&key, &stale);
    let refused = erase(&app, &session, json!({"token": stale})).await;
    assert_error(&refused, StatusCode::BAD_REQUEST, "invalid_token");
    assert_error(
        &erase(&app, &session, json!({"token": "not.a.token"})).await,
        StatusCode::BAD_REQUEST,
        "invalid_token",
    );
    assert_eq!(app.get(ME, Some(&session)).await.status, StatusCode::OK);

    let erased = erase(&app, &session, json!({"token": token_of("user_erase", 0)})).await;
    assert_eq!(erased.status, StatusCode::OK, "{}", erased.body);
    assert_eq!(erased.body["addressReleasedAt"], Value::Null, "no address");
    assert_eq!(
        erased.body["workspacesDeleted"].as_array().unwrap().len(),
        1
    );
    let identities: i64 = app
        .value(
            "SELECT count(*) FROM user_identities WHERE subject = 'user_erase'",
            &[],
        )
        .await;
    assert_eq!(identities, 0, "the link to the provider's account is gone");
    // The provider's account is not ours to erase: its next token starts a new, empty account.
    let next = app.get(ME, Some(&token_of("user_erase", 0))).await;
    assert_eq!(next.status, StatusCode::OK, "{}", next.body);
    assert_ne!(next.str("/user/id"), user);
}

#[tokio::test]
async fn when_passwords_are_guessed_through_erasure_the_credential_budget_stops_them() {
    // Five credential attempts a minute per IP; the account's own routes keep their larger budget.
    let db = TestDb::new().await;
    let state = state_with(&db.url, &[("RATE_LIMIT_AUTH_PER_MINUTE", "5")]);
    let app = TestApp::with_state(auth_api::routes(), state, db.url);
    let ada = app.user("Ada").await;
    let mut statuses = Vec::new();
    for i in 0..10 {
        let res = erase(
            &app,
            &ada.access_token,
            json!({"password": format!("guess-{i}")}),
        )
        .await;
        statuses.push(res.status);
        if res.status == StatusCode::TOO_MANY_REQUESTS {
            assert_error(&res, StatusCode::TOO_MANY_REQUESTS, "rate_limited");
            assert!(res.headers.contains_key("retry-after"));
            break;
        }
        assert_error(&res, StatusCode::FORBIDDEN, "forbidden");
    }
    assert_eq!(
        statuses.len(),
        6,
        "five guesses, then the per-IP credential budget: {statuses:?}"
    );
    assert_eq!(statuses.last(), Some(&StatusCode::TOO_MANY_REQUESTS));
    // The account is intact, and reading it is on the account's own budget.
    assert_eq!(
        app.get(ME, Some(&ada.access_token)).await.status,
        StatusCode::OK
    );
}
