//! argon2id at OWASP's parameters (m = 19 MiB, t = 2, p = 1), run off the async executor.
//!
//! Verification of an unknown email runs against a dummy hash with the same parameters, so login costs
//! the same time whether or not the account exists.

use anyhow::anyhow;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};
use secrecy::{ExposeSecret, SecretString};
use std::sync::Arc;

pub const MEMORY_KIB: u32 = 19 * 1024;
pub const ITERATIONS: u32 = 2;
pub const PARALLELISM: u32 = 1;

#[derive(Clone)]
pub struct Passwords {
    inner: Arc<Inner>,
}

struct Inner {
    argon: Argon2<'static>,
}

/// The hash verified when the email is unknown: argon2id with the same parameters (so the same cost) of
/// 32 random bytes nobody kept. A constant, not computed at start-up: computing it cost every cold start
/// ~15 ms and 19 MiB of peak memory. A test checks its parameters match the ones in use.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$boF/BSZsftrI8gwnbv4S0g$4cq87SNIOtdxWG5jrj9VWkz1U+GH4RAT7263zr/e5bo";

impl std::fmt::Debug for Passwords {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Passwords(argon2id m=19MiB t=2 p=1)")
    }
}

impl Passwords {
    pub fn new() -> anyhow::Result<Self> {
        let params = Params::new(MEMORY_KIB, ITERATIONS, PARALLELISM, None)
            .map_err(|e| anyhow!("argon2 parameters: {e}"))?;
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        Ok(Self {
            inner: Arc::new(Inner { argon }),
        })
    }

    /// Hashes a password into a PHC string.
    pub async fn hash(&self, password: SecretString) -> Result<String, PasswordError> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            inner
                .argon
                .hash_password(password.expose_secret().as_bytes())
                .map(|h| h.to_string())
                .map_err(|e| anyhow!("hashing a password: {e}"))
        })
        .await
        .map_err(anyhow::Error::from)?
        .map_err(PasswordError)
    }

    /// True when `password` matches `stored`. With `stored = None` (unknown account) the same work is
    /// done against the dummy hash and the answer is false.
    pub async fn verify(
        &self,
        password: SecretString,
        stored: Option<String>,
    ) -> Result<bool, PasswordError> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            inner.verify_blocking(password.expose_secret(), stored.as_deref())
        })
        .await
        .map_err(anyhow::Error::from)?
        .map_err(PasswordError)
    }
}

/// Hashing or checking a password failed (a stored hash that is not a PHC string, or the hashing
/// thread lost): always our fault, so a request answers 500 with it as the logged cause.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct PasswordError(#[from] anyhow::Error);

impl From<PasswordError> for crate::error::ApiError {
    fn from(e: PasswordError) -> Self {
        Self::internal(e)
    }
}

impl Inner {
    fn verify_blocking(&self, password: &str, stored: Option<&str>) -> anyhow::Result<bool> {
        let known = stored.is_some();
        let hash = PasswordHash::new(stored.unwrap_or(DUMMY_HASH))
            .map_err(|e| anyhow!("a stored password hash is not a PHC string: {e}"))?;
        let matched = self
            .argon
            .verify_password(password.as_bytes(), &hash)
            .is_ok();
        Ok(known && matched)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn when_a_password_is_hashed_it_verifies_and_others_do_not() {
        let p = Passwords::new().expect("argon2");
        let hash = p
            .hash(SecretString::from("correct horse battery"))
            .await
            .expect("hash");
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert!(
            p.verify(
                SecretString::from("correct horse battery"),
                Some(hash.clone())
            )
            .await
            .expect("ok")
        );
        assert!(
            !p.verify(SecretString::from("wrong"), Some(hash))
                .await
                .expect("ok")
        );
    }

    #[test]
    fn when_the_dummy_hash_is_read_its_parameters_are_the_ones_in_use() {
        let hash = PasswordHash::new(DUMMY_HASH).expect("a PHC string");
        assert_eq!(hash.algorithm.as_str(), "argon2id");
        let params = Params::try_from(&hash).expect("argon2 params");
        assert_eq!(
            (
                params.m_cost(),
                params.t_cost(),
                params.p_cost(),
                params.output_len()
            ),
            (MEMORY_KIB, ITERATIONS, PARALLELISM, Some(32))
        );
    }

    #[tokio::test]
    async fn when_the_account_is_unknown_verify_is_false_even_for_the_dummy_password() {
        let p = Passwords::new().expect("argon2");
        assert!(
            !p.verify(SecretString::from("anything"), None)
                .await
                .expect("ok")
        );
    }
}
