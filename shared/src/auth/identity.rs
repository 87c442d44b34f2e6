//! Signed identity: a workspace's identity secret, and the tokens a tenant's server mints with it for its
//! logged-in end users (`{sub, email?, name?, iat, exp}`, HS256), verified before a visitor session trusts
//! them.
//!
//! The secret is `ids_ws_` followed by 256 random bits from the OS (43 base64url characters); the HMAC
//! key is the UTF-8 bytes of that whole string, exactly as the admin copies it into their server's JWT
//! library (`jwt.sign(claims, secret)`). The server must compute HMACs with it, so it cannot be stored
//! as a hash: it lives in its own table (migration V12), is never listed or logged, and is held in a
//! [`SecretString`] in memory.
//!
//! A token is accepted when:
//! - its header says `HS256` — anything else (`none`, `RS256`, `HS512`, …) is refused before any
//!   signature is checked, so no algorithm confusion is possible;
//! - its signature matches the current secret, or the previous one while its grace period after a
//!   rotation lasts;
//! - `sub`, `iat` and `exp` are present; `exp` is not past and `iat` not in the future (each with
//!   [`LEEWAY_SECS`] of clock skew); `exp - iat` is positive and at most the configured maximum
//!   lifetime (1 hour by default, 24 hours at most), so a tenant cannot mint identities that never
//!   expire;
//! - `sub` is 1 to [`MAX_SUB_LEN`] characters, `email` and `name` (optional) strings of bounded length;
//!   none holds control characters.
//!
//! The clock is a parameter, so every rule is tested without waiting.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use std::time::Duration;

/// The prefix of an identity secret, so that secret scanners and people recognise one.
pub const SECRET_PREFIX: &str = "ids_ws_";
/// Seconds of clock skew allowed between the tenant's server and ours, on `exp` and `iat`.
pub const LEEWAY_SECS: i64 = 30;
/// Characters of `sub`, at most.
pub const MAX_SUB_LEN: usize = 255;
/// Characters of `email`, at most (RFC 5321's path limit).
pub const MAX_EMAIL_LEN: usize = 254;
/// Characters of `name`, at most.
pub const MAX_NAME_LEN: usize = 200;

/// A new identity secret, from the OS's random source.
pub fn generate() -> anyhow::Result<SecretString> {
    let (secret, _) = super::refresh::generate_prefixed(SECRET_PREFIX)?;
    Ok(SecretString::from(secret))
}

/// The secrets a workspace's tokens may be signed with: the current one, and the previous one until
/// the end of its grace period.
#[derive(Debug, Clone)]
pub struct Secrets {
    pub current: SecretString,
    pub previous: Option<(SecretString, DateTime<Utc>)>,
}

/// An end user whose token verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedIdentity {
    pub sub: String,
    pub email: Option<String>,
    pub name: Option<String>,
}

/// Why a token was refused. Each message is meant for the tenant's developer wiring signed identity.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    #[error(
        "the identity token is not a JWT (three base64url parts with a JSON header and claims)"
    )]
    Malformed,
    #[error(
        "the identity token's algorithm is {0:?}; only HS256 with the workspace's identity secret is accepted"
    )]
    Algorithm(String),
    #[error("the identity token's signature does not match the workspace's identity secret")]
    BadSignature,
    #[error(
        "the identity token is signed with a previous identity secret whose grace period after rotation has ended; sign with the current secret"
    )]
    RetiredSecret,
    #[error("the identity token has no {0} claim; sub, iat and exp are required")]
    MissingClaim(&'static str),
    #[error("the identity token's {claim} claim {reason}")]
    InvalidClaim { claim: &'static str, reason: String },
    #[error("the identity token has expired; mint a new one on your server")]
    Expired,
    #[error("the identity token is issued in the future (iat); check your server's clock")]
    IssuedInFuture,
    #[error(
        "the identity token lives {lifetime_secs} s (exp - iat), more than the {max_secs} s allowed; mint short-lived tokens"
    )]
    LifetimeTooLong { lifetime_secs: i64, max_secs: i64 },
}

