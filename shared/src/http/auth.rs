//! `requireAuth`: a valid access token in `Authorization: Bearer …` — ours, or an external identity
//! provider's (`auth::oidc`). A workspace API key in its place is
//! refused here with its own answer: routes that take an [`AuthUser`] need a person.

use crate::auth::api_keys::KeyKind;
use crate::error::{ApiError, ErrorCode};
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

/// Where a workspace key can never act: a secret key from a browser (a request with an `Origin`) is
/// `secret_key_in_browser` wherever it is sent, and a publishable key opens only the public routes.
pub(crate) fn key_refusal(headers: &http::HeaderMap, kind: KeyKind) -> Option<ApiError> {
    match kind {
        KeyKind::Secret if headers.contains_key(http::header::ORIGIN) => Some(ApiError::new(
            ErrorCode::SecretKeyInBrowser,
            "A secret key must never reach a browser: this request carries an Origin header. Call the API from your server, or use a publishable key in pages.",
        )),
        KeyKind::Secret => None,
        KeyKind::Publishable => Some(ApiError::forbidden(
            "A publishable key opens only the public routes (/api/v1/public/*).",
        )),
    }
}

/// A secret key on a route that needs a person (members, billing, keys, the intake, the account).
pub(crate) fn person_required() -> ApiError {
    ApiError::new(
        ErrorCode::PersonRequired,
        "This route needs a person: sign in as a member. A secret key opens only the agents routes its scopes allow.",
    )
}

/// The bearer token of a request, if any.
pub(crate) fn bearer_of(parts: &Parts) -> Option<&str> {
    bearer(parts.headers.get(http::header::AUTHORIZATION)?)
}

impl AuthUser {
    /// The caller a bearer token names, once verified; recorded on the request's log span. A token
    /// whose `iss` is a configured identity provider's is verified against that provider's keys (and its
    /// account provisioned on first use, `services::identities`); any other is one of ours (HS256).
    pub(crate) async fn verify(state: &AppState, token: &str) -> Result<Self, ApiError> {
        let user = match &state.oidc {
            Some(oidc) if oidc.claims_issuer(token) => {
                let identity = oidc.verify(token).await?;
                let signed_in = crate::services::identities::resolve(state, &identity).await?;
                AuthUser {
                    user_id: signed_in.user_id,
                    token_workspace: signed_in.default_workspace,
                }
            }
            _ => {
                let claims = state.jwt.verify(token)?;
                AuthUser {
                    user_id: claims.sub,
                    token_workspace: claims.wid,
                }
            }
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
        if let Some(kind) = KeyKind::of_token(token) {
            return Err(key_refusal(&parts.headers, kind).unwrap_or_else(person_required));
        }
        let user = AuthUser::verify(&AppState::from_ref(state), token).await?;
        parts.extensions.insert(user);
        Ok(user)
    }
}
