//! `requireWorkspace` + `requireRole` as the extractor of [`Tenant`]: which workspace a request acts on, and whether the caller may.
//!
//! A route with the workspace id in its path (`{workspaceId}`) uses that id and ignores the header; every
//! other route uses `X-Workspace-Id`, else the token's `wid`. Membership and role are read from the
//! database on every request, so a removed member loses access at once. A workspace the caller is not a
//! member of is a 404 (never a 403 that would confirm it exists); a member whose role is too low gets 403.

use crate::auth::tenant::{MinRole, Tenant};
use crate::error::{ApiError, ErrorCode};
use crate::http::AuthUser;
use crate::repo;
use crate::state::AppState;
use axum::extract::{FromRef, FromRequestParts, RawPathParams};
use http::request::Parts;
use uuid::Uuid;

pub const WORKSPACE_HEADER: &str = "x-workspace-id";
pub const WORKSPACE_PATH_PARAM: &str = "workspaceId";

async fn requested_workspace<S: Send + Sync>(
    parts: &mut Parts,
    state: &S,
    user: &AuthUser,
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
    user.token_workspace.ok_or_else(|| {
        ApiError::field(
            "X-Workspace-Id",
            "no workspace selected: send X-Workspace-Id or refresh the token with a workspaceId",
        )
    })
}

impl<R: MinRole, S> FromRequestParts<S> for Tenant<R>
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let user = AuthUser::from_request_parts(parts, state).await?;
        let requested = requested_workspace(parts, state, &user).await?;
        let state = AppState::from_ref(state);
        let client = state.db.get().await?;
        let membership =
            repo::members::role_in_active_workspace(&**client, requested, user.user_id)
                .await?
                .ok_or_else(|| ApiError::not_found("Workspace"))?;
        if membership.suspended {
            return Err(ApiError::new(
                ErrorCode::WorkspaceSuspended,
                "This workspace is suspended by the platform's operators; contact support to restore it.",
            ));
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
            user.user_id,
            membership.role,
        ))
    }
}
