//! Opening a visitor session with the workspace's publishable key.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde::Deserialize;
use studio::ApiError;
use studio::auth::visitor::PublishableKey;
use studio::error::ErrorBody;
use studio::http::OptionalJson;
use studio::services::public::sessions::{self, OpenedSession, Opening};
use studio::state::AppState;
use utoipa::ToSchema;
use validator::Validate;

#[derive(Deserialize, Validate, ToSchema, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SessionRequest {
    /// The `visitorToken` of an earlier session (`vt_…`): continue that visitor's conversations.
    #[validate(length(max = 128, message = "must be at most 128 characters"))]
    pub visitor_token: Option<String>,
    /// A token your server signed for a logged-in end user (HS256 with the workspace's identity secret;
    /// `sub`, `iat`, `exp`, optional `email` and `name`): their conversations from any device. An
    /// anonymous visitor's conversations (with `visitorToken`) move to them.
    #[validate(length(max = 4096, message = "must be at most 4096 characters"))]
    pub identity_token: Option<String>,
}

/// Where the streamed turn answers: `PUBLIC_STREAM_URL` (the streaming function's Function URL on
/// Lambda), else this request's own host (the devserver serves every route on one port).
fn stream_url(state: &AppState, headers: &HeaderMap) -> String {
    if let Some(url) = &state.config.public.stream_url {
        return url.clone();
    }
    let host = headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost:3000");
    let scheme = headers
        .get("x-forwarded-proto")
        .and_then(|h| h.to_str().ok())
        .filter(|p| *p == "https")
        .unwrap_or("http");
    format!("{scheme}://{host}/api/v1/public/stream")
}

/// Opens a visitor session: `Authorization: Bearer pk_ws_…` (a publishable key) from a page on one of the
/// key's `allowedOrigins`. Without tokens: a new anonymous visitor (keep its `visitorToken`). With the
/// `visitorToken`: that visitor again. With an `identityToken`: the end user it names. The session token
/// lasts at most an hour; renew by opening a new session the same way.
#[utoipa::path(operation_id = "openVisitorSession", post, path = "/api/v1/public/sessions", tag = "public", security(("publishableKey" = [])),
    request_body(content = Option<SessionRequest>, description = "Optional: leave it out for a new anonymous visitor"),
    responses(
        (status = 201, body = OpenedSession),
        (status = 400, body = ErrorBody),
        (status = 401, description = "unknown or revoked key; unknown visitor token; an identity token refused (token_expired when expired)", body = ErrorBody),
        (status = 403, description = "origin_not_allowed (also for a missing Origin); identity_required; workspace_suspended; a secret key (secret_key_in_browser)", body = ErrorBody),
        (status = 429, body = ErrorBody)))]
pub(crate) async fn open(
    State(state): State<AppState>,
    key: PublishableKey,
    headers: HeaderMap,
    OptionalJson(req): OptionalJson<SessionRequest>,
) -> Result<(StatusCode, Json<OpenedSession>), ApiError> {
    let who = Opening {
        visitor_token: req.visitor_token.as_deref().map(str::trim),
        identity_token: req.identity_token.as_deref().map(str::trim),
    };
    let opened = sessions::open(&state, &key, who, stream_url(&state, &headers)).await?;
    Ok((StatusCode::CREATED, Json(opened)))
}
