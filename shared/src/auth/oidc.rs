//! Tokens from external identity providers (Clerk, any OpenID Connect provider), verified against the
//! provider's published keys (JWKS).
//!
//! What a token must be to pass:
//! - its header names a `kid` and one of RS256, ES256 or EdDSA (`none`, HMAC — an HS256 token "signed"
//!   with a public key — and everything else are refused before any key is looked at); keys embedded in
//!   the header (`jwk`, `jku`, `x5u`) are never used;
//! - its `iss` is exactly a configured issuer, and its `kid` names a key of that issuer's set whose type,
//!   curve and (when stated) `alg` fit the header, and whose `use` (when stated) is `sig`;
//! - the signature verifies, `exp` is present and not past, `nbf` not ahead (both within the configured
//!   leeway), `sub` is present, `aud` is the configured audience (when one is configured — it must be for
//!   a generic provider), and a Clerk token's `azp`, when present, is one of `CORS_ALLOWED_ORIGINS`.
//!
//! Keys are cached per container and issuer. The steady state makes no network call: a cached key set
//! serves until its TTL, and a `kid` it does not know reads the set again at most once a minute per
//! issuer — concurrent requests with the same new `kid` wait for one read (no thundering herd on a
//! rotation). A read replaces the whole set, so a key the provider removed stops verifying.

use crate::config::{OidcConfig, OidcIssuer, Provider};
use crate::error::{ApiError, ErrorCode};
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};

/// The algorithms a provider's token may use.
pub const ALGORITHMS: [Algorithm; 3] = [Algorithm::RS256, Algorithm::ES256, Algorithm::EdDSA];
/// The least time between two reads of an issuer's keys caused by unknown `kid`s.
pub const MIN_REFRESH_INTERVAL: Duration = Duration::from_secs(60);
/// The largest key set or discovery document read.
const MAX_DOCUMENT_BYTES: usize = 256 * 1024;
/// How long a failed first read keeps requests from reading again (503 meanwhile).
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(5);
/// How long one read of a provider's document may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

/// What a verified provider token says about its subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalIdentity {
    pub issuer: String,
    pub subject: String,
    /// The email, only when the token says it is verified (`email_verified: true`).
    pub verified_email: Option<String>,
    /// `name`, else `given_name family_name`, when present.
    pub name: Option<String>,
    /// When the provider issued the token (`iat`), when it says.
    pub issued_at: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(Deserialize)]
struct Unverified {
    iss: Option<String>,
}

/// The claims read after verification.
#[derive(Deserialize)]
struct Claims {
    sub: String,
    /// A number (read leniently: a claim we only use for freshness must not refuse a sign-in).
    #[serde(default)]
    iat: Option<serde_json::Value>,
    #[serde(default)]
    azp: Option<String>,
    #[serde(default)]
    email: Option<String>,
    /// A boolean, or the string "true" (some providers, Cognito among them, send strings).
    #[serde(default)]
    email_verified: Option<serde_json::Value>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    given_name: Option<String>,
    #[serde(default)]
    family_name: Option<String>,
}

#[derive(Deserialize)]
struct Discovery {
    jwks_uri: String,
}

#[derive(Deserialize)]
struct KeySet {
    keys: Vec<serde_json::Value>,
}

/// One issuer's keys, as last read.
#[derive(Default)]
struct Cached {
    keys: HashMap<String, (DecodingKey, Algorithm)>,
    /// When the keys were read (None: never).
    read_at: Option<Instant>,
    /// When a fresh set was last read again for an unknown `kid` (the once-a-minute guard).
    unknown_kid_read_at: Option<Instant>,
    /// When the last read failed (None after a success).
    failed_at: Option<Instant>,
    /// The key set's URL, once known (configured, or discovered).
    jwks_url: Option<String>,
    /// How many times the keys were read (for tests and logs).
    reads: u64,
}

struct Issuer {
    config: OidcIssuer,
    cache: RwLock<Cached>,
    /// Held while the keys are read: one read at a time per issuer.
    reading: tokio::sync::Mutex<()>,
}

