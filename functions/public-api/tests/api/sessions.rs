//! `POST /api/v1/public/sessions`: a publishable key from an allowed origin opens a visitor session —
//! deny by default, exact origins and one wildcard label only; a revoked key ends its sessions at once;
//! a visitor id alone opens nothing; signed identity verified, expiring, required where the workspace
//! says so; each credential opens only its own side of the API.

use crate::support::*;
use http::{Method, StatusCode};
use serde_json::json;
use studio_testing::{assert_error, secret_key};

#[tokio::test]
async fn when_a_page_on_an_allowed_origin_opens_a_session_it_gets_its_tokens_and_the_agent() {
    let p = setup().await;
    let res = open(&p.app, &p.key, Some(SHOP), json!({})).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    assert_eq!(res.headers["access-control-allow-origin"], SHOP);
    assert!(res.str("/sessionToken").starts_with("vs_"));
    let visitor_token = res.str("/visitorToken");
    assert!(visitor_token.starts_with("vt_") && visitor_token.len() == 46);
    assert_eq!(res.body["agent"]["name"], "Acme");
    assert_eq!(res.body["agent"]["greeting"], "Hi! How can we help?");
    assert_eq!(res.body["agent"]["requireIdentity"], false);
    assert!(res.str("/streamUrl").ends_with("/api/v1/public/stream"));
    let expires = chrono::DateTime::parse_from_rfc3339(&res.str("/expiresAt")).expect("a time");
    let left = expires.signed_duration_since(chrono::Utc::now());
    assert!(left <= chrono::Duration::hours(1) && left > chrono::Duration::minutes(59));

    // Only hashes are stored: of the visitor token and of the session token.
    let stored: i64 = p
        .app
        .value(
            "SELECT count(*) FROM visitors WHERE token_hash = sha256(convert_to($1, 'UTF8')) AND id = $2::text::uuid",
            &[&visitor_token, &res.str("/visitorId")],
        )
        .await;
    assert_eq!(stored, 1);
    let plain: i64 = p
        .app
        .value(
            "SELECT count(*) FROM visitor_sessions WHERE encode(token_hash, 'escape') LIKE 'vs_%'",
            &[],
        )
        .await;
    assert_eq!(plain, 0);
}

#[tokio::test]
async fn when_the_origin_is_not_allowed_or_missing_it_is_403_and_nothing_is_stored() {
    let p = setup().await;
    for origin in [
        Some("https://evil.com"),
        // a wildcard label matches one label of that domain, nothing that merely ends like it
        Some("https://evil-example.org"),
        Some("https://example.org"),
        Some("https://a.b.example.org"),
        // another scheme or port is another origin
        Some("http://shop.example.com"),
        Some("https://shop.example.com:8443"),
        Some("null"),
        None,
    ] {
        let res = open(&p.app, &p.key, origin, json!({})).await;
        assert_error(&res, StatusCode::FORBIDDEN, "origin_not_allowed");
        // The refusal names the origin, so that the widget can read it; never `*`.
        let acao = res.headers.get("access-control-allow-origin");
        match origin {
            Some(o) if o != "null" => assert_eq!(acao.expect("named"), o, "{origin:?}"),
            _ => assert!(acao.is_none(), "{origin:?}"),
        }
    }
    let visitors: i64 = p.app.value("SELECT count(*) FROM visitors", &[]).await;
    assert_eq!(visitors, 0, "a refused origin stores nothing");
    let ok = open(&p.app, &p.key, Some("https://help.example.org"), json!({})).await;
    assert_eq!(ok.status, StatusCode::CREATED, "{}", ok.body);
    assert_eq!(
        ok.headers["access-control-allow-origin"],
        "https://help.example.org"
    );
}

#[tokio::test]
async fn when_a_key_allows_no_origin_every_page_is_refused() {
    let p = setup().await;
    let (_, none) = studio_testing::publishable_key(&p.app, &p.ada, &[]).await;
    let res = open(&p.app, &none, Some(SHOP), json!({})).await;
    assert_error(&res, StatusCode::FORBIDDEN, "origin_not_allowed");
}

#[tokio::test]
async fn when_the_key_is_missing_unknown_secret_or_a_member_token_the_session_is_refused() {
    let p = setup().await;
    let no_key = call(
        &p.app,
        Method::POST,
        "/api/v1/public/sessions",
        None,
        Some(SHOP),
        Some(json!({})),
    )
    .await;
    assert_error(&no_key, StatusCode::UNAUTHORIZED, "unauthorized");
    let unknown = format!("pk_ws_{}", "A".repeat(43));
    assert_error(
        &open(&p.app, &unknown, Some(SHOP), json!({})).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    );
    assert_error(
        &open(&p.app, "pk_ws_short", Some(SHOP), json!({})).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    );
    let (_, secret) = secret_key(&p.app, &p.ada, &["chat"]).await;
    assert_error(
        &open(&p.app, &secret, Some(SHOP), json!({})).await,
        StatusCode::FORBIDDEN,
        "secret_key_in_browser",
    );
    assert_error(
        &open(&p.app, &p.ada.access_token, Some(SHOP), json!({})).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    );
}

