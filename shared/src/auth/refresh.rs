//! Refresh tokens: 256 random bits, given to the client once, stored only as their SHA-256.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// Longest refresh token we accept before hashing (ours are 43 characters).
pub const MAX_TOKEN_LEN: usize = 128;

/// A new random token (43 URL-safe characters) and its hash.
pub fn generate() -> anyhow::Result<(String, Vec<u8>)> {
    generate_prefixed("")
}

/// A new token of 256 random bits from the OS, `prefix` then 43 URL-safe characters, and the hash of
/// the whole token (what is stored and looked up). The prefix names what the token is (`pk_ws_`,
/// `vs_`, …), for people and secret scanners.
pub fn generate_prefixed(prefix: &str) -> anyhow::Result<(String, Vec<u8>)> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("OS random source: {e}"))?;
    let token = format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes));
    let hash = hash(&token);
    Ok((token, hash))
}

/// Whether `token` is `prefix` followed by exactly 43 URL-safe characters (a token of
/// [`generate_prefixed`]); anything else is refused without a lookup.
pub fn is_prefixed_token(token: &str, prefix: &str) -> bool {
    token.strip_prefix(prefix).is_some_and(|random| {
        random.len() == 43
            && random
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    })
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
