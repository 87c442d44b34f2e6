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

impl<S> FromRequestParts<S> for AuthUser
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let state = AppState::from_ref(state);
        if let Some(user) = parts.extensions.get::<AuthUser>() {
            return Ok(*user);
        }
        let header = parts
            .headers
            .get(http::header::AUTHORIZATION)
            .ok_or_else(|| {
                ApiError::unauthorized("Send an access token: Authorization: Bearer <token>.")
            })?;
        let token = header
            .to_str()
            .ok()
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                ApiError::unauthorized("The Authorization header must be: Bearer <token>.")
            })?;
        let claims = state.jwt.verify(token)?;
        let user = AuthUser {
            user_id: claims.sub,
            token_workspace: claims.wid,
        };
        tracing::Span::current().record("user_id", tracing::field::display(user.user_id));
        parts.extensions.insert(user);
        Ok(user)
    }
}
