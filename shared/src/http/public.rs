//! The public routes' own door (`/api/v1/public/*`, the tenant's customers on the tenant's site): CORS
//! decided per key rather than by `CORS_ALLOWED_ORIGINS`, and the extractors of the two proofs those
//! routes take — [`PublishableKey`] (opening a session) and [`VisitorSession`] (everything after).
//!
//! CORS:
//! - a preflight (`OPTIONS`) carries no key, so it is answered for any origin with the methods and
//!   headers allowed, and no data;
//! - every other answer carries `Access-Control-Allow-Origin: <the request's origin>` only when the key
//!   (or the session's key) allows that origin — or when the answer is `403 origin_not_allowed`, so that
//!   the widget can read why — never `*` and never credentials; `Vary: Origin` always;
//! - a request without `Origin` is refused: the widget always runs on the tenant's site, never on ours,
//!   and a server should use a secret key on the member routes.
//!
//! The layer takes the `Origin` header off the request (the member API's CORS layer then ignores it) and
//! hands it to the extractors as [`RequestOrigin`].

use crate::agent::widget::Budgets;
use crate::auth::api_keys::{self, KeyKind, origin_allowed};
use crate::auth::refresh;
use crate::auth::visitor::{self, PublishableKey, VisitorSession};
use crate::error::{ApiError, ErrorCode};
use crate::http::auth::bearer_of;
use crate::ids::WorkspaceId;
use crate::ratelimit::Decision;
use crate::repo;
use crate::services::public::budgets::{self, Asker};
use crate::state::AppState;
use axum::extract::{FromRef, FromRequestParts, Request};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::header::{self, HeaderValue};
use http::request::Parts;
use http::{Method, StatusCode};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// Where the public routes live.
pub const PREFIX: &str = "/api/v1/public/";

/// The `Origin` a public request was sent with (taken off its headers by [`cors`]).
#[derive(Debug, Clone)]
pub struct RequestOrigin(pub Option<String>);

/// What an extractor tells the layer about the answer: that the request's origin is known to be allowed
/// (or refused with `origin_not_allowed`), so the answer may name it; and the tightest budget decision,
/// for the `RateLimit-*` headers.
#[derive(Debug, Clone, Default)]
struct Slot(Arc<SlotInner>);

#[derive(Debug, Default)]
struct SlotInner {
    verdict: AtomicBool,
    decision: Mutex<Option<Decision>>,
}

impl Slot {
    fn allow_naming_origin(&self) {
        self.0.verdict.store(true, Ordering::Release);
    }

    fn note(&self, decision: Option<Decision>) {
        if let Ok(mut slot) = self.0.decision.lock() {
            *slot = decision;
        }
    }
}

const ALLOW_METHODS: &str = "GET, POST, OPTIONS";
const ALLOW_HEADERS: &str = "authorization, content-type, idempotency-key, x-request-id";
const EXPOSE_HEADERS: &str =
    "retry-after, ratelimit-limit, ratelimit-remaining, ratelimit-reset, x-request-id";

/// The public routes' CORS (see the module's documentation); other paths pass through untouched.
pub async fn cors(mut req: Request, next: Next) -> Response {
    if !req.uri().path().starts_with(PREFIX) {
        return next.run(req).await;
    }
    let origin = req
        .headers_mut()
        .remove(header::ORIGIN)
        .filter(|o| o.as_bytes() != b"null");
    if req.method() == Method::OPTIONS {
        let mut response = StatusCode::NO_CONTENT.into_response();
        let h = response.headers_mut();
        if let Some(origin) = origin {
            h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
            h.insert(
                header::ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_static(ALLOW_METHODS),
            );
            h.insert(
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                HeaderValue::from_static(ALLOW_HEADERS),
            );
            h.insert(
                header::ACCESS_CONTROL_MAX_AGE,
                HeaderValue::from_static("600"),
            );
        }
        h.insert(header::VARY, HeaderValue::from_static("origin"));
        return response;
    }
    let slot = Slot::default();
    req.extensions_mut().insert(slot.clone());
    req.extensions_mut().insert(RequestOrigin(
        origin
            .as_ref()
            .and_then(|o| o.to_str().ok())
            .map(str::to_owned),
    ));
    let mut response = next.run(req).await;
    response
        .headers_mut()
        .insert(header::VARY, HeaderValue::from_static("origin"));
    if let Ok(Some(decision)) = slot.0.decision.lock().map(|d| *d)
        && response.status() != StatusCode::TOO_MANY_REQUESTS
    {
        crate::http::ratelimit::set_headers(&mut response, &decision);
    }
    let h = response.headers_mut();
    if slot.0.verdict.load(Ordering::Acquire)
        && let Some(origin) = origin
    {
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        h.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static(EXPOSE_HEADERS),
        );
    }
    response
}

