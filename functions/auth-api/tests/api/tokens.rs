//! Forged and mis-addressed access tokens are rejected.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use hmac::{Hmac, Mac};
use http::StatusCode;
use serde_json::json;
use sha2::Sha256;
use studio::auth::AccessClaims;
use studio_testing::{TEST_JWT_SECRET, TestApp, assert_error};

fn hs256(secret: &[u8], header: &serde_json::Value, claims: &serde_json::Value) -> String {
    let signing_input = format!(
        "{}.{}",
        B64.encode(header.to_string()),
        B64.encode(claims.to_string())
    );
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).unwrap();
    mac.update(signing_input.as_bytes());
    format!(
        "{signing_input}.{}",
        B64.encode(mac.finalize().into_bytes())
    )
}

#[tokio::test]
async fn when_a_token_is_forged_or_misaddressed_me_answers_401() {
    let app = TestApp::new(auth_api::routes()).await;
    let user = app.user("Mallory").await;
    let real = app.state.jwt.verify(&user.access_token).unwrap();
    let now = chrono::Utc::now().timestamp();
    let claims = json!({"sub": real.sub, "wid": real.wid, "iss": real.iss, "aud": real.aud, "iat": now, "exp": now + 600});
    let secret = TEST_JWT_SECRET.as_bytes();

    // Sanity: the hand-made HS256 token with the right key is accepted, so the rejections below are real.
    let good = hs256(secret, &json!({"alg": "HS256", "typ": "JWT"}), &claims);
    assert_eq!(
        app.get("/api/v1/auth/me", Some(&good)).await.status,
        StatusCode::OK
    );

    let unsigned = format!(
        "{}.{}.",
        B64.encode(json!({"alg": "none"}).to_string()),
        B64.encode(claims.to_string())
    );
    let wrong_key = hs256(
        b"another-secret-another-secret-another-secret",
        &json!({"alg": "HS256"}),
        &claims,
    );
    // HS/RS confusion: an RS256 header over an HMAC made with what an attacker thinks is the verifier key.
    let rs_header = hs256(secret, &json!({"alg": "RS256", "typ": "JWT"}), &claims);
    let hs512 = {
        let input = format!(
            "{}.{}",
            B64.encode(json!({"alg": "HS512"}).to_string()),
            B64.encode(claims.to_string())
        );
        let mut mac = Hmac::<sha2::Sha512>::new_from_slice(secret).unwrap();
        mac.update(input.as_bytes());
        format!("{input}.{}", B64.encode(mac.finalize().into_bytes()))
    };
    let mut tampered_claims = claims.clone();
    tampered_claims["sub"] = json!(uuid::Uuid::new_v4());
    let tampered = {
        let good_parts: Vec<&str> = good.split('.').collect();
        format!(
            "{}.{}.{}",
            good_parts[0],
            B64.encode(tampered_claims.to_string()),
            good_parts[2]
        )
    };
    let mut wrong_iss = claims.clone();
    wrong_iss["iss"] = json!("someone-else");
    let mut wrong_aud = claims.clone();
    wrong_aud["aud"] = json!("another-api");
    let mut no_exp = claims.clone();
    no_exp.as_object_mut().unwrap().remove("exp");

    let cases = [
        ("alg none", unsigned),
        ("wrong key", wrong_key),
        ("RS256 header", rs_header),
        ("HS512 not allow-listed", hs512),
        ("tampered claims", tampered),
        (
            "wrong iss",
            hs256(secret, &json!({"alg": "HS256"}), &wrong_iss),
        ),
        (
            "wrong aud",
            hs256(secret, &json!({"alg": "HS256"}), &wrong_aud),
        ),
        ("no exp", hs256(secret, &json!({"alg": "HS256"}), &no_exp)),
        ("garbage", "not.a.jwt".to_owned()),
    ];
    for (name, token) in cases {
        let res = app.get("/api/v1/auth/me", Some(&token)).await;
        assert_eq!(
            (res.status, res.code()),
            (StatusCode::UNAUTHORIZED, "unauthorized"),
            "{name}"
        );
    }
}

#[tokio::test]
async fn when_a_token_has_expired_the_code_is_token_expired() {
    let app = TestApp::new(auth_api::routes()).await;
    let user = app.user("Late").await;
    let real = app.state.jwt.verify(&user.access_token).unwrap();
    let expired = app
        .state
        .jwt
        .sign(&AccessClaims {
            iat: real.iat - 1000,
            exp: chrono::Utc::now().timestamp() - 1,
            ..real
        })
        .unwrap();
    let res = app.get("/api/v1/auth/me", Some(&expired)).await;
    assert_error(&res, StatusCode::UNAUTHORIZED, "token_expired");
}
