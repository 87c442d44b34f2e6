//! The `Idempotency-Key` header: read and checked here, at the edge; what a key does is
//! `services::idempotency`'s.

use crate::error::ApiError;
use crate::services::idempotency::IdempotencyKey;
use axum::http::HeaderMap;
use serde::Serialize;

pub const HEADER: &str = "idempotency-key";

impl IdempotencyKey {
    /// The request's key, fingerprinted with its (parsed) `body`; `None` without the header. A key must
    /// be 1 to 255 visible characters (surrounding blanks are trimmed).
    pub fn from_request(
        headers: &HeaderMap,
        body: &impl Serialize,
    ) -> Result<Option<Self>, ApiError> {
        let Some(raw) = headers.get(HEADER) else {
            return Ok(None);
        };
        let key = raw
            .to_str()
            .ok()
            .map(str::trim)
            .filter(|k| !k.is_empty() && k.len() <= 255)
            .ok_or_else(|| {
                ApiError::field("Idempotency-Key", "must be 1 to 255 visible characters")
            })?;
        Self::new(key, body).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;
    use serde_json::json;

    fn headers(key: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(HEADER, HeaderValue::from_str(key).expect("a header value"));
        h
    }

    #[test]
    fn a_key_is_trimmed_and_fingerprinted_with_the_body() {
        let body = json!({"message": "Hi"});
        assert_eq!(
            IdempotencyKey::from_request(&HeaderMap::new(), &body).expect("no header is fine"),
            None
        );
        let key = IdempotencyKey::from_request(&headers(" turn-1 "), &body)
            .expect("a good key")
            .expect("a key");
        assert_eq!(key.as_str(), "turn-1");
        assert_eq!(key, IdempotencyKey::new("turn-1", &body).expect("a key"));
        assert_ne!(
            key,
            IdempotencyKey::new("turn-1", &json!({"message": "Other"})).expect("a key")
        );
    }

    #[test]
    fn a_blank_or_overlong_key_is_a_field_error() {
        for bad in ["  ", &"k".repeat(256)] {
            let err =
                IdempotencyKey::from_request(&headers(bad), &json!({})).expect_err("a bad key");
            assert_eq!(err.status(), axum::http::StatusCode::BAD_REQUEST, "{bad}");
        }
    }
}
