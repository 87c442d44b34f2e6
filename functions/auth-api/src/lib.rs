//! `/api/v1/auth/*`: register, login, token refresh, logout, the caller's profile and default workspace, and
//! the identity providers' accounts linked to it.

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use serde::Deserialize;
use studio::error::ErrorBody;
use studio::http::{AuthUser, Path, ValidJson};
use studio::openapi::answers;
use studio::services::auth::{self, LoginResponse, MeResponse, RegisterResponse, TokenPair};
use studio::services::identities::{self, IdentityView};
use studio::text::single_line;
use studio::{ApiError, AppState};
use utoipa::{OpenApi, ToSchema};
use uuid::Uuid;
use validator::Validate;

mod erasure;
mod export;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(HEALTH.path, get(studio::http::health))
        .route("/api/v1/auth/register", post(register))
        .route("/api/v1/auth/login", post(login))
        .route("/api/v1/auth/token", post(token))
        .route("/api/v1/auth/logout", post(logout))
        .route("/api/v1/auth/me", get(me).delete(erasure::erase_account))
        // Routes that need an access token are listed in the rate-limit layer
        // (`studio::http::ratelimit`): every other auth route is on the per-IP credential budget.
        .route(
            "/api/v1/auth/me/export",
            get(export::get).post(export::request),
        )
        .route(
            "/api/v1/auth/me/default-workspace",
            put(set_default_workspace),
        )
        .route(
            "/api/v1/auth/identities",
            get(list_identities).post(link_identity),
        )
        .route(
            "/api/v1/auth/identities/{identityId}",
            delete(unlink_identity),
        )
        .route("/api/v1/auth/password/forgot", post(forgot_password))
        .route("/api/v1/auth/password/reset", post(reset_password))
}

/// Liveness and database reachability of the auth function.
const HEALTH: studio::openapi::HealthRoute = studio::openapi::HealthRoute {
    path: "/api/v1/auth/health",
    operation_id: "authHealth",
    tag: "auth",
    summary: "Liveness and database reachability of the auth function.",
};

#[derive(OpenApi)]
#[openapi(
    paths(register, login, token, logout, me, erasure::erase_account, export::request, export::get, set_default_workspace, list_identities, link_identity, unlink_identity, forgot_password, reset_password),
    components(schemas(studio::services::exports::ExportView, erasure::EraseAccountRequest, studio::services::erasure::Erased, studio::services::erasure::DeletedWorkspace, RegisterRequest, LoginRequest, TokenRequest, LogoutRequest, DefaultWorkspaceRequest, LinkIdentityRequest, Identities, ForgotPasswordRequest, ResetPasswordRequest, Accepted)),
    tags((name = "auth", description = "Accounts, sessions and tokens")),
    modifiers(&HEALTH)
)]
pub struct ApiDoc;

#[derive(Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RegisterRequest {
    #[serde(deserialize_with = "studio::text::email::trimmed")]
    #[validate(custom(function = "studio::text::email::new_address"))]
    pub email: String,
    /// 8 to 128 characters.
    #[validate(length(min = 8, max = 128, message = "must be 8 to 128 characters"))]
    pub password: String,
    #[validate(
        length(min = 1, max = 100, message = "must be 1 to 100 characters"),
        custom(function = "single_line")
    )]
    pub name: String,
    /// The first workspace's name; defaults to "<name>'s workspace".
    #[validate(
        length(min = 1, max = 100, message = "must be 1 to 100 characters"),
        custom(function = "single_line")
    )]
    pub workspace_name: Option<String>,
}

#[derive(Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LoginRequest {
    #[serde(deserialize_with = "studio::text::email::trimmed")]
    #[validate(custom(function = "studio::text::email::known_address"))]
    pub email: String,
    #[validate(length(min = 1, max = 128, message = "must be 1 to 128 characters"))]
    pub password: String,
}

#[derive(Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TokenRequest {
    #[validate(length(min = 1, max = 128, message = "must be 1 to 128 characters"))]
    pub refresh_token: String,
    /// Switch the new access token to this workspace (you must be a member); it becomes your default
    /// workspace. Without it the new token names your default workspace.
    pub workspace_id: Option<Uuid>,
}

#[derive(Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LogoutRequest {
    #[validate(length(min = 1, max = 128, message = "must be 1 to 128 characters"))]
    pub refresh_token: String,
}

#[derive(Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DefaultWorkspaceRequest {
    /// A workspace you are a member of.
    pub workspace_id: Uuid,
}

#[derive(Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LinkIdentityRequest {
    /// A fresh token from one of the deployment's identity providers (`AUTH_OIDC_ISSUERS`): Clerk's
    /// session token, or an OIDC provider's ID or access token.
    #[validate(length(min = 1, max = 16384, message = "must be 1 to 16384 characters"))]
    pub token: String,
}