/// Every refusal is a 401 (`token_expired` for an expired token, `unauthorized` otherwise) whose
/// message says what to fix; nothing about the workspace's secrets beyond that.
impl From<IdentityError> for crate::error::ApiError {
    fn from(err: IdentityError) -> Self {
        let code = match err {
            IdentityError::Expired => crate::error::ErrorCode::TokenExpired,
            _ => crate::error::ErrorCode::Unauthorized,
        };
        Self::new(code, err.to_string())
    }
}

#[derive(Debug, Deserialize)]
struct Claims {
    sub: Option<String>,
    iat: Option<i64>,
    exp: Option<i64>,
    email: Option<String>,
    name: Option<String>,
}

#[derive(Debug, Deserialize)]
struct RawHeader {
    alg: String,
}

/// The header's `alg`, read before anything else (jsonwebtoken cannot even parse `none`).
fn algorithm(token: &str) -> Result<String, IdentityError> {
    let mut parts = token.split('.');
    let (Some(header), Some(_), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(IdentityError::Malformed);
    };
    let bytes = URL_SAFE_NO_PAD
        .decode(header)
        .map_err(|_| IdentityError::Malformed)?;
    serde_json::from_slice::<RawHeader>(&bytes)
        .map(|h| h.alg)
        .map_err(|_| IdentityError::Malformed)
}

/// Checks the signature with one secret and returns the claims as sent (the time rules are ours).
fn decode(token: &str, secret: &SecretString) -> Result<Claims, IdentityError> {
    let mut validation = Validation::new(Algorithm::HS256);
    validation.algorithms = vec![Algorithm::HS256];
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    let key = DecodingKey::from_secret(secret.expose_secret().as_bytes());
    jsonwebtoken::decode::<Claims>(token, &key, &validation)
        .map(|data| data.claims)
        .map_err(|e| match e.kind() {
            ErrorKind::InvalidSignature => IdentityError::BadSignature,
            _ => IdentityError::Malformed,
        })
}

fn text_claim(
    claim: &'static str,
    value: Option<String>,
    max: usize,
) -> Result<Option<String>, IdentityError> {
    let Some(value) = value else {
        return Ok(None);
    };
    let invalid = |reason: String| IdentityError::InvalidClaim { claim, reason };
    if value.trim().is_empty() {
        return Err(invalid("must not be blank".into()));
    }
    if value.chars().count() > max {
        return Err(invalid(format!("must be at most {max} characters")));
    }
    if value.chars().any(char::is_control) {
        return Err(invalid("must not contain control characters".into()));
    }
    Ok(Some(value))
}

