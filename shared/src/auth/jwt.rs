//! Access tokens: HS256 JWTs, 15 minutes by default, with `iss`, `aud`, `exp`, `iat`, `sub` and the
//! chosen workspace `wid`. Only HS256 is accepted (an allow-list of one): `none`, RS/ES/PS headers and
//! any other algorithm are rejected before the signature is looked at.

use crate::config::JwtConfig;
use crate::error::{ApiError, ErrorCode};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub const ALGORITHM: Algorithm = Algorithm::HS256;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    pub sub: Uuid,
    /// The workspace chosen at login or by the last refresh; absent for a user with none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wid: Option<Uuid>,
    pub iss: String,
    pub aud: String,
    pub iat: i64,
    pub exp: i64,
}

/// Signing and verification keys, built once per cold start.
#[derive(Clone)]
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    issuer: String,
    audience: String,
    ttl_secs: i64,
}

impl std::fmt::Debug for JwtKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtKeys")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .finish()
    }
}

impl JwtKeys {
    pub fn new(cfg: &JwtConfig) -> Self {
        let secret = cfg.secret.expose_secret().as_bytes();
        let mut validation = Validation::new(ALGORITHM);
        validation.algorithms = vec![ALGORITHM];
        validation.set_issuer(&[&cfg.issuer]);
        validation.set_audience(&[&cfg.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        // We issue and verify on the same clock (AWS time sync); no grace period past `exp`.
        validation.leeway = 0;
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            issuer: cfg.issuer.clone(),
            audience: cfg.audience.clone(),
            ttl_secs: i64::try_from(cfg.access_ttl.as_secs()).unwrap_or(900),
        }
    }

    /// Seconds an access token lives (the `expiresIn` of token responses).
    pub fn ttl_secs(&self) -> i64 {
        self.ttl_secs
    }

    pub fn issue(&self, user: Uuid, workspace: Option<Uuid>) -> Result<String, ApiError> {
        let now = chrono::Utc::now().timestamp();
        let claims = AccessClaims {
            sub: user,
            wid: workspace,
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            iat: now,
            exp: now + self.ttl_secs,
        };
        self.sign(&claims)
    }

    /// Signs arbitrary claims with our key (tests use it to forge expired or mis-addressed tokens).
    pub fn sign(&self, claims: &AccessClaims) -> Result<String, ApiError> {
        jsonwebtoken::encode(&Header::new(ALGORITHM), claims, &self.encoding)
            .map_err(ApiError::internal)
    }

    pub fn verify(&self, token: &str) -> Result<AccessClaims, ApiError> {
        jsonwebtoken::decode::<AccessClaims>(token, &self.decoding, &self.validation)
            .map(|data| data.claims)
            .map_err(|e| match e.kind() {
                ErrorKind::ExpiredSignature => ApiError::new(
                    ErrorCode::TokenExpired,
                    "The access token has expired; get a new one from POST /api/v1/auth/token.",
                ),
                _ => ApiError::unauthorized("The access token is invalid; log in again."),
            })
    }
}