/// The identities an account signs in with.
#[derive(serde::Serialize, ToSchema)]
pub struct Identities {
    pub items: Vec<IdentityView>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct IdentityPath {
    identity_id: Uuid,
}

#[derive(Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ForgotPasswordRequest {
    #[serde(deserialize_with = "studio::text::email::trimmed")]
    #[validate(custom(function = "studio::text::email::known_address"))]
    pub email: String,
}

#[derive(Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ResetPasswordRequest {
    /// The token from the reset link.
    #[validate(length(min = 1, max = 128, message = "must be 1 to 128 characters"))]
    pub token: String,
    /// The new password, 8 to 128 characters.
    #[validate(length(min = 8, max = 128, message = "must be 8 to 128 characters"))]
    pub password: String,
}

/// The same answer whatever happened behind it.
#[derive(serde::Serialize, ToSchema)]
pub struct Accepted {
    pub ok: bool,
    pub message: String,
}

/// Creates an account and its first workspace (owned by the new user), and logs in.
#[utoipa::path(operation_id = "register", post, path = "/api/v1/auth/register", tag = "auth", request_body = RegisterRequest,
    responses(
        (status = 201, body = RegisterResponse),
        (status = 400, description = "validation_failed or malformed_json", body = ErrorBody),
        (status = 409, description = "email_taken", body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody), answers::Unavailable))]
async fn register(
    State(state): State<AppState>,
    ValidJson(req): ValidJson<RegisterRequest>,
) -> Result<Response, ApiError> {
    let out = auth::register(
        &state,
        &req.email,
        req.password.into(),
        &req.name,
        req.workspace_name.as_deref(),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(out)).into_response())
}

/// Logs in with email and password. Every wrong credential is the same 401 `invalid_credentials`.
#[utoipa::path(operation_id = "login", post, path = "/api/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses(
        (status = 200, body = LoginResponse),
        (status = 400, body = ErrorBody),
        (status = 401, description = "invalid_credentials", body = ErrorBody), answers::Unavailable))]
async fn login(
    State(state): State<AppState>,
    ValidJson(req): ValidJson<LoginRequest>,
) -> Result<Json<LoginResponse>, ApiError> {
    Ok(Json(
        auth::login(&state, &req.email, req.password.into()).await?,
    ))
}

/// Exchanges a refresh token for a new pair; the presented token is spent. Presenting a spent token
/// again revokes its whole family.
#[utoipa::path(operation_id = "refreshToken", post, path = "/api/v1/auth/token", tag = "auth", request_body = TokenRequest,
    responses(
        (status = 200, body = TokenPair),
        (status = 400, body = ErrorBody),
        (status = 401, description = "unauthorized (unknown, spent or revoked token) or token_expired", body = ErrorBody),
        (status = 404, description = "not a member of workspaceId", body = ErrorBody), answers::Unavailable))]
async fn token(
    State(state): State<AppState>,
    ValidJson(req): ValidJson<TokenRequest>,
) -> Result<Json<TokenPair>, ApiError> {
    Ok(Json(
        auth::refresh(&state, &req.refresh_token, req.workspace_id).await?,
    ))
}

/// Ends the session: revokes the refresh token's whole family.
#[utoipa::path(operation_id = "logout", post, path = "/api/v1/auth/logout", tag = "auth", request_body = LogoutRequest,
    responses((status = 204), (status = 400, body = ErrorBody), answers::Unavailable))]
async fn logout(
    State(state): State<AppState>,
    ValidJson(req): ValidJson<LogoutRequest>,
) -> Result<StatusCode, ApiError> {
    auth::logout(&state, &req.refresh_token).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The caller, their workspaces with their role in each, and which one is their default.
#[utoipa::path(operation_id = "me", get, path = "/api/v1/auth/me", tag = "auth", security(("bearer" = [])),
    responses(
        (status = 200, body = MeResponse),
        (status = 401, description = "unauthorized or token_expired", body = ErrorBody),
        (status = 429, description = "rate_limited (per user, with Retry-After)", body = ErrorBody), answers::Unavailable))]
async fn me(State(state): State<AppState>, user: AuthUser) -> Result<Json<MeResponse>, ApiError> {
    Ok(Json(auth::me(&state, user.user_id).await?))
}

/// Sets the caller's default workspace.
///
/// The default is the workspace login and token refresh put in the next access token, so the one
/// requests without `X-Workspace-Id` act in. The current access token keeps its workspace: refresh it
/// (`POST /api/v1/auth/token`) to act in the new default at once. A workspace you are not a member of
/// is a 404.
#[utoipa::path(operation_id = "setDefaultWorkspace", put, path = "/api/v1/auth/me/default-workspace", tag = "auth", security(("bearer" = [])),
    request_body = DefaultWorkspaceRequest,
    responses(
        (status = 204),
        (status = 400, description = "validation_failed (workspaceId is not a UUID) or malformed_json", body = ErrorBody),
        (status = 401, description = "unauthorized or token_expired", body = ErrorBody),
        (status = 404, description = "not a member of workspaceId", body = ErrorBody),
        (status = 429, description = "rate_limited (per user, with Retry-After)", body = ErrorBody), answers::Unavailable))]
