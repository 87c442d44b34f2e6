//! `requireAuth`: a valid access token in `Authorization: Bearer …`.

use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::{FromRef, FromRequestParts};
use http::request::Parts;
use uuid::Uuid;

/// The authenticated caller, from a verified access token.
#[derive(Debug, Clone, Copy)]
pub struct AuthUser {
    pub user_id: Uuid,
    /// The workspace the token was issued for (`wid`), a default only: membership is checked per request.
    pub token_workspace: Option<Uuid>,
}

/// The token of an `Authorization: Bearer <token>` header.
pub(crate) fn bearer(header: &http::HeaderValue) -> Option<&str> {
    header
        .to_str()
        .ok()
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

impl AuthUser {
    /// The caller an access token names, once verified; recorded on the request's log span.
    pub(crate) fn verify(state: &AppState, token: &str) -> Result<Self, ApiError> {
        let claims = state.jwt.verify(token)?;
        let user = AuthUser {
            user_id: claims.sub,
            token_workspace: claims.wid,
        };
        tracing::Span::current().record("user_id", tracing::field::display(user.user_id));
        Ok(user)
    }
}

impl<S> FromRequestParts<S> for AuthUser
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        // Verified once per request: by the rate-limit layer (which needs the tenant) or here.
        if let Some(user) = parts.extensions.get::<AuthUser>() {
            return Ok(*user);
        }
        let header = parts
            .headers
            .get(http::header::AUTHORIZATION)
            .ok_or_else(|| {
                ApiError::unauthorized("Send an access token: Authorization: Bearer <token>.")
            })?;
        let token = bearer(header).ok_or_else(|| {
            ApiError::unauthorized("The Authorization header must be: Bearer <token>.")
        })?;
        let user = AuthUser::verify(&AppState::from_ref(state), token)?;
        parts.extensions.insert(user);
        Ok(user)
    }
}