/// The verifier for every configured provider; one per container.
pub struct Oidc {
    issuers: Vec<Issuer>,
    http: reqwest::Client,
    leeway: u64,
    ttl: Duration,
    allowed_origins: Vec<String>,
}

impl std::fmt::Debug for Oidc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Oidc")
            .field(
                "issuers",
                &self
                    .issuers
                    .iter()
                    .map(|i| &i.config.issuer)
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

fn refused(reason: &str) -> ApiError {
    ApiError::new(
        ErrorCode::Unauthorized,
        format!("The identity provider's token was refused: {reason}."),
    )
}

/// Whether a key of the set fits a header's algorithm.
fn fits(jwk: &Jwk, alg: Algorithm) -> bool {
    if matches!(&jwk.common.public_key_use, Some(u) if *u != PublicKeyUse::Signature) {
        return false;
    }
    let stated_fits = match &jwk.common.key_algorithm {
        None => true,
        Some(KeyAlgorithm::RS256) => alg == Algorithm::RS256,
        Some(KeyAlgorithm::ES256) => alg == Algorithm::ES256,
        Some(KeyAlgorithm::EdDSA) => alg == Algorithm::EdDSA,
        Some(_) => false,
    };
    if !stated_fits {
        return false;
    }
    match (&jwk.algorithm, alg) {
        (AlgorithmParameters::RSA(_), Algorithm::RS256) => true,
        (AlgorithmParameters::EllipticCurve(p), Algorithm::ES256) => p.curve == EllipticCurve::P256,
        (AlgorithmParameters::OctetKeyPair(p), Algorithm::EdDSA) => {
            p.curve == EllipticCurve::Ed25519
        }
        _ => false,
    }
}

/// The usable keys of a JWKS document: by `kid`, with the one algorithm each serves. Keys of other types
/// (encryption keys, HMAC secrets, curves we do not verify) are skipped, not fatal.
fn parse_key_set(body: &[u8]) -> Result<HashMap<String, (DecodingKey, Algorithm)>, String> {
    let set: KeySet =
        serde_json::from_slice(body).map_err(|e| format!("not a JWKS document ({e})"))?;
    let mut keys = HashMap::new();
    for value in set.keys {
        let Ok(jwk) = serde_json::from_value::<Jwk>(value) else {
            continue;
        };
        let Some(kid) = jwk.common.key_id.clone() else {
            continue;
        };
        let Some(alg) = ALGORITHMS.into_iter().find(|alg| fits(&jwk, *alg)) else {
            continue;
        };
        if let Ok(key) = DecodingKey::from_jwk(&jwk) {
            keys.insert(kid, (key, alg));
        }
    }
    Ok(keys)
}

fn truthy(value: &Option<serde_json::Value>) -> bool {
    match value {
        Some(serde_json::Value::Bool(b)) => *b,
        Some(serde_json::Value::String(s)) => s.eq_ignore_ascii_case("true"),
        _ => false,
    }
}

impl Oidc {
    /// `None` when no provider is configured.
    pub fn new(config: &OidcConfig, allowed_origins: &[String]) -> anyhow::Result<Option<Self>> {
        if config.issuers.is_empty() {
            return Ok(None);
        }
        let http = crate::tls::client_builder()
            .timeout(FETCH_TIMEOUT)
            .connect_timeout(FETCH_TIMEOUT)
            // A key set is at a fixed, configured address: a redirect elsewhere is not followed.
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Some(Self {
            issuers: config
                .issuers
                .iter()
                .map(|c| Issuer {
                    config: c.clone(),
                    cache: RwLock::new(Cached {
                        jwks_url: c.jwks_url.clone(),
                        ..Cached::default()
                    }),
                    reading: tokio::sync::Mutex::new(()),
                })
                .collect(),
            http,
            leeway: config.leeway.as_secs(),
            ttl: config.jwks_ttl,
            allowed_origins: allowed_origins.to_vec(),
        }))
    }

    /// Whether `token` claims (unverified) to come from a configured provider: the caller then verifies
    /// it here, and never as one of our own tokens.
    pub fn claims_issuer(&self, token: &str) -> bool {
        self.issuer_of(token).is_some()
    }

    fn issuer_of(&self, token: &str) -> Option<&Issuer> {
        let iss = jsonwebtoken::dangerous::insecure_decode_claims::<Unverified>(token)
            .ok()?
            .iss?;
        self.issuers.iter().find(|i| i.config.issuer == iss)
    }

    /// How many times an issuer's keys were read (0 for an unknown issuer).
    pub fn key_reads(&self, issuer: &str) -> u64 {
        self.issuers
            .iter()
            .find(|i| i.config.issuer == issuer)
            .and_then(|i| i.cache.read().ok().map(|c| c.reads))
            .unwrap_or(0)
    }

    /// Verifies a provider's token; see the module's documentation for what passes.
    pub async fn verify(&self, token: &str) -> Result<ExternalIdentity, ApiError> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|_| refused("it is not a well-formed JWT"))?;
        if !ALGORITHMS.contains(&header.alg) {
            return Err(refused(&format!(
                "its algorithm {:?} is not accepted (RS256, ES256 or EdDSA only)",
                header.alg
            )));
        }
        let kid = header
            .kid
            .as_deref()
            .filter(|k| !k.is_empty())
            .ok_or_else(|| refused("its header names no key (kid)"))?;
        let issuer = self
            .issuer_of(token)
            .ok_or_else(|| refused("its issuer (iss) is not a configured provider"))?;
        let (key, alg) = self.key(issuer, kid).await?;
        if alg != header.alg {
            return Err(refused(&format!(
                "key {kid} is for {alg:?}, the token says {:?}",
                header.alg
            )));
        }
        let mut validation = Validation::new(alg);
        validation.algorithms = vec![alg];
        validation.leeway = self.leeway;
        validation.validate_nbf = true;
        validation.set_issuer(&[&issuer.config.issuer]);
        match &issuer.config.audience {
            Some(aud) => {
                // Required, not only checked when present (jsonwebtoken's default): a token without
                // `aud` was not issued for this API.
                validation.set_required_spec_claims(&["exp", "iss", "sub", "aud"]);
                validation.set_audience(&[aud]);
            }
            None => {
                validation.set_required_spec_claims(&["exp", "iss", "sub"]);
                validation.validate_aud = false;
            }
        }
        let claims = jsonwebtoken::decode::<Claims>(token, &key, &validation)
            .map_err(|e| {
                use jsonwebtoken::errors::ErrorKind;
                match e.kind() {
                    ErrorKind::ExpiredSignature => ApiError::new(
                        ErrorCode::TokenExpired,
                        "The identity provider's token has expired; get a fresh one from the provider.",
                    ),
                    ErrorKind::ImmatureSignature => refused("it is not valid yet (nbf)"),
                    ErrorKind::InvalidAudience => refused("its audience (aud) is not this API"),
                    ErrorKind::InvalidSignature => refused("its signature does not verify"),
                    ErrorKind::MissingRequiredClaim(c) => {
                        refused(&format!("it has no {c} claim"))
                    }
                    _ => refused("it is not valid"),
                }
            })?
            .claims;
        if issuer.config.provider == Provider::Clerk
            && let Some(azp) = &claims.azp
            && !self.allowed_origins.iter().any(|o| o == azp)
        {
            return Err(refused(&format!(
                "it was issued to {azp:?} (azp), not one of the allowed origins (CORS_ALLOWED_ORIGINS)"
            )));
        }
        if claims.sub.is_empty() || claims.sub.len() > 255 {
            return Err(refused("its subject (sub) is empty or too long"));
        }
        let verified_email = claims
            .email
            .filter(|_| truthy(&claims.email_verified))
            .map(|e| e.trim().to_lowercase())
            .filter(|e| e.contains('@') && e.len() <= 254);
        let name = claims
            .name
            .or_else(|| {
                let joined = [claims.given_name, claims.family_name]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(" ");
                Some(joined)
            })
            .map(|n| n.trim().chars().take(200).collect::<String>())
            .filter(|n| !n.is_empty());
        Ok(ExternalIdentity {
            issuer: issuer.config.issuer.clone(),
            subject: claims.sub,
            verified_email,
            name,
            issued_at: claims
                .iat
                .as_ref()
                .and_then(serde_json::Value::as_f64)
                .and_then(|at| chrono::DateTime::from_timestamp(at as i64, 0)),
        })
    }

    /// The key `kid` of `issuer`: from the cache while it is fresh; else from one read of the key set
    /// (one at a time per issuer). With a fresh set, an unknown `kid` reads again at most once a minute.
    async fn key(&self, issuer: &Issuer, kid: &str) -> Result<(DecodingKey, Algorithm), ApiError> {
        let not_in_set = || refused(&format!("its key {kid} is not in the provider's key set"));
        let fresh = |c: &Cached| c.read_at.is_some_and(|t| t.elapsed() < self.ttl);
        {
            let cache = issuer.cache.read().map_err(|_| poisoned())?;
            if fresh(&cache)
                && let Some(found) = cache.keys.get(kid)
            {
                return Ok(found.clone());
            }
        }
        let _reading = issuer.reading.lock().await;
        // Another request may have read the keys while this one waited.
        let url = {
            let cache = issuer.cache.read().map_err(|_| poisoned())?;
            if let Some(found) = cache.keys.get(kid)
                && fresh(&cache)
            {
                return Ok(found.clone());
            }
            if fresh(&cache)
                && cache
                    .unknown_kid_read_at
                    .is_some_and(|t| t.elapsed() < MIN_REFRESH_INTERVAL)
            {
                return Err(not_in_set());
            }
            // A provider that just failed is not asked again at once (each request would wait for it).
            if cache
                .failed_at
                .is_some_and(|t| t.elapsed() < RETRY_AFTER_FAILURE)
            {
                return match cache.keys.get(kid) {
                    Some(found) => Ok(found.clone()),
                    None if cache.keys.is_empty() => Err(provider_unavailable(
                        issuer,
                        "the last read failed moments ago",
                    )),
                    None => Err(not_in_set()),
                };
            }
            cache.jwks_url.clone()
        };
        let read = self.read_keys(issuer, url).await;
        let mut cache = issuer.cache.write().map_err(|_| poisoned())?;
        if fresh(&cache) {
            cache.unknown_kid_read_at = Some(Instant::now());
        }
        match read {
            Ok((url, keys)) => {
                cache.jwks_url = Some(url);
                cache.keys = keys;
                cache.read_at = Some(Instant::now());
                cache.failed_at = None;
                cache.reads += 1;
                tracing::info!(
                    issuer = %issuer.config.issuer,
                    keys = cache.keys.len(),
                    "identity provider keys read"
                );
            }
            // Keys read before keep serving through a provider's outage, until a read succeeds.
            Err(e) if !cache.keys.is_empty() => {
                cache.failed_at = Some(Instant::now());
                tracing::warn!(issuer = %issuer.config.issuer, error = %e, "identity provider keys could not be read again; the cached keys serve");
            }
            Err(e) => {
                cache.failed_at = Some(Instant::now());
                return Err(provider_unavailable(issuer, &e));
            }
        }
        cache.keys.get(kid).cloned().ok_or_else(not_in_set)
    }

    async fn get(&self, url: &str) -> Result<Vec<u8>, String> {
        let res = self
            .http
            .get(url)
            .header(http::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| format!("{url}: {e}"))?;
        if !res.status().is_success() {
            return Err(format!("{url} answered {}", res.status()));
        }
        if res
            .content_length()
            .is_some_and(|n| n > MAX_DOCUMENT_BYTES as u64)
        {
            return Err(format!("{url} is larger than {MAX_DOCUMENT_BYTES} bytes"));
        }
        let body = res.bytes().await.map_err(|e| format!("{url}: {e}"))?;
        if body.len() > MAX_DOCUMENT_BYTES {
            return Err(format!("{url} is larger than {MAX_DOCUMENT_BYTES} bytes"));
        }
        Ok(body.to_vec())
    }

    /// Reads the key set (discovering its URL first when it is not known yet).
    async fn read_keys(
        &self,
        issuer: &Issuer,
        url: Option<String>,
    ) -> Result<(String, HashMap<String, (DecodingKey, Algorithm)>), String> {
        let url = match url {
            Some(url) => url,
            None => {
                let config_url = format!(
                    "{}/.well-known/openid-configuration",
                    issuer.config.issuer.trim_end_matches('/')
                );
                let doc: Discovery = serde_json::from_slice(&self.get(&config_url).await?)
                    .map_err(|e| format!("{config_url}: no jwks_uri ({e})"))?;
                let parsed = url::Url::parse(&doc.jwks_uri)
                    .map_err(|e| format!("{config_url}: jwks_uri is not a URL ({e})"))?;
                let loopback = parsed
                    .host_str()
                    .is_some_and(|h| h == "localhost" || h == "127.0.0.1" || h == "[::1]");
                if parsed.scheme() != "https" && !(parsed.scheme() == "http" && loopback) {
                    return Err(format!("{config_url}: jwks_uri must be https://"));
                }
                doc.jwks_uri
            }
        };
        let keys = parse_key_set(&self.get(&url).await?).map_err(|e| format!("{url}: {e}"))?;
        Ok((url, keys))
    }
}

