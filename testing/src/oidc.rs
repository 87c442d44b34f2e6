//! An identity provider for the OIDC tests: keys the test makes (RSA, P-256, Ed25519), their JWKS and
//! OpenID configuration served by a local HTTP server, and tokens signed with them.

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use std::sync::Mutex;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// A signing key with its public JWK.
#[derive(Clone)]
pub struct TestKey {
    pub kid: String,
    pub alg: Algorithm,
    pub encoding: EncodingKey,
    /// The public half, as the provider publishes it.
    pub jwk: Value,
    /// The public key in PEM (what an attacker could use as an HMAC secret).
    pub public_pem: String,
}

impl std::fmt::Debug for TestKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TestKey({}, {:?})", self.kid, self.alg)
    }
}

fn with_kid(encoding: &EncodingKey, alg: Algorithm, kid: &str) -> Value {
    let mut jwk = serde_json::to_value(
        jsonwebtoken::jwk::Jwk::from_encoding_key(encoding, alg).expect("public jwk"),
    )
    .expect("jwk json");
    jwk["kid"] = json!(kid);
    jwk["use"] = json!("sig");
    jwk
}

impl TestKey {
    /// A fresh RSA-2048 key for RS256.
    pub fn rsa(kid: &str) -> Self {
        use rsa::pkcs1::EncodeRsaPrivateKey;
        use rsa::pkcs8::EncodePublicKey;
        let private = rsa::RsaPrivateKey::new(&mut rand_core::OsRng, 2048).expect("rsa key");
        let der = private.to_pkcs1_der().expect("pkcs1 der");
        let encoding = EncodingKey::from_rsa_der(der.as_bytes());
        let public_pem = private
            .to_public_key()
            .to_public_key_pem(rsa::pkcs8::LineEnding::LF)
            .expect("public pem");
        Self {
            kid: kid.to_owned(),
            alg: Algorithm::RS256,
            jwk: with_kid(&encoding, Algorithm::RS256, kid),
            encoding,
            public_pem,
        }
    }

    /// A fresh P-256 key for ES256.
    pub fn es256(kid: &str) -> Self {
        use p256::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
        let secret = p256::SecretKey::random(&mut rand_core::OsRng);
        let der = secret.to_pkcs8_der().expect("pkcs8 der");
        let encoding = EncodingKey::from_ec_der(der.as_bytes());
        let public_pem = secret
            .public_key()
            .to_public_key_pem(LineEnding::LF)
            .expect("public pem");
        Self {
            kid: kid.to_owned(),
            alg: Algorithm::ES256,
            jwk: with_kid(&encoding, Algorithm::ES256, kid),
            encoding,
            public_pem,
        }
    }

    /// A fresh Ed25519 key for EdDSA.
    pub fn ed25519(kid: &str) -> Self {
        use ed25519_dalek::pkcs8::{EncodePrivateKey, EncodePublicKey, spki::der::pem::LineEnding};
        let signing = ed25519_dalek::SigningKey::generate(&mut rand_core::OsRng);
        let der = signing.to_pkcs8_der().expect("pkcs8 der");
        let encoding = EncodingKey::from_ed_der(der.as_bytes());
        let public_pem = signing
            .verifying_key()
            .to_public_key_pem(LineEnding::LF)
            .expect("public pem");
        // Written out: jsonwebtoken derives an Ed25519 JWK only from a PKCS#8 v1 key, and this one is v2
        // (it carries the public key).
        use base64::Engine;
        let x = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(signing.verifying_key().as_bytes());
        Self {
            kid: kid.to_owned(),
            alg: Algorithm::EdDSA,
            jwk: json!({"kty": "OKP", "crv": "Ed25519", "x": x, "alg": "EdDSA", "kid": kid, "use": "sig"}),
            encoding,
            public_pem,
        }
    }
}

/// A provider at a local address: `issuer` is its base URL.
pub struct TestProvider {
    pub server: MockServer,
    pub issuer: String,
    published: Mutex<Vec<Value>>,
}

impl std::fmt::Debug for TestProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TestProvider({})", self.issuer)
    }
}

/// The path of the key set (Clerk's; the OpenID configuration points at it too).
pub const JWKS_PATH: &str = "/.well-known/jwks.json";

impl TestProvider {
    /// Starts a provider publishing `keys`.
    pub async fn start(keys: &[&TestKey]) -> Self {
        let server = MockServer::start().await;
        let provider = Self {
            issuer: server.uri(),
            server,
            published: Mutex::new(Vec::new()),
        };
        provider.publish(keys).await;
        provider
    }

    /// Publishes exactly `keys` from now on (a rotation); request counts are kept.
    pub async fn publish(&self, keys: &[&TestKey]) {
        let set: Vec<Value> = keys.iter().map(|k| k.jwk.clone()).collect();
        *self.published.lock().unwrap() = set.clone();
        self.server.reset().await;
        Mock::given(method("GET"))
            .and(path(JWKS_PATH))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"keys": set})))
            .mount(&self.server)
            .await;
        Mock::given(method("GET"))
            .and(path("/.well-known/openid-configuration"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "issuer": self.issuer,
                "jwks_uri": format!("{}{JWKS_PATH}", self.issuer),
            })))
            .mount(&self.server)
            .await;
    }

    /// Serves errors in place of the key set (the provider is down).
    pub async fn go_down(&self) {
        self.server.reset().await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(503))
            .mount(&self.server)
            .await;
    }

    /// How many times the key set was read since the last [`publish`](Self::publish) or
    /// [`go_down`](Self::go_down) (a reset clears wiremock's record).
    pub async fn key_reads(&self) -> usize {
        self.server
            .received_requests()
            .await
            .unwrap_or_default()
            .iter()
            .filter(|r| r.url.path() == JWKS_PATH)
            .count()
    }

    /// Claims valid for a minute: `iss` this provider, `sub`, `iat`, `nbf` and `exp`; add or override
    /// fields on the returned value.
    pub fn claims(&self, sub: &str) -> Value {
        let now = jsonwebtoken::get_current_timestamp();
        json!({"iss": self.issuer, "sub": sub, "iat": now, "nbf": now, "exp": now + 60})
    }

    /// Signs `claims` with `key` (its `kid` in the header).
    pub fn sign(&self, key: &TestKey, claims: &Value) -> String {
        let mut header = Header::new(key.alg);
        header.kid = Some(key.kid.clone());
        jsonwebtoken::encode(&header, claims, &key.encoding).expect("signed")
    }
}

/// A JWT with `alg: none` and no signature.
pub fn unsigned_token(kid: &str, claims: &Value) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let header = json!({"alg": "none", "typ": "JWT", "kid": kid});
    format!(
        "{}.{}.",
        b64.encode(header.to_string()),
        b64.encode(claims.to_string())
    )
}

/// An HS256 token whose HMAC secret is `secret` (the classic confusion: a public key used as a secret).
pub fn hs256_token(kid: &str, secret: &[u8], claims: &Value) -> String {
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_secret(secret)).expect("signed")
}
