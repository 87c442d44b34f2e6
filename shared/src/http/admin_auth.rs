//! `adminAuth`: the platform's operators, by either of two strategies — the shared `X-Admin-Key`
//! (compared in constant time with `ADMIN_API_KEY`) or the bearer token of a user flagged as platform
//! admin (read from the database on every request, so revoking the flag takes effect at once).

use crate::auth::{Actor, PlatformAdmin};
use crate::error::ApiError;
use crate::http::AuthUser;
use crate::repo;
use crate::state::AppState;
use axum::extract::{FromRef, FromRequestParts};
use http::request::Parts;
use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

pub const ADMIN_KEY_HEADER: &str = "x-admin-key";

/// Constant-time comparison of a presented key with the configured one. Both are hashed first, so the
/// comparison's time depends on neither key's length nor content.
pub fn admin_key_matches(presented: &str, configured: &str) -> bool {
    let a = Sha256::digest(presented.as_bytes());
    let b = Sha256::digest(configured.as_bytes());
    a.ct_eq(&b).into()
}

impl<S> FromRequestParts<S> for PlatformAdmin
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let app = AppState::from_ref(state);
        if let Some(header) = parts.headers.get(ADMIN_KEY_HEADER) {
            let Some(configured) = &app.config.admin_api_key else {
                return Err(ApiError::unauthorized(
                    "Admin keys are not accepted here: ADMIN_API_KEY is not configured. Use a platform admin's access token.",
                ));
            };
            let presented = header.to_str().unwrap_or_default();
            if presented.is_empty() || !admin_key_matches(presented, configured.expose_secret()) {
                tracing::warn!("admin request with a wrong admin key");
                return Err(ApiError::unauthorized("The admin key is not valid."));
            }
            return Ok(Self {
                actor: Actor::AdminKey,
            });
        }
        if !parts.headers.contains_key(http::header::AUTHORIZATION) {
            return Err(ApiError::unauthorized(
                "Send X-Admin-Key, or a platform admin's access token as Authorization: Bearer <token>.",
            ));
        }
        let user = AuthUser::from_request_parts(parts, state).await?;
        let client = app.db.get().await?;
        if !repo::users::is_platform_admin(&**client, user.user_id).await? {
            tracing::warn!(user_id = %user.user_id, "admin request by a user who is not a platform admin");
            return Err(ApiError::forbidden(
                "Only platform admins may use the admin API.",
            ));
        }
        Ok(Self {
            actor: Actor::PlatformAdmin(user.user_id),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn when_keys_are_compared_only_the_exact_key_matches() {
        let key = "k-0123456789abcdef0123456789abcdef";
        assert!(admin_key_matches(key, key));
        assert!(!admin_key_matches(
            "k-0123456789abcdef0123456789abcdeF",
            key
        ));
        assert!(!admin_key_matches("", key));
        assert!(!admin_key_matches(&format!("{key}x"), key));
    }
}