fn provider_unavailable(issuer: &Issuer, cause: &str) -> ApiError {
    ApiError::unavailable(
        "identity provider's key set",
        anyhow::anyhow!("{}: {cause}", issuer.config.issuer),
    )
}

fn poisoned() -> ApiError {
    ApiError::internal(anyhow::anyhow!(
        "the identity provider key cache lock is poisoned"
    ))
}

#[cfg(test)]
#[allow(clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn when_a_key_set_mixes_usable_and_unusable_keys_only_the_usable_ones_are_kept() {
        let body = serde_json::json!({"keys": [
            // An RSA signing key (n and e are small but well-formed base64url).
            {"kty": "RSA", "kid": "rsa-1", "use": "sig", "alg": "RS256", "n": "sXchDaQebHnPiGvyDOAT4saGEUetSyo9MKLOoWFsueri23bOdgWp4Dy1WlUzewbgBHod5pcM9H95GQRV3JDXboIRROSBigeC5yjU1hGzHHyXss8UDprecbAYxknTcQkhslANGRUZmdTOQ5qTRsLAt6BTYuyvVRdhS8exSZEy_c4gs_7svlJJQ4H9_NxsiIoLwAEk7-Q3UXERGYw_75IDrGA84-lA_-Ct4eTlXHBIY2EaV7t7LjJaynVJCpkv4LKjTTAumiGUIuQhrNhZLuF_RJLqHpM2kgWFLU7-VTdL1VbC2tejvcI2BlMkEpk1BzBZI0KQB0GaDWFLN-aEAw3vRw", "e": "AQAB"},
            // An encryption key: skipped.
            {"kty": "RSA", "kid": "rsa-enc", "use": "enc", "n": "sXch", "e": "AQAB"},
            // An HMAC secret: never a provider's signing key.
            {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"},
            // No kid: skipped.
            {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},
            // P-384 is not ES256: skipped.
            {"kty": "EC", "kid": "p384", "crv": "P-384", "x": "AA", "y": "AA"},
            // An unknown key type: skipped, not fatal.
            {"kty": "XYZ", "kid": "odd"},
            {"kty": "OKP", "kid": "ed-1", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}
        ]});
        let keys = parse_key_set(body.to_string().as_bytes()).expect("parsed");
        let mut kids: Vec<(&str, Algorithm)> =
            keys.iter().map(|(k, (_, a))| (k.as_str(), *a)).collect();
        kids.sort_by_key(|(k, _)| *k);
        assert_eq!(
            kids,
            vec![("ed-1", Algorithm::EdDSA), ("rsa-1", Algorithm::RS256)]
        );
        assert!(parse_key_set(b"[]").is_err(), "not a JWKS object");
    }

    #[test]
    fn when_email_verified_is_a_string_or_a_bool_it_is_read_as_such() {
        assert!(truthy(&Some(serde_json::json!(true))));
        assert!(truthy(&Some(serde_json::json!("true"))));
        assert!(!truthy(&Some(serde_json::json!("false"))));
        assert!(!truthy(&Some(serde_json::json!(1))));
        assert!(!truthy(&None));
    }
}
