//! Account mail: the welcome mail on registration, and password reset — the same answer for known and
//! unknown addresses, a single-use expiring token, every session ended. Mail is delivered through the
//! moto server's SES.

use crate::support::{login, refresh};
use http::StatusCode;
use serde_json::json;
use studio::email::EmailKind;
use studio_testing::{
    TEST_PASSWORD, TestApp, TestResponse, assert_error, moto_sdk, outbox_mail, ses_mailer,
    ses_sent_to, token_in,
};

const NEW_PASSWORD: &str = "a brand new passphrase";

async fn forgot(app: &TestApp, email: &str) -> TestResponse {
    app.post(
        "/api/v1/auth/password/forgot",
        None,
        json!({"email": email}),
    )
    .await
}

async fn reset(app: &TestApp, token: &str, password: &str) -> TestResponse {
    app.post(
        "/api/v1/auth/password/reset",
        None,
        json!({"token": token, "password": password}),
    )
    .await
}

/// The reset token mailed to `email` (the newest one).
async fn mailed_token(app: &TestApp, email: &str) -> String {
    let mail = outbox_mail(&app.db_url).await;
    let reset = mail
        .iter()
        .rev()
        .find(|m| m.kind == EmailKind::PasswordReset && m.to == email)
        .expect("a reset mail");
    token_in(reset)
}

#[tokio::test]
async fn when_a_user_registers_a_welcome_mail_goes_out_through_ses() {
    let app = TestApp::new(auth_api::routes()).await;
    let ada = app.user("Ada").await;
    let mail = outbox_mail(&app.db_url).await;
    assert_eq!(mail.len(), 1);
    assert_eq!(
        (mail[0].kind, mail[0].to.as_str()),
        (EmailKind::Welcome, ada.email.as_str())
    );
    assert!(mail[0].text.contains("Hello Ada"));

    let mailer = ses_mailer(&moto_sdk().await).await;
    mailer.send(&mail[0]).await.unwrap();
    let sent = ses_sent_to(&ada.email).await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].subject, "Welcome to Soft Systems Studio");
    assert!(sent[0].body.contains("Hello Ada"));
}

#[tokio::test]
async fn when_a_reset_is_asked_the_answer_is_the_same_whether_or_not_the_address_has_an_account() {
    let app = TestApp::new(auth_api::routes()).await;
    let ada = app.user("Ada").await;
    let known = forgot(&app, &ada.email.to_uppercase()).await;
    let unknown = forgot(&app, "nobody@example.com").await;
    assert_eq!(known.status, StatusCode::ACCEPTED);
    assert_eq!(unknown.status, known.status);
    assert_eq!(unknown.body, known.body);

    let resets: Vec<_> = outbox_mail(&app.db_url)
        .await
        .into_iter()
        .filter(|m| m.kind == EmailKind::PasswordReset)
        .collect();
    assert_eq!(resets.len(), 1, "mail only for the address with an account");
    assert_eq!(resets[0].to, ada.email);

    // The mail, through SES, carries the link.
    let token = token_in(&resets[0]);
    ses_mailer(&moto_sdk().await)
        .await
        .send(&resets[0])
        .await
        .unwrap();
    let sent = ses_sent_to(&ada.email).await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].subject, "Reset your Soft Systems Studio password");
    assert!(
        sent[0]
            .body
            .contains(&format!("reset-password?token={token}"))
    );
}

#[tokio::test]
async fn when_the_token_is_used_the_password_changes_every_session_ends_and_the_token_is_spent() {
    let app = TestApp::new(auth_api::routes()).await;
    let ada = app.user("Ada").await;
    forgot(&app, &ada.email).await;
    let token = mailed_token(&app, &ada.email).await;

    let res = reset(&app, &token, NEW_PASSWORD).await;
    assert_eq!(res.status, StatusCode::NO_CONTENT, "{}", res.body);
    assert_eq!(
        login(&app, &ada.email, TEST_PASSWORD).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        login(&app, &ada.email, NEW_PASSWORD).await.status,
        StatusCode::OK
    );
    // The session from before the reset is over.
    let refreshed = refresh(&app, &ada.refresh_token).await;
    assert_eq!(refreshed.status, StatusCode::UNAUTHORIZED);

    // Single use: the same link again changes nothing.
    let again = reset(&app, &token, "yet another passphrase").await;
    assert_error(&again, StatusCode::BAD_REQUEST, "invalid_token");
    assert_eq!(
        login(&app, &ada.email, NEW_PASSWORD).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn when_the_token_has_expired_or_was_superseded_it_is_refused_and_nothing_changes() {
    let app = TestApp::new(auth_api::routes()).await;
    let ada = app.user("Ada").await;
    forgot(&app, &ada.email).await;
    let first = mailed_token(&app, &ada.email).await;
    forgot(&app, &ada.email).await;
    let second = mailed_token(&app, &ada.email).await;
    assert_ne!(first, second);

    let superseded = reset(&app, &first, NEW_PASSWORD).await;
    assert_eq!(superseded.code(), "invalid_token");

    app.execute(
        "UPDATE password_reset_tokens SET expires_at = now() - interval '1 second'",
        &[],
    )
    .await;
    let expired = reset(&app, &second, NEW_PASSWORD).await;
    assert_error(&expired, StatusCode::BAD_REQUEST, "invalid_token");
    assert!(
        expired.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Ask for a new one")
    );
    assert_eq!(
        login(&app, &ada.email, TEST_PASSWORD).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn when_the_reset_input_is_bad_it_is_refused_with_the_field_named() {
    let app = TestApp::new(auth_api::routes()).await;
    let ada = app.user("Ada").await;
    forgot(&app, &ada.email).await;
    let token = mailed_token(&app, &ada.email).await;

    let short = reset(&app, &token, "short").await;
    assert_eq!(short.code(), "validation_failed");
    assert_eq!(short.body["error"]["details"][0]["field"], "password");
    // The token survived the bad request.
    assert_eq!(
        reset(&app, &token, NEW_PASSWORD).await.status,
        StatusCode::NO_CONTENT
    );

    assert_eq!(
        reset(&app, "not-a-token", NEW_PASSWORD).await.code(),
        "invalid_token"
    );
    assert_eq!(
        reset(&app, &"x".repeat(129), NEW_PASSWORD).await.code(),
        "validation_failed"
    );
    let missing = app
        .post(
            "/api/v1/auth/password/forgot",
            None,
            json!({"mail": "a@b.c"}),
        )
        .await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn when_the_password_events_arrive_through_api_gateway_they_are_answered() {
    let app = TestApp::new(auth_api::routes()).await;
    let event = |name: &str| {
        let path = format!("{}/../../events/{name}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(path).unwrap();
        lambda_http::request::from_str(&text)
            .unwrap()
            .map(|b| axum::body::Body::from(b.to_vec()))
    };
    let forgot = app.call(event("auth-password-forgot.json")).await;
    assert_eq!(forgot.status, StatusCode::ACCEPTED, "{}", forgot.body);
    let reset = app.call(event("auth-password-reset.json")).await;
    assert_eq!(reset.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        reset.code(),
        "invalid_token",
        "the sample's token is unknown here"
    );
}
