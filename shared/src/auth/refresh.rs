//! Refresh tokens: 256 random bits, given to the client once, stored only as their SHA-256.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// Longest refresh token we accept before hashing (ours are 43 characters).
pub const MAX_TOKEN_LEN: usize = 128;

/// A new random token (43 URL-safe characters) and its hash.
pub fn generate() -> anyhow::Result<(String, Vec<u8>)> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("OS random source: {e}"))?;
    let token = URL_SAFE_NO_PAD.encode(bytes);
    let hash = hash(&token);
    Ok((token, hash))
}

pub fn hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn when_tokens_are_generated_they_are_distinct_256_bit_values_hashed_stably() {
        let (a, ha) = generate().expect("rng");
        let (b, _) = generate().expect("rng");
        assert_ne!(a, b);
        assert_eq!(URL_SAFE_NO_PAD.decode(&a).expect("base64").len(), 32);
        assert_eq!(hash(&a), ha);
        assert_eq!(ha.len(), 32);
    }
}