/// Verifies an identity token against a workspace's secrets at `now`; `max_lifetime` bounds `exp - iat`.
pub fn verify(
    token: &str,
    secrets: &Secrets,
    max_lifetime: Duration,
    now: DateTime<Utc>,
) -> Result<VerifiedIdentity, IdentityError> {
    let alg = algorithm(token)?;
    if alg != "HS256" {
        return Err(IdentityError::Algorithm(alg));
    }
    let claims = match decode(token, &secrets.current) {
        Err(IdentityError::BadSignature) => match &secrets.previous {
            Some((previous, until)) => {
                let claims = decode(token, previous)?;
                if now >= *until {
                    return Err(IdentityError::RetiredSecret);
                }
                claims
            }
            None => return Err(IdentityError::BadSignature),
        },
        other => other?,
    };
    let sub =
        text_claim("sub", claims.sub, MAX_SUB_LEN)?.ok_or(IdentityError::MissingClaim("sub"))?;
    let iat = claims.iat.ok_or(IdentityError::MissingClaim("iat"))?;
    let exp = claims.exp.ok_or(IdentityError::MissingClaim("exp"))?;
    let now = now.timestamp();
    if exp <= iat {
        return Err(IdentityError::InvalidClaim {
            claim: "exp",
            reason: "must be after iat".into(),
        });
    }
    let max_secs = i64::try_from(max_lifetime.as_secs()).unwrap_or(i64::MAX);
    if exp.saturating_sub(iat) > max_secs {
        return Err(IdentityError::LifetimeTooLong {
            lifetime_secs: exp.saturating_sub(iat),
            max_secs,
        });
    }
    if iat > now.saturating_add(LEEWAY_SECS) {
        return Err(IdentityError::IssuedInFuture);
    }
    if exp.saturating_add(LEEWAY_SECS) <= now {
        return Err(IdentityError::Expired);
    }
    Ok(VerifiedIdentity {
        sub,
        email: text_claim("email", claims.email, MAX_EMAIL_LEN)?,
        name: text_claim("name", claims.name, MAX_NAME_LEN)?,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use jsonwebtoken::{EncodingKey, Header};
    use serde_json::{Value, json};

    const HOUR: Duration = Duration::from_secs(3600);

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap()
    }

    fn secret(s: &str) -> SecretString {
        SecretString::from(s.to_owned())
    }

    fn only(current: &str) -> Secrets {
        Secrets {
            current: secret(current),
            previous: None,
        }
    }

    fn sign(claims: &Value, key: &str) -> String {
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            claims,
            &EncodingKey::from_secret(key.as_bytes()),
        )
        .unwrap()
    }

    /// A token with a hand-written header (and the claims), signed with HS256 over those bytes anyway.
    fn with_header(header: &Value, claims: &Value, key: &str) -> String {
        let body = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signed = sign(claims, key);
        let signature = signed.rsplit('.').next().unwrap();
        format!("{body}.{signature}")
    }

    fn claims() -> Value {
        let t = now().timestamp();
        json!({"sub": "user-42", "email": "ada@example.com", "name": "Ada", "iat": t - 60, "exp": t + 600})
    }

    fn check(token: &str, secrets: &Secrets) -> Result<VerifiedIdentity, IdentityError> {
        verify(token, secrets, HOUR, now())
    }

    #[test]
    fn when_a_token_is_signed_with_the_current_secret_its_identity_is_returned() {
        let id = check(&sign(&claims(), "s1"), &only("s1")).unwrap();
        assert_eq!(
            id,
            VerifiedIdentity {
                sub: "user-42".into(),
                email: Some("ada@example.com".into()),
                name: Some("Ada".into())
            }
        );
        let mut bare = claims();
        bare.as_object_mut()
            .unwrap()
            .retain(|k, _| k != "email" && k != "name");
        let id = check(&sign(&bare, "s1"), &only("s1")).unwrap();
        assert_eq!((id.email, id.name), (None, None));
    }

    #[test]
    fn when_a_token_is_signed_with_another_secret_it_is_a_bad_signature() {
        assert_eq!(
            check(&sign(&claims(), "forger"), &only("s1")),
            Err(IdentityError::BadSignature)
        );
    }

    #[test]
    fn when_a_token_has_expired_it_is_refused_after_the_leeway() {
        let t = now().timestamp();
        let mut c = claims();
        c["iat"] = json!(t - 600);
        c["exp"] = json!(t - LEEWAY_SECS - 1);
        assert_eq!(
            check(&sign(&c, "s1"), &only("s1")),
            Err(IdentityError::Expired)
        );
        c["exp"] = json!(t - LEEWAY_SECS + 1);
        assert!(
            check(&sign(&c, "s1"), &only("s1")).is_ok(),
            "within the leeway"
        );
    }

    #[test]
    fn when_a_token_is_issued_in_the_future_it_is_refused() {
        let t = now().timestamp();
        let c = json!({"sub": "u", "iat": t + 120, "exp": t + 600});
        assert_eq!(
            check(&sign(&c, "s1"), &only("s1")),
            Err(IdentityError::IssuedInFuture)
        );
    }

    #[test]
    fn when_the_algorithm_is_not_hs256_it_is_refused_before_the_signature() {
        let none = format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#),
            URL_SAFE_NO_PAD.encode(claims().to_string())
        );
        assert_eq!(
            check(&none, &only("s1")),
            Err(IdentityError::Algorithm("none".into()))
        );
        for alg in ["RS256", "HS512", "ES256"] {
            let token = with_header(&json!({"alg": alg, "typ": "JWT"}), &claims(), "s1");
            assert_eq!(
                check(&token, &only("s1")),
                Err(IdentityError::Algorithm(alg.into())),
                "{alg}"
            );
        }
    }

    #[test]
    fn when_a_required_claim_is_missing_it_is_named() {
        for claim in ["sub", "iat", "exp"] {
            let mut c = claims();
            c.as_object_mut().unwrap().remove(claim);
            assert_eq!(
                check(&sign(&c, "s1"), &only("s1")),
                Err(IdentityError::MissingClaim(claim)),
                "{claim}"
            );
        }
    }

    #[test]
    fn when_the_lifetime_is_longer_than_allowed_it_is_refused() {
        let t = now().timestamp();
        let c = json!({"sub": "u", "iat": t - 10, "exp": t - 10 + 3601});
        assert_eq!(
            check(&sign(&c, "s1"), &only("s1")),
            Err(IdentityError::LifetimeTooLong {
                lifetime_secs: 3601,
                max_secs: 3600
            })
        );
        assert!(
            verify(&sign(&c, "s1"), &only("s1"), 2 * HOUR, now()).is_ok(),
            "allowed by a longer maximum"
        );
        let backwards = json!({"sub": "u", "iat": t, "exp": t});
        assert!(matches!(
            check(&sign(&backwards, "s1"), &only("s1")),
            Err(IdentityError::InvalidClaim { claim: "exp", .. })
        ));
    }

    #[test]
    fn when_a_text_claim_breaks_its_rules_it_is_named() {
        let cases = [
            ("sub", json!("")),
            ("sub", json!("x".repeat(MAX_SUB_LEN + 1))),
            ("sub", json!("a\nb")),
            ("email", json!("x".repeat(MAX_EMAIL_LEN + 1))),
            ("name", json!("x".repeat(MAX_NAME_LEN + 1))),
        ];
        for (claim, value) in cases {
            let mut c = claims();
            c[claim] = value;
            assert!(
                matches!(check(&sign(&c, "s1"), &only("s1")), Err(IdentityError::InvalidClaim { claim: named, .. }) if named == claim),
                "{claim}"
            );
        }
        let mut c = claims();
        c["sub"] = json!("x".repeat(MAX_SUB_LEN));
        assert!(check(&sign(&c, "s1"), &only("s1")).is_ok(), "255 is fine");
        c["sub"] = json!(42);
        assert_eq!(
            check(&sign(&c, "s1"), &only("s1")),
            Err(IdentityError::Malformed),
            "a number"
        );
    }

    #[test]
    fn when_a_token_is_not_a_jwt_it_is_malformed() {
        for token in ["", "abc", "a.b", "a.b.c.d", "!!.e30.x"] {
            assert_eq!(
                check(token, &only("s1")),
                Err(IdentityError::Malformed),
                "{token}"
            );
        }
    }

    #[test]
    fn when_signed_with_the_previous_secret_it_verifies_only_within_the_grace() {
        let until = now() + chrono::Duration::hours(24);
        let secrets = Secrets {
            current: secret("new"),
            previous: Some((secret("old"), until)),
        };
        let token = sign(&claims(), "old");
        assert!(check(&token, &secrets).is_ok(), "inside the grace");
        let t = until.timestamp();
        let late = json!({"sub": "u", "iat": t - 10, "exp": t + 600});
        assert_eq!(
            verify(&sign(&late, "old"), &secrets, HOUR, until),
            Err(IdentityError::RetiredSecret),
            "after the grace"
        );
        assert_eq!(
            check(&sign(&claims(), "other"), &secrets),
            Err(IdentityError::BadSignature),
            "neither secret"
        );
    }

    #[test]
    fn when_a_refusal_becomes_an_answer_it_is_a_401_with_its_message() {
        use crate::error::ApiError;
        let expired = ApiError::from(IdentityError::Expired);
        assert_eq!(expired.status(), http::StatusCode::UNAUTHORIZED);
        assert_eq!(expired.code.as_str(), "token_expired");
        let forged = ApiError::from(IdentityError::BadSignature);
        assert_eq!(forged.status(), http::StatusCode::UNAUTHORIZED);
        assert_eq!(forged.code.as_str(), "unauthorized");
        assert!(forged.message.contains("signature"), "{}", forged.message);
    }

    #[test]
    fn generated_secrets_have_the_prefix_and_256_bits() {
        let a = generate().unwrap();
        let b = generate().unwrap();
        let a = a.expose_secret();
        assert!(
            a.starts_with(SECRET_PREFIX) && a.len() == SECRET_PREFIX.len() + 43,
            "{a}"
        );
        assert_ne!(a, b.expose_secret());
    }
}