#[tokio::test]
async fn when_the_key_is_revoked_it_opens_nothing_and_its_sessions_end_at_once() {
    let p = setup().await;
    let v = p.visitor().await;
    let before = v.get(&p.app, "/api/v1/public/conversations").await;
    assert_eq!(before.status, StatusCode::OK, "{}", before.body);
    p.app
        .execute(
            "UPDATE api_keys SET revoked_at = now() WHERE id = $1",
            &[&p.key_id],
        )
        .await;
    let after = v.get(&p.app, "/api/v1/public/conversations").await;
    assert_error(&after, StatusCode::UNAUTHORIZED, "unauthorized");
    assert!(
        after.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("revoked")
    );
    assert_error(
        &open(&p.app, &p.key, Some(SHOP), json!({})).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    );
}

#[tokio::test]
async fn when_a_visitor_returns_with_their_token_they_continue_and_an_id_alone_opens_nothing() {
    let p = setup().await;
    let first = p.visitor().await;
    let conv = first.say(&p.app, "How long do refunds take?", None).await;
    assert_eq!(conv.status, StatusCode::OK, "{}", conv.body);
    let token = first.token.clone().expect("an anonymous visitor's token");

    let again =
        Visitor::from(&open(&p.app, &p.key, Some(SHOP), json!({"visitorToken": token})).await);
    assert_eq!(again.id, first.id);
    assert_eq!(again.token.as_deref(), Some(token.as_str()));
    let list = again.get(&p.app, "/api/v1/public/conversations").await;
    assert_eq!(list.items().len(), 1);
    assert_eq!(list.items()[0]["id"], conv.body["convId"]);

    // Knowing the visitor's id is not enough; a token that is not theirs opens nothing.
    let by_id = open(&p.app, &p.key, Some(SHOP), json!({"visitorId": first.id})).await;
    assert_eq!(by_id.invalid_fields(), ["visitorId"]);
    let guessed = format!("vt_{}", "B".repeat(43));
    for bad in [guessed.as_str(), "vt_short", "not-a-token"] {
        let res = open(&p.app, &p.key, Some(SHOP), json!({"visitorToken": bad})).await;
        assert_error(&res, StatusCode::UNAUTHORIZED, "unauthorized");
    }
}

#[tokio::test]
async fn when_another_workspace_holds_the_visitor_token_it_opens_nothing_here() {
    let p = setup().await;
    let v = p.visitor().await;
    let bob = p.app.user("Bob").await;
    let (_, bobs_key) = studio_testing::publishable_key(&p.app, &bob, &[SHOP]).await;
    let res = open(
        &p.app,
        &bobs_key,
        Some(SHOP),
        json!({"visitorToken": v.token.unwrap()}),
    )
    .await;
    assert_error(&res, StatusCode::UNAUTHORIZED, "unauthorized");
}

#[tokio::test]
async fn when_an_identity_token_is_signed_with_the_workspace_secret_the_end_user_is_the_same_on_every_device()
 {
    let p = setup().await;
    let secret = identity_secret(&p.app, &p.ada).await;
    let phone = p.signed_in(&secret, "customer-42").await;
    assert_eq!(
        phone.token, None,
        "a signed end user renews with a fresh identity token"
    );
    let conv = phone.say(&p.app, "Where is my order?", None).await;
    assert_eq!(conv.status, StatusCode::OK, "{}", conv.body);
    let laptop = p.signed_in(&secret, "customer-42").await;
    assert_eq!(laptop.id, phone.id);
    let list = laptop.get(&p.app, "/api/v1/public/conversations").await;
    assert_eq!(list.items()[0]["id"], conv.body["convId"]);
    let email: String = p
        .app
        .value(
            "SELECT email FROM visitors WHERE external_id = 'customer-42'",
            &[],
        )
        .await;
    assert_eq!(email, "customer-42@customers.test");
}

#[tokio::test]
async fn when_an_identity_token_is_forged_expired_too_long_lived_or_unverifiable_it_is_401() {
    let p = setup().await;
    let forged = identity_token("ids_ws_guessed", "customer-42", 0, 600);
    let res = open(&p.app, &p.key, Some(SHOP), json!({"identityToken": forged})).await;
    assert_error(&res, StatusCode::UNAUTHORIZED, "unauthorized");
    assert!(
        res.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("identity secret")
    );

    let secret = identity_secret(&p.app, &p.ada).await;
    let owner = p.signed_in(&secret, "customer-42").await;
    owner.say(&p.app, "My address is 1 Main St", None).await;
    for (token, code) in [
        (
            identity_token("ids_ws_guessed", "customer-42", 0, 600),
            "unauthorized",
        ),
        (
            identity_token(&secret, "customer-42", 7200, 3600),
            "token_expired",
        ),
        (
            identity_token(&secret, "customer-42", 0, 7200),
            "unauthorized",
        ),
        ("not.a.jwt".to_owned(), "unauthorized"),
    ] {
        let res = open(&p.app, &p.key, Some(SHOP), json!({"identityToken": token})).await;
        assert_error(&res, StatusCode::UNAUTHORIZED, code);
    }
    let sessions: i64 = p
        .app
        .value(
            "SELECT count(*) FROM visitor_sessions WHERE visitor_id = $1::text::uuid",
            &[&owner.id],
        )
        .await;
    assert_eq!(
        sessions, 1,
        "no refused token opened a session for customer-42"
    );
}