async fn set_default_workspace(
    State(state): State<AppState>,
    user: AuthUser,
    ValidJson(req): ValidJson<DefaultWorkspaceRequest>,
) -> Result<StatusCode, ApiError> {
    auth::set_default_workspace(&state, user.user_id, req.workspace_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The identity providers' accounts the caller signs in with (Clerk, OIDC), oldest first.
#[utoipa::path(operation_id = "listIdentities", get, path = "/api/v1/auth/identities", tag = "auth", security(("bearer" = [])),
    responses(
        (status = 200, body = Identities),
        (status = 401, description = "unauthorized or token_expired", body = ErrorBody),
        (status = 429, description = "rate_limited (per user, with Retry-After)", body = ErrorBody), answers::Unavailable))]
async fn list_identities(
    State(state): State<AppState>,
    user: AuthUser,
) -> Result<Json<Identities>, ApiError> {
    Ok(Json(Identities {
        items: identities::list(&state, user.user_id).await?,
    }))
}

/// Links an identity provider's account to the caller's, so that its tokens sign in to it.
///
/// The way to bring a provider to an existing account: a provider's first token whose verified email
/// an account already owns is refused (`email_taken`), never linked on its own. An account without an
/// email takes the token's verified one (when no other account has it).
#[utoipa::path(operation_id = "linkIdentity", post, path = "/api/v1/auth/identities", tag = "auth", security(("bearer" = [])),
    request_body = LinkIdentityRequest,
    responses(
        (status = 201, description = "linked", body = IdentityView),
        (status = 200, description = "it was linked to this account already", body = IdentityView),
        (status = 400, description = "invalid_token (not a configured provider's, expired, or refused: the message says why) or validation_failed", body = ErrorBody),
        (status = 401, description = "unauthorized or token_expired (the caller's own token)", body = ErrorBody),
        (status = 409, description = "conflict: the identity signs in to another account", body = ErrorBody),
        (status = 429, description = "rate_limited (per user, with Retry-After)", body = ErrorBody), answers::Unavailable))]
async fn link_identity(
    State(state): State<AppState>,
    user: AuthUser,
    ValidJson(req): ValidJson<LinkIdentityRequest>,
) -> Result<Response, ApiError> {
    let (created, view) = identities::link(&state, user.user_id, &req.token).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(view)).into_response())
}

/// Unlinks one of the caller's identities; refused while it is the account's only way to sign in.
#[utoipa::path(operation_id = "unlinkIdentity", delete, path = "/api/v1/auth/identities/{identityId}", tag = "auth", security(("bearer" = [])),
    params(("identityId" = Uuid, Path)),
    responses(
        (status = 204),
        (status = 401, description = "unauthorized or token_expired", body = ErrorBody),
        (status = 404, description = "no such identity on this account", body = ErrorBody),
        (status = 409, description = "conflict: the account has no password and no other identity", body = ErrorBody),
        (status = 429, description = "rate_limited (per user, with Retry-After)", body = ErrorBody), answers::Unavailable))]
async fn unlink_identity(
    State(state): State<AppState>,
    user: AuthUser,
    Path(path): Path<IdentityPath>,
) -> Result<StatusCode, ApiError> {
    identities::unlink(&state, user.user_id, path.identity_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Mails a password reset link when the address has an account. The answer (and its timing) is the same
/// whether or not it has one.
#[utoipa::path(operation_id = "forgotPassword", post, path = "/api/v1/auth/password/forgot", tag = "auth", request_body = ForgotPasswordRequest,
    responses(
        (status = 202, body = Accepted),
        (status = 400, body = ErrorBody),
        (status = 429, description = "rate_limited", body = ErrorBody), answers::Unavailable))]
async fn forgot_password(
    State(state): State<AppState>,
    ValidJson(req): ValidJson<ForgotPasswordRequest>,
) -> Result<Response, ApiError> {
    auth::forgot_password(&state, &req.email).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(Accepted {
            ok: true,
            message: "If an account uses this address, a reset link is on its way.".into(),
        }),
    )
        .into_response())
}

/// Sets a new password with the token from a reset link. The token works once; every session of the
/// account ends (its refresh tokens are revoked).
#[utoipa::path(operation_id = "resetPassword", post, path = "/api/v1/auth/password/reset", tag = "auth", request_body = ResetPasswordRequest,
    responses(
        (status = 204),
        (status = 400, description = "validation_failed, or invalid_token (used, expired, superseded or unknown)", body = ErrorBody),
        (status = 429, description = "rate_limited", body = ErrorBody), answers::Unavailable))]
async fn reset_password(
    State(state): State<AppState>,
    ValidJson(req): ValidJson<ResetPasswordRequest>,
) -> Result<StatusCode, ApiError> {
    auth::reset_password(&state, &req.token, req.password.into()).await?;
    Ok(StatusCode::NO_CONTENT)
}
