//! `requireWorkspace` + `requireRole` as the extractor of [`Tenant`]: which workspace a request acts on, and whether the caller may.
//!
//! A route with the workspace id in its path (`{workspaceId}`) uses that id and ignores the header; every
//! other route uses `X-Workspace-Id`, else the token's `wid`. Membership and role are read from the
//! database on every request, so a removed member loses access at once. A workspace the caller is not a
//! member of is a 404 (never a 403 that would confirm it exists); a member whose role is too low gets 403.
//!
//! A secret workspace key (`Authorization: Bearer sk_ws_…`) is accepted where the route's [`Access`]
//! allows keys: looked up by its hash in one round trip, it acts in its own workspace (another workspace's
//! id is a 404, as for a non-member; without a path id or `X-Workspace-Id` it acts in its own) as a
//! `member` with no user, when one of its scopes is the route's. A revoked or unknown key is a 401, a
//! missing scope `403 insufficient_scope`, a route for people `403 person_required`, and a secret key from
//! a browser (`Origin` present) `403 secret_key_in_browser`, before any lookup.

use crate::auth::api_keys::{self, KeyKind, Scope};
use crate::auth::tenant::{Access, MinRole, Tenant};
use crate::error::{ApiError, ErrorCode};
use crate::http::AuthUser;
use crate::http::auth::{bearer_of, key_refusal, person_required};
use crate::ids::{Role, WorkspaceId};
use crate::repo;
use crate::state::AppState;
use axum::extract::{FromRef, FromRequestParts, RawPathParams};
use http::request::Parts;
use uuid::Uuid;

pub const WORKSPACE_HEADER: &str = "x-workspace-id";
pub const WORKSPACE_PATH_PARAM: &str = "workspaceId";

/// The workspace a request names; `default` (the token's `wid`, or a key's own workspace) when it names
/// none.
async fn requested_workspace<S: Send + Sync>(
    parts: &mut Parts,
    state: &S,
    default: Option<Uuid>,
) -> Result<Uuid, ApiError> {
    if let Ok(params) = RawPathParams::from_request_parts(parts, state).await
        && let Some((_, raw)) = params.iter().find(|(k, _)| *k == WORKSPACE_PATH_PARAM)
    {
        // An id that cannot exist is simply not found.
        return Uuid::parse_str(raw).map_err(|_| ApiError::not_found("Workspace"));
    }
    if let Some(header) = parts.headers.get(WORKSPACE_HEADER) {
        return header
            .to_str()
            .ok()
            .and_then(|v| Uuid::parse_str(v.trim()).ok())
            .ok_or_else(|| ApiError::field("X-Workspace-Id", "must be a workspace id (UUID)"));
    }
    default.ok_or_else(|| {
        ApiError::field(
            "X-Workspace-Id",
            "no workspace selected: send X-Workspace-Id or refresh the token with a workspaceId",
        )
    })
}

fn suspended() -> ApiError {
    ApiError::new(
        ErrorCode::WorkspaceSuspended,
        "This workspace is suspended by the platform's operators; contact support to restore it.",
    )
}

/// The proof for a secret key, `token`, on a route whose access is `A`.
async fn key_tenant<R: MinRole, A: Access, S: Send + Sync>(
    parts: &mut Parts,
    state: &S,
    app: &AppState,
    kind: KeyKind,
    token: &str,
) -> Result<Tenant<R, A>, ApiError> {
    if let Some(refusal) = key_refusal(&parts.headers, kind) {
        return Err(refusal);
    }
    if A::SCOPES.is_empty() {
        return Err(person_required());
    }
    let unknown = || ApiError::unauthorized("Unknown or revoked API key.");
    if !api_keys::is_well_formed(token) {
        return Err(unknown());
    }
    let key = {
        let client = app.db.get().await?;
        repo::api_keys::find_by_hash(&**client, &api_keys::hash(token)).await?
    }
    .filter(|k| !k.revoked && k.kind == KeyKind::Secret.as_str())
    .ok_or_else(unknown)?;
    let requested = requested_workspace(parts, state, Some(key.workspace)).await?;
    if requested != key.workspace {
        return Err(ApiError::not_found("Workspace"));
    }
    if key.suspended {
        return Err(suspended());
    }
    let granted: Vec<Scope> = key
        .scopes
        .iter()
        .filter_map(|s| Scope::from_db(s))
        .collect();
    if !A::SCOPES.iter().any(|s| granted.contains(s)) {
        let needed: Vec<&str> = A::SCOPES.iter().map(|s| s.as_str()).collect();
        return Err(ApiError::new(
            ErrorCode::InsufficientScope,
            format!(
                "This API key's scopes do not allow this route; it needs one of: {}.",
                needed.join(", ")
            ),
        )
        .with_details(serde_json::json!({"required": A::SCOPES, "granted": granted})));
    }
    if Role::Member < R::ROLE {
        return Err(ApiError::forbidden(format!(
            "This needs the {} role or higher in the workspace; an API key acts as a member.",
            R::ROLE
        )));
    }
    let caller = A::key(key.id).ok_or_else(person_required)?;
    tracing::Span::current().record("api_key_id", tracing::field::display(key.id));
    Ok(Tenant::checked(
        WorkspaceId::from_trusted_source(key.workspace),
        caller,
        Role::Member,
    ))
}

impl<R: MinRole, A: Access, S> FromRequestParts<S> for Tenant<R, A>
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let app = AppState::from_ref(state);
        if let Some(token) = bearer_of(parts)
            && let Some(kind) = KeyKind::of_token(token)
        {
            let token = token.to_owned();
            return key_tenant(parts, state, &app, kind, &token).await;
        }
        let user = AuthUser::from_request_parts(parts, state).await?;
        let requested = requested_workspace(parts, state, user.token_workspace).await?;
        let client = app.db.get().await?;
        let membership =
            repo::members::role_in_active_workspace(&**client, requested, user.user_id)
                .await?
                .ok_or_else(|| ApiError::not_found("Workspace"))?;
        if membership.suspended {
            return Err(suspended());
        }
        if membership.role < R::ROLE {
            return Err(ApiError::forbidden(format!(
                "This needs the {} role or higher in the workspace; yours is {}.",
                R::ROLE,
                membership.role
            )));
        }
        Ok(Self::checked(
            membership.workspace,
            A::user(user.user_id),
            membership.role,
        ))
    }
}
