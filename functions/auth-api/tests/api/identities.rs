//! Members signed in by external identity providers (Clerk, any OIDC provider), and
//! `/api/v1/auth/identities`: tokens signed by keys the test makes, verified against a JWKS served by a
//! local server, against a real PostgreSQL.

use http::StatusCode;
use serde_json::{Value, json};
use studio_testing::oidc::{TestKey, TestProvider, hs256_token, unsigned_token};
use studio_testing::{TEST_PASSWORD, TestApp, TestDb, assert_error, state_with};

const ORIGIN: &str = "https://app.example.com";
const AUDIENCE: &str = "studio-api";

/// The app trusting `clerk` (as Clerk: no audience, `azp` checked) and, when given, `oidc` (a generic
/// provider whose keys are found through its OpenID configuration, audience `studio-api`).
async fn app_trusting(clerk: &TestProvider, oidc: Option<&TestProvider>) -> TestApp {
    let mut issuers = vec![json!({"issuer": clerk.issuer, "provider": "clerk"})];
    if let Some(oidc) = oidc {
        issuers.push(json!({"issuer": oidc.issuer, "audience": AUDIENCE}));
    }
    let db = TestDb::new().await;
    let state = state_with(
        &db.url,
        &[
            ("AUTH_OIDC_ISSUERS", &Value::Array(issuers).to_string()),
            ("CORS_ALLOWED_ORIGINS", ORIGIN),
        ],
    );
    TestApp::with_state(auth_api::routes(), state, db.url)
}

async fn me(app: &TestApp, token: &str) -> studio_testing::TestResponse {
    app.get("/api/v1/auth/me", Some(token)).await
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    app.sql().await.query_one(sql, &[]).await.unwrap().get(0)
}

#[tokio::test]
async fn when_a_clerk_token_signs_in_the_first_time_an_account_and_workspace_are_provisioned_once()
{
    let key = TestKey::rsa("clerk-1");
    let clerk = TestProvider::start(&[&key]).await;
    let app = app_trusting(&clerk, None).await;
    // Clerk's default session token: no email, `azp` the page's origin.
    let mut claims = clerk.claims("user_2abc");
    claims["azp"] = json!(ORIGIN);
    claims["sid"] = json!("sess_1");
    let token = clerk.sign(&key, &claims);

    let first = me(&app, &token).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    assert_eq!(first.body["user"]["email"], Value::Null, "no email claim");
    assert_eq!(first.body["workspaces"][0]["role"], "owner");
    let user = first.str("/user/id");
    assert_eq!(
        first.body["defaultWorkspaceId"],
        first.body["workspaces"][0]["id"]
    );

    // The same subject again (and a fresh token of it): the same account, nothing provisioned again,
    // and the keys were read once for all of it.
    for _ in 0..3 {
        let again = me(&app, &clerk.sign(&key, &claims)).await;
        assert_eq!(again.status, StatusCode::OK);
        assert_eq!(again.str("/user/id"), user);
    }
    assert_eq!(count(&app, "SELECT count(*) FROM users").await, 1);
    assert_eq!(count(&app, "SELECT count(*) FROM workspaces").await, 1);
    assert_eq!(clerk.key_reads().await, 1, "one read in the steady state");
    let row = app
        .sql()
        .await
        .query_one(
            "SELECT issuer, subject, u.password_hash IS NULL FROM user_identities i JOIN users u ON u.id = i.user_id",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), clerk.issuer);
    assert_eq!(row.get::<_, String>(1), "user_2abc");
    assert!(row.get::<_, bool>(2), "no password: they sign in at Clerk");
    // The provisioning is in the platform's audit log.
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM audit_log WHERE action = 'user.provisioned'"
        )
        .await,
        1
    );
}

