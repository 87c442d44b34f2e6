//! `DELETE /api/v1/auth/me`: the caller erases their own account.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use studio::error::ErrorBody;
use studio::http::{AuthUser, ValidJson};
use studio::openapi::answers;
use studio::services::erasure::{self, Erased, Proof};
use studio::{ApiError, AppState};
use utoipa::ToSchema;
use validator::Validate;

/// The proof that the caller owns the account: exactly one of the two.
#[derive(Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct EraseAccountRequest {
    /// The account's password.
    #[validate(length(min = 1, max = 128, message = "must be 1 to 128 characters"))]
    pub password: Option<String>,
    /// For an account that signs in through a provider: a token of an identity linked to it, issued
    /// within the last 10 minutes.
    #[validate(length(min = 1, max = 16384, message = "must be 1 to 16384 characters"))]
    pub token: Option<String>,
}

/// Erases the caller's account, at once and for good.
///
/// The name, password and sessions go; the address stays reserved (as a one-way digest) until
/// `addressReleasedAt`; messages the account wrote stay in their workspaces without an author.
/// Workspaces the account is the last member of are deleted with it and purged at their `purgeAt`; the
/// account leaves the others. The only owner of a workspace other members use must first make another
/// member an owner: 409 with those workspaces in `details.workspaces`, and nothing changed.
#[utoipa::path(operation_id = "eraseAccount", delete, path = "/api/v1/auth/me", tag = "auth", security(("bearer" = [])),
    request_body = EraseAccountRequest,
    responses(
        (status = 200, description = "erased", body = Erased),
        (status = 400, description = "validation_failed (send exactly one of password and token), malformed_json, or invalid_token (the provider token is not valid, or not fresh)", body = ErrorBody),
        (status = 401, description = "unauthorized or token_expired", body = ErrorBody),
        (status = 403, description = "forbidden: the password is wrong, or the token is not of an identity linked to the account", body = ErrorBody),
        (status = 409, description = "conflict: the only owner of workspaces other members use (listed in details.workspaces)", body = ErrorBody),
        (status = 429, description = "rate_limited (per user, with Retry-After)", body = ErrorBody), answers::Unavailable))]
pub(crate) async fn erase_account(
    State(state): State<AppState>,
    user: AuthUser,
    ValidJson(req): ValidJson<EraseAccountRequest>,
) -> Result<Json<Erased>, ApiError> {
    let proof = match (req.password, req.token) {
        (Some(password), None) => Proof::Password(password.into()),
        (None, Some(token)) => Proof::ProviderToken(token),
        _ => {
            return Err(ApiError::field(
                "password",
                "send exactly one of password (the account's) and token (a fresh token of a linked provider)",
            ));
        }
    };
    Ok(Json(erasure::erase(&state, user.user_id, proof).await?))
}
