//! Opening a visitor session: with the workspace's publishable key from an allowed origin, for a new
//! anonymous visitor, an anonymous visitor who shows their visitor token, or an end user the tenant
//! signed (whose earlier anonymous conversations then move to them).

use crate::agent::widget::EffectiveWidget;
use crate::auth::identity::{self, IdentityError, VerifiedIdentity};
use crate::auth::refresh;
use crate::auth::visitor::{PublishableKey, SESSION_TOKEN_PREFIX, VISITOR_TOKEN_PREFIX};
use crate::error::{ApiError, ErrorCode};
use crate::repo::visitors::{self, NewSession};
use crate::state::AppState;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

/// A session just opened.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OpenedSession {
    /// `vs_…`: send it as `Authorization: Bearer` on the other public routes until `expiresAt`.
    pub session_token: String,
    /// The visitor's id: safe to show (it opens nothing by itself).
    pub visitor_id: Uuid,
    /// `vt_…`: keep it (e.g. in `localStorage`) and send it when opening the next session, to continue
    /// this visitor's conversations. Null for an end user with a signed identity, who continues with a
    /// fresh identity token instead.
    pub visitor_token: Option<String>,
    pub expires_at: DateTime<Utc>,
    /// Where the streamed turn answers (`POST`, the same session token).
    pub stream_url: String,
    pub agent: SessionAgent,
}

/// What the widget shows of the agent.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionAgent {
    pub name: String,
    pub greeting: String,
    /// `#rrggbb`, or null for the widget's own colour.
    pub brand_color: Option<String>,
    /// Whether only end users with a signed identity may chat.
    pub require_identity: bool,
}

/// Who opens the session, as the request says.
#[derive(Debug, Clone, Copy, Default)]
pub struct Opening<'a> {
    pub visitor_token: Option<&'a str>,
    pub identity_token: Option<&'a str>,
}

fn identity_refused(e: &IdentityError) -> ApiError {
    let code = if matches!(e, IdentityError::Expired) {
        ErrorCode::TokenExpired
    } else {
        ErrorCode::Unauthorized
    };
    ApiError::new(code, format!("The identity token was refused: {e}."))
}

/// Verifies a signed identity against the workspace's secrets.
async fn verified(
    state: &AppState,
    db: &impl tokio_postgres::GenericClient,
    key: &PublishableKey,
    token: &str,
) -> Result<VerifiedIdentity, ApiError> {
    let secrets = crate::services::identity::secrets(db, key.workspace_id)
        .await?
        .ok_or_else(|| {
            ApiError::unauthorized(
                "This workspace has no identity secret, so it cannot verify identity tokens: an admin creates one with POST /api/v1/workspaces/{workspaceId}/identity-secret.",
            )
        })?;
    identity::verify(
        token,
        &secrets,
        state.config.identity.token_max_lifetime,
        Utc::now(),
    )
    .map_err(|e| identity_refused(&e))
}

fn unknown_visitor() -> ApiError {
    ApiError::unauthorized(
        "Unknown visitor token (the visitor may have been erased): open a session without it to start afresh.",
    )
}

/// Opens a session (see the module's documentation). `stream_url` is where the streamed turn answers.
pub async fn open(
    state: &AppState,
    key: &PublishableKey,
    who: Opening<'_>,
    stream_url: String,
) -> Result<OpenedSession, ApiError> {
    let ws = key.workspace_id;
    let mut client = state.db.get().await?;
    let widget: EffectiveWidget = crate::services::widget::load(&**client, ws).await?.settings;
    let identity = match who.identity_token {
        Some(token) => Some(verified(state, &**client, key, token).await?),
        None => None,
    };
    if identity.is_none() && widget.require_identity {
        return Err(ApiError::new(
            ErrorCode::IdentityRequired,
            "This chat is for signed-in customers only: the site must pass an identity token signed with the workspace's identity secret.",
        ));
    }
    let tx = client.transaction().await?;
    // The anonymous visitor the token names. Unknown is a 401 for an anonymous session; with a verified
    // identity there is simply nothing to move (the widget may hold the token of an erased visitor).
    let anonymous = match who.visitor_token {
        Some(token) if refresh::is_prefixed_token(token, VISITOR_TOKEN_PREFIX) => {
            visitors::find_anonymous(&*tx, ws, &refresh::hash(token)).await?
        }
        _ => None,
    };
    if who.visitor_token.is_some() && anonymous.is_none() && identity.is_none() {
        return Err(unknown_visitor());
    }
    let (visitor_id, visitor_token) = match (&identity, anonymous) {
        (Some(who), anonymous) => {
            let id = visitors::upsert_identified(
                &*tx,
                ws,
                &who.sub,
                who.email.as_deref(),
                who.name.as_deref(),
            )
            .await?;
            // The anonymous visitor becomes this end user: their conversations move, the anonymous
            // visitor (and its sessions) goes.
            if let Some(from) = anonymous.filter(|from| *from != id) {
                let moved = visitors::move_conversations(&*tx, ws, from, id).await?;
                visitors::delete(&*tx, ws, from).await?;
                tracing::info!(workspace_id = %ws, visitor_id = %id, moved, "anonymous visitor identified");
            }
            (id, None)
        }
        (None, Some(id)) => (id, who.visitor_token.map(str::to_owned)),
        (None, None) => {
            let (token, hash) =
                refresh::generate_prefixed(VISITOR_TOKEN_PREFIX).map_err(ApiError::internal)?;
            let id = Uuid::now_v7();
            visitors::insert_anonymous(&*tx, ws, id, &hash).await?;
            (id, Some(token))
        }
    };
    let (session_token, hash) =
        refresh::generate_prefixed(SESSION_TOKEN_PREFIX).map_err(ApiError::internal)?;
    let expires_at = Utc::now()
        + chrono::Duration::from_std(state.config.public.session_ttl)
            .map_err(ApiError::internal)?;
    visitors::insert_session(
        &*tx,
        ws,
        &NewSession {
            token_hash: &hash,
            key: key.key_id,
            visitor: visitor_id,
            origin: &key.origin,
            expires_at,
        },
    )
    .await?;
    tx.commit().await?;
    tracing::info!(workspace_id = %ws, visitor_id = %visitor_id, identified = identity.is_some(), "visitor session opened");
    Ok(OpenedSession {
        session_token,
        visitor_id,
        visitor_token,
        expires_at,
        stream_url,
        agent: SessionAgent {
            name: widget.agent_name,
            greeting: widget.greeting,
            brand_color: widget.brand_color,
            require_identity: widget.require_identity,
        },
    })
}