#[tokio::test]
async fn when_a_generic_provider_signs_with_es256_or_eddsa_its_keys_are_discovered_and_the_audience_checked()
 {
    let clerk_key = TestKey::rsa("c");
    let clerk = TestProvider::start(&[&clerk_key]).await;
    let ec = TestKey::es256("ec-1");
    let ed = TestKey::ed25519("ed-1");
    let oidc = TestProvider::start(&[&ec, &ed]).await;
    let app = app_trusting(&clerk, Some(&oidc)).await;

    let mut claims = oidc.claims("auth0|42");
    claims["aud"] = json!([AUDIENCE, "https://example.eu.auth0.com/userinfo"]);
    claims["email"] = json!("Grace@Example.com");
    claims["email_verified"] = json!(true);
    claims["name"] = json!("Grace Hopper");
    let res = me(&app, &oidc.sign(&ec, &claims)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(res.body["user"]["email"], "grace@example.com", "verified");
    assert_eq!(res.body["user"]["name"], "Grace Hopper");
    let res = me(&app, &oidc.sign(&ed, &claims)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(oidc.key_reads().await, 1);

    // Another audience (a token the provider issued to another application) is refused.
    claims["aud"] = json!("another-app");
    let res = me(&app, &oidc.sign(&ec, &claims)).await;
    assert_error(&res, StatusCode::UNAUTHORIZED, "unauthorized");
    assert!(
        res.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("aud")
    );
    // No audience at all: refused too.
    claims.as_object_mut().unwrap().remove("aud");
    let res = me(&app, &oidc.sign(&ec, &claims)).await;
    assert_error(&res, StatusCode::UNAUTHORIZED, "unauthorized");
}

#[tokio::test]
async fn when_a_token_is_forged_expired_or_misaddressed_it_is_refused_and_nothing_is_provisioned() {
    let key = TestKey::rsa("k1");
    let clerk = TestProvider::start(&[&key]).await;
    let app = app_trusting(&clerk, None).await;
    let now = jsonwebtoken::get_current_timestamp();
    let good = clerk.claims("user_x");

    let mut expired = good.clone();
    expired["exp"] = json!(now - 120);
    let res = me(&app, &clerk.sign(&key, &expired)).await;
    assert_error(&res, StatusCode::UNAUTHORIZED, "token_expired");
    // Within the leeway (30 s) a just-expired token still passes: clocks differ.
    let mut just = good.clone();
    just["exp"] = json!(now - 5);
    assert_eq!(
        me(&app, &clerk.sign(&key, &just)).await.status,
        StatusCode::OK
    );
    app.sql()
        .await
        .batch_execute("DELETE FROM user_identities; DELETE FROM workspace_members; DELETE FROM workspaces; DELETE FROM audit_log; DELETE FROM outbox; DELETE FROM users")
        .await
        .unwrap();

    let mut early = good.clone();
    early["nbf"] = json!(now + 600);
    let res = me(&app, &clerk.sign(&key, &early)).await;
    assert_error(&res, StatusCode::UNAUTHORIZED, "unauthorized");
    assert!(
        res.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("nbf")
    );

    let mut no_exp = good.clone();
    no_exp.as_object_mut().unwrap().remove("exp");
    assert_error(
        &me(&app, &clerk.sign(&key, &no_exp)).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    );

    // Another issuer signing with a key of its own, and claiming ours: neither passes.
    let stranger_key = TestKey::rsa("k1");
    let stranger = TestProvider::start(&[&stranger_key]).await;
    assert_error(
        &me(
            &app,
            &stranger.sign(&stranger_key, &stranger.claims("user_x")),
        )
        .await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    );
    assert_error(
        &me(&app, &stranger.sign(&stranger_key, &good)).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    );

    // `alg: none`, and HS256 "signed" with the provider's public key (key confusion).
    let res = me(&app, &unsigned_token("k1", &good)).await;
    assert_error(&res, StatusCode::UNAUTHORIZED, "unauthorized");
    let res = me(&app, &hs256_token("k1", key.public_pem.as_bytes(), &good)).await;
    assert_error(&res, StatusCode::UNAUTHORIZED, "unauthorized");
    assert!(
        res.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("HS256"),
        "{}",
        res.body
    );

    // No kid.
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = None;
    let no_kid = jsonwebtoken::encode(&header, &good, &key.encoding).unwrap();
    let res = me(&app, &no_kid).await;
    assert_error(&res, StatusCode::UNAUTHORIZED, "unauthorized");
    assert!(
        res.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("kid")
    );

    // A Clerk token issued to a page of another origin.
    let mut foreign = good.clone();
    foreign["azp"] = json!("https://evil.example");
    let res = me(&app, &clerk.sign(&key, &foreign)).await;
    assert_error(&res, StatusCode::UNAUTHORIZED, "unauthorized");
    assert!(
        res.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("azp")
    );

    assert_eq!(count(&app, "SELECT count(*) FROM users").await, 0);
}

#[tokio::test]
async fn when_keys_rotate_the_new_key_is_read_once_and_a_removed_key_stops_verifying() {
    let old = TestKey::es256("old");
    let clerk = TestProvider::start(&[&old]).await;
    let app = app_trusting(&clerk, None).await;
    let claims = clerk.claims("user_rot");
    assert_eq!(
        me(&app, &clerk.sign(&old, &claims)).await.status,
        StatusCode::OK
    );

    // The provider rotates: `new` published, `old` withdrawn. Twenty concurrent requests with the new
    // key: one read of the key set, not twenty.
    let new = TestKey::es256("new");
    clerk.publish(&[&new]).await;
    let token = clerk.sign(&new, &claims);
    let answers = futures::future::join_all((0..20).map(|_| me(&app, &token))).await;
    assert!(
        answers.iter().all(|r| r.status == StatusCode::OK),
        "{answers:?}"
    );
    assert_eq!(clerk.key_reads().await, 1, "one read for the rotation");
    // Further requests: no read.
    assert_eq!(me(&app, &token).await.status, StatusCode::OK);
    assert_eq!(clerk.key_reads().await, 1);

    // The withdrawn key no longer verifies (the read replaced the set).
    let res = me(&app, &clerk.sign(&old, &claims)).await;
    assert_error(&res, StatusCode::UNAUTHORIZED, "unauthorized");
    assert!(
        res.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("old")
    );

    // An unknown kid within the minute after that read: refused without reading again (a flood of
    // random kids cannot make every request fetch the keys).
    let stray = TestKey::es256("stray");
    for _ in 0..5 {
        let res = me(&app, &clerk.sign(&stray, &claims)).await;
        assert_error(&res, StatusCode::UNAUTHORIZED, "unauthorized");
    }
    assert_eq!(clerk.key_reads().await, 1, "at most one read a minute");
}

#[tokio::test]
async fn when_the_provider_is_down_at_first_use_the_answer_is_503_and_later_its_cached_keys_serve()
{
    let key = TestKey::ed25519("k");
    let clerk = TestProvider::start(&[&key]).await;
    clerk.go_down().await;
    let app = app_trusting(&clerk, None).await;
    let token = clerk.sign(&key, &clerk.claims("user_down"));
    let res = me(&app, &token).await;
    assert_error(&res, StatusCode::SERVICE_UNAVAILABLE, "service_unavailable");
    assert!(res.headers.contains_key("retry-after"));
    // Moments later the provider is not asked again: the same 503, no second read.
    let res = me(&app, &token).await;
    assert_error(&res, StatusCode::SERVICE_UNAVAILABLE, "service_unavailable");
    assert_eq!(clerk.key_reads().await, 1);
    assert_eq!(count(&app, "SELECT count(*) FROM users").await, 0);

    // In a container that read the keys, an outage does not lock members out: a new kid fails to
    // read (refused as unknown, not a 503), and the cached key keeps verifying.
    clerk.publish(&[&key]).await;
    let app = app_trusting(&clerk, None).await;
    assert_eq!(me(&app, &token).await.status, StatusCode::OK);
    clerk.go_down().await;
    let other = TestKey::ed25519("other");
    let res = me(&app, &clerk.sign(&other, &clerk.claims("user_down"))).await;
    assert_error(&res, StatusCode::UNAUTHORIZED, "unauthorized");
    assert_eq!(clerk.key_reads().await, 1, "the new kid made one read");
    assert_eq!(me(&app, &token).await.status, StatusCode::OK);
}

#[tokio::test]
async fn when_a_verified_email_belongs_to_an_account_it_is_never_taken_over_and_the_owner_links_instead()
 {
    let key = TestKey::rsa("k");
    let oidc = TestProvider::start(&[&key]).await;
    let clerk_key = TestKey::rsa("c");
    let clerk = TestProvider::start(&[&clerk_key]).await;
    let app = app_trusting(&clerk, Some(&oidc)).await;
    let owner = app.user("Owner").await;

    let mut claims = oidc.claims("google-1");
    claims["aud"] = json!(AUDIENCE);
    claims["email"] = json!(owner.email.to_uppercase());
    // Unverified: the email is ignored; the account provisioned has none (no takeover, no clash).
    claims["email_verified"] = json!(false);
    let res = me(&app, &oidc.sign(&key, &claims)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_ne!(res.str("/user/id"), owner.id.to_string());
    assert_eq!(res.body["user"]["email"], Value::Null);

    // Verified, for another subject: refused with what to do; nothing provisioned.
    let users = count(&app, "SELECT count(*) FROM users").await;
    let mut verified = oidc.claims("google-2");
    verified["aud"] = json!(AUDIENCE);
    verified["email"] = json!(owner.email);
    verified["email_verified"] = json!("true");
    let token = oidc.sign(&key, &verified);
    let res = me(&app, &token).await;
    assert_error(&res, StatusCode::CONFLICT, "email_taken");
    assert!(
        res.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("/api/v1/auth/identities")
    );
    assert_eq!(count(&app, "SELECT count(*) FROM users").await, users);

    // The owner, signed in with the password, links the identity; from then on the token is theirs.
    let linked = app
        .post(
            "/api/v1/auth/identities",
            Some(&owner.access_token),
            json!({"token": token}),
        )
        .await;
    assert_eq!(linked.status, StatusCode::CREATED, "{}", linked.body);
    assert_eq!(linked.body["issuer"], oidc.issuer.as_str());
    assert_eq!(linked.body["subject"], "google-2");
    let res = me(&app, &token).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(res.str("/user/id"), owner.id.to_string());
    assert_eq!(
        res.body["workspaces"][0]["id"],
        owner.workspace_id.to_string()
    );
    // Linking it again: 200, the same identity.
    let again = app
        .post(
            "/api/v1/auth/identities",
            Some(&owner.access_token),
            json!({"token": token}),
        )
        .await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.body["id"], linked.body["id"]);
    let listed = app
        .get("/api/v1/auth/identities", Some(&owner.access_token))
        .await;
    assert_eq!(listed.status, StatusCode::OK);
    assert_eq!(listed.items().len(), 1);

    // Another account cannot link it.
    let other = app.user("Other").await;
    let res = app
        .post(
            "/api/v1/auth/identities",
            Some(&other.access_token),
            json!({"token": token}),
        )
        .await;
    assert_error(&res, StatusCode::CONFLICT, "conflict");
    // A token that is not a provider's, or a bad one, is a 400 about the body, not a 401 about the
    // caller.
    for bad in [other.access_token.clone(), "x.y.z".into()] {
        let res = app
            .post(
                "/api/v1/auth/identities",
                Some(&owner.access_token),
                json!({"token": bad}),
            )
            .await;
        assert_error(&res, StatusCode::BAD_REQUEST, "invalid_token");
    }
    let mut expired = verified.clone();
    expired["exp"] = json!(jsonwebtoken::get_current_timestamp() - 3600);
    let res = app
        .post(
            "/api/v1/auth/identities",
            Some(&owner.access_token),
            json!({"token": oidc.sign(&key, &expired)}),
        )
        .await;
    assert_error(&res, StatusCode::BAD_REQUEST, "invalid_token");

    // The owner still has the password: the identity can be removed; the token then provisions
    // nothing (the address is the owner's) and is refused.
    let id = linked.str("/id");
    let res = app
        .delete(
            &format!("/api/v1/auth/identities/{id}"),
            Some(&owner.access_token),
        )
        .await;
    assert_eq!(res.status, StatusCode::NO_CONTENT, "{}", res.body);
    assert_error(&me(&app, &token).await, StatusCode::CONFLICT, "email_taken");
    // Someone else's identity id: not found.
    let res = app
        .delete(
            &format!("/api/v1/auth/identities/{id}"),
            Some(&other.access_token),
        )
        .await;
    assert_error(&res, StatusCode::NOT_FOUND, "not_found");
    // An id that is not a UUID: a 400 in the JSON error body (the fuzzer's `null,null` too).
    let res = app
        .delete(
            "/api/v1/auth/identities/not-a-uuid",
            Some(&owner.access_token),
        )
        .await;
    assert_error(&res, StatusCode::BAD_REQUEST, "validation_failed");
    let res = app
        .delete(
            "/api/v1/auth/identities/null,null",
            Some(&owner.access_token),
        )
        .await;
    assert_error(&res, StatusCode::BAD_REQUEST, "validation_failed");
    // And the password still works.
    let res = crate::support::login(&app, &owner.email, TEST_PASSWORD).await;
    assert_eq!(res.status, StatusCode::OK);
}

#[tokio::test]
async fn when_an_account_has_only_one_identity_it_cannot_be_removed_and_a_password_login_is_refused()
 {
    let key = TestKey::rsa("k");
    let clerk = TestProvider::start(&[&key]).await;
    let app = app_trusting(&clerk, None).await;
    let mut claims = clerk.claims("user_only");
    claims["email"] = json!("only@example.com");
    claims["email_verified"] = json!(true);
    let token = clerk.sign(&key, &claims);
    let res = me(&app, &token).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(res.body["user"]["email"], "only@example.com");

    let listed = app.get("/api/v1/auth/identities", Some(&token)).await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    let id = listed.items()[0]["id"].as_str().unwrap().to_owned();
    let res = app
        .delete(&format!("/api/v1/auth/identities/{id}"), Some(&token))
        .await;
    assert_error(&res, StatusCode::CONFLICT, "conflict");
    // No password: logging in with one fails like any wrong password.
    let res = crate::support::login(&app, "only@example.com", "anything at all").await;
    assert_error(&res, StatusCode::UNAUTHORIZED, "invalid_credentials");
}

#[tokio::test]
async fn when_no_provider_is_configured_a_provider_token_is_just_an_invalid_token() {
    let key = TestKey::rsa("k");
    let clerk = TestProvider::start(&[&key]).await;
    let app = TestApp::new(auth_api::routes()).await;
    let res = me(&app, &clerk.sign(&key, &clerk.claims("user_1"))).await;
    assert_error(&res, StatusCode::UNAUTHORIZED, "unauthorized");
    let user = app.user("Solo").await;
    let res = app
        .post(
            "/api/v1/auth/identities",
            Some(&user.access_token),
            json!({"token": clerk.sign(&key, &clerk.claims("user_1"))}),
        )
        .await;
    assert_error(&res, StatusCode::BAD_REQUEST, "invalid_token");
    assert_eq!(clerk.key_reads().await, 0);
}