/// The request's origin and the slot, as the layer left them.
fn origin_of(parts: &Parts) -> (Option<String>, Option<Slot>) {
    (
        parts
            .extensions
            .get::<RequestOrigin>()
            .and_then(|o| o.0.clone()),
        parts.extensions.get::<Slot>().cloned(),
    )
}

/// Whether `origin` may call with a key allowing `allowed`: on yes (and on the refusal, which the widget
/// must be able to read) the answer names the origin.
fn check_origin(
    allowed: &[String],
    origin: Option<&str>,
    slot: Option<&Slot>,
) -> Result<(), ApiError> {
    let Some(origin) = origin else {
        return Err(ApiError::new(
            ErrorCode::OriginNotAllowed,
            "The public routes answer pages on a key's allowed origins only, and this request has no Origin header. Call them from the page the widget runs on; from a server, use a secret key on the member routes.",
        ));
    };
    if let Some(slot) = slot {
        slot.allow_naming_origin();
    }
    if origin_allowed(allowed, Some(origin)) {
        Ok(())
    } else {
        Err(ApiError::new(
            ErrorCode::OriginNotAllowed,
            format!(
                "This key does not allow pages on {origin}: a workspace admin can create a publishable key whose allowedOrigins include it."
            ),
        ))
    }
}

fn wrong_credential(token: Option<&str>, origin: Option<&str>) -> ApiError {
    match token.and_then(KeyKind::of_token) {
        Some(KeyKind::Secret) if origin.is_some() => ApiError::new(
            ErrorCode::SecretKeyInBrowser,
            "A secret key must never reach a browser: this request carries an Origin header. Use a publishable key (pk_ws_…) in pages.",
        ),
        Some(KeyKind::Secret) => ApiError::forbidden(
            "A secret key opens the member routes its scopes allow; the public routes take a publishable key (pk_ws_…) and then a visitor session token.",
        ),
        _ => ApiError::unauthorized(
            "The public routes take a visitor session token (vs_…) from POST /api/v1/public/sessions; a member's access token opens the member API only.",
        ),
    }
}

impl<S> FromRequestParts<S> for PublishableKey
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let (origin, slot) = origin_of(parts);
        let token = bearer_of(parts).ok_or_else(|| {
            ApiError::unauthorized(
                "Send the workspace's publishable key: Authorization: Bearer pk_ws_….",
            )
        })?;
        if KeyKind::of_token(token) != Some(KeyKind::Publishable) {
            return Err(match KeyKind::of_token(token) {
                Some(_) => wrong_credential(Some(token), origin.as_deref()),
                None => ApiError::unauthorized(
                    "Opening a visitor session takes the workspace's publishable key: Authorization: Bearer pk_ws_….",
                ),
            });
        }
        let unknown = || ApiError::unauthorized("Unknown or revoked publishable key.");
        if !api_keys::is_well_formed(token) {
            return Err(unknown());
        }
        let app = AppState::from_ref(state);
        let key = {
            let client = app.db.get().await?;
            repo::api_keys::find_by_hash(&**client, &api_keys::hash(token)).await?
        }
        .filter(|k| !k.revoked && k.kind == KeyKind::Publishable.as_str())
        .ok_or_else(unknown)?;
        check_origin(&key.allowed_origins, origin.as_deref(), slot.as_ref())?;
        if key.suspended {
            return Err(suspended());
        }
        tracing::Span::current().record("api_key_id", tracing::field::display(key.id));
        let workspace = WorkspaceId::from_trusted_source(key.workspace);
        spend(&app, parts, (workspace, key.id, None), slot.as_ref(), None).await?;
        Ok(PublishableKey::checked(
            workspace,
            key.id,
            origin.unwrap_or_default(),
        ))
    }
}

fn suspended() -> ApiError {
    ApiError::new(
        ErrorCode::WorkspaceSuspended,
        "This chat is not available right now.",
    )
}