#[tokio::test]
async fn when_identity_is_required_anonymous_visitors_are_refused() {
    let p = setup().await;
    set_widget(&p.app, &p.ada, json!({"requireIdentity": true})).await;
    let res = open(&p.app, &p.key, Some(SHOP), json!({})).await;
    assert_error(&res, StatusCode::FORBIDDEN, "identity_required");
    let secret = identity_secret(&p.app, &p.ada).await;
    let signed = open(
        &p.app,
        &p.key,
        Some(SHOP),
        json!({"identityToken": identity_token(&secret, "c-1", 0, 60)}),
    )
    .await;
    assert_eq!(signed.status, StatusCode::CREATED, "{}", signed.body);
    assert_eq!(signed.body["agent"]["requireIdentity"], true);
}

#[tokio::test]
async fn when_an_anonymous_visitor_identifies_their_conversations_move_to_the_end_user() {
    let p = setup().await;
    let anonymous = p.visitor().await;
    let conv = anonymous.say(&p.app, "Hello", None).await.str("/convId");
    let secret = identity_secret(&p.app, &p.ada).await;
    let known = Visitor::from(
        &open(
            &p.app,
            &p.key,
            Some(SHOP),
            json!({"identityToken": identity_token(&secret, "c-7", 0, 60), "visitorToken": anonymous.token.clone().unwrap()}),
        )
        .await,
    );
    assert_ne!(known.id, anonymous.id);
    let list = known.get(&p.app, "/api/v1/public/conversations").await;
    assert_eq!(list.items()[0]["id"], conv.as_str());
    // The anonymous visitor is gone, with its session and token.
    let old = anonymous.get(&p.app, "/api/v1/public/conversations").await;
    assert_error(&old, StatusCode::UNAUTHORIZED, "unauthorized");
    let res = open(
        &p.app,
        &p.key,
        Some(SHOP),
        json!({"visitorToken": anonymous.token.clone().unwrap()}),
    )
    .await;
    assert_error(&res, StatusCode::UNAUTHORIZED, "unauthorized");
    // Identifying again with the spent anonymous token is fine: there is nothing left to move.
    let again = open(
        &p.app,
        &p.key,
        Some(SHOP),
        json!({"identityToken": identity_token(&secret, "c-7", 0, 60), "visitorToken": anonymous.token.unwrap()}),
    )
    .await;
    assert_eq!(Visitor::from(&again).id, known.id);
}

#[tokio::test]
async fn when_a_session_expires_or_comes_from_another_origin_it_is_refused() {
    let p = setup().await;
    let v = p.visitor().await;
    // The key allows this origin too, but the session was opened on the shop.
    let elsewhere = call(
        &p.app,
        Method::GET,
        "/api/v1/public/conversations",
        Some(&v.session),
        Some("https://help.example.org"),
        None,
    )
    .await;
    assert_error(&elsewhere, StatusCode::FORBIDDEN, "origin_not_allowed");
    p.app
        .execute(
            "UPDATE visitor_sessions SET expires_at = now() - interval '1 second'",
            &[],
        )
        .await;
    let expired = v.get(&p.app, "/api/v1/public/conversations").await;
    assert_error(&expired, StatusCode::UNAUTHORIZED, "token_expired");
    // Renewal: a new session with the visitor token.
    let renewed = open(
        &p.app,
        &p.key,
        Some(SHOP),
        json!({"visitorToken": v.token.unwrap()}),
    )
    .await;
    assert_eq!(Visitor::from(&renewed).id, v.id);
}

#[tokio::test]
async fn when_a_credential_is_sent_to_the_other_side_of_the_api_it_is_refused() {
    let p = setup().await;
    let v = p.visitor().await;
    let member_route = p
        .app
        .get("/api/v1/agents/conversations", Some(&v.session))
        .await;
    assert_error(&member_route, StatusCode::UNAUTHORIZED, "unauthorized");
    let public_route = call(
        &p.app,
        Method::GET,
        "/api/v1/public/conversations",
        Some(&p.ada.access_token),
        Some(SHOP),
        None,
    )
    .await;
    assert_error(&public_route, StatusCode::UNAUTHORIZED, "unauthorized");
    assert!(
        public_route.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("visitor session token")
    );
    // A publishable key opens sessions, not the member API.
    let with_key = p
        .app
        .get("/api/v1/agents/conversations", Some(&p.key))
        .await;
    assert_error(&with_key, StatusCode::FORBIDDEN, "forbidden");
}