/// A session checked (key, origin, expiry, workspace), before any budget; with the workspace's budgets.
async fn checked_session(
    parts: &Parts,
    app: &AppState,
) -> Result<(VisitorSession, Budgets, Option<Slot>), ApiError> {
    let (origin, slot) = origin_of(parts);
    let token = bearer_of(parts);
    let Some(token) = token.filter(|t| visitor::is_session_token(t)) else {
        return Err(wrong_credential(token, origin.as_deref()));
    };
    let unknown = || {
        ApiError::unauthorized(
            "Unknown visitor session: open one with POST /api/v1/public/sessions.",
        )
    };
    if !refresh::is_prefixed_token(token, visitor::SESSION_TOKEN_PREFIX) {
        return Err(unknown());
    }
    let session = {
        let client = app.db.get().await?;
        repo::visitors::find_session(&**client, &refresh::hash(token)).await?
    }
    .ok_or_else(unknown)?;
    if session.key_revoked {
        return Err(ApiError::unauthorized(
            "The key this session was opened with has been revoked.",
        ));
    }
    // Bound to the origin it was opened from, which the key must still allow.
    let from_same_origin = origin.as_deref() == Some(session.origin.as_str());
    let allowed = if from_same_origin {
        session.allowed_origins.as_slice()
    } else {
        &[]
    };
    check_origin(allowed, origin.as_deref(), slot.as_ref())?;
    if session.expired {
        return Err(ApiError::new(
            ErrorCode::TokenExpired,
            "The visitor session has expired: open a new one with POST /api/v1/public/sessions and the visitor token (or a fresh identity token).",
        ));
    }
    if session.suspended {
        return Err(suspended());
    }
    tracing::Span::current().record("api_key_id", tracing::field::display(session.key));
    let budgets: Budgets = session
        .budgets
        .and_then(|b| serde_json::from_value(b).ok())
        .unwrap_or_default();
    Ok((
        VisitorSession::checked(
            WorkspaceId::from_trusted_source(session.workspace),
            session.visitor,
            session.key,
            session.origin,
            session.identified,
        ),
        budgets,
        slot,
    ))
}

/// Checks a public request against its budgets — the workspace's key's, the visitor's once there is a
/// session, and for a message the turn's — noting the tightest decision for the answer's headers.
async fn spend(
    app: &AppState,
    parts: &Parts,
    (workspace, key, visitor): (WorkspaceId, uuid::Uuid, Option<uuid::Uuid>),
    slot: Option<&Slot>,
    message: Option<&budgets::Message<'_>>,
) -> Result<(), ApiError> {
    let ip = crate::http::ratelimit::client_ip(&parts.extensions, &parts.headers);
    let asker = Asker {
        workspace,
        key,
        ip: &ip,
        visitor,
    };
    let decision = budgets::check(app, &asker, message).await?;
    if let Some(slot) = slot {
        slot.note(decision);
    }
    Ok(())
}

impl VisitorSession {
    /// Whose budgets the session's requests spend: its workspace, key and visitor.
    fn budget_owner(&self) -> (WorkspaceId, uuid::Uuid, Option<uuid::Uuid>) {
        (self.workspace_id, self.key_id, Some(self.visitor_id))
    }
}

impl<S> FromRequestParts<S> for VisitorSession
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let app = AppState::from_ref(state);
        let (session, _, slot) = checked_session(parts, &app).await?;
        spend(&app, parts, session.budget_owner(), slot.as_ref(), None).await?;
        Ok(session)
    }
}

/// A visitor's message (`{message, convId?}`, validated as the member turn's body), from a checked
/// session, counted against every budget a message falls under — the request's and the turn's — in one
/// limiter round trip.
#[derive(Debug)]
pub struct VisitorTurn {
    pub session: VisitorSession,
    pub message: String,
    /// One of the visitor's conversations (checked by the turn), or a new one's id.
    pub conversation: crate::services::public::Conversation,
}

impl<S> axum::extract::FromRequest<S> for VisitorTurn
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let app = AppState::from_ref(state);
        let (parts, body) = req.into_parts();
        let (session, caps, slot) = checked_session(&parts, &app).await?;
        let ip_parts = parts.clone();
        let crate::http::ValidJson(turn) = crate::http::ValidJson::<
            crate::agent::requests::RunRequest,
        >::from_request(
            Request::from_parts(parts, body), state
        )
        .await?;
        let conversation =
            crate::services::public::Conversation::of(turn.conv_id, uuid::Uuid::now_v7());
        let message = budgets::Message {
            conversation: conversation.id(),
            budgets: &caps,
        };
        spend(
            &app,
            &ip_parts,
            session.budget_owner(),
            slot.as_ref(),
            Some(&message),
        )
        .await?;
        Ok(Self {
            session,
            message: turn.message.trim().to_owned(),
            conversation,
        })
    }
}
