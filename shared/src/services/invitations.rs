//! Invitations: an admin invites an address with a role; the invitation is mailed with a single-use link;
//! a signed-in user whose account has that address accepts it and becomes a member.

use crate::auth::{Admin, Tenant};
use crate::billing::{Consumption, check_quota};
use crate::db::Scoped;
use crate::error::{ApiError, ErrorCode, unique_violation};
use crate::ids::{Role, WorkspaceId};
use crate::paging::{Cursor, Page, PageParams};
use crate::repo::{self, invitations::InvitationRow};
use crate::state::AppState;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum InvitationStatus {
    Pending,
    Accepted,
    Revoked,
    Expired,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InvitationView {
    pub id: Uuid,
    pub email: String,
    pub role: Role,
    pub status: InvitationStatus,
    pub invited_by: Option<Uuid>,
    pub expires_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub accepted_at: Option<DateTime<Utc>>,
}

fn status(row: &InvitationRow) -> InvitationStatus {
    if row.accepted_at.is_some() {
        InvitationStatus::Accepted
    } else if row.revoked_at.is_some() {
        InvitationStatus::Revoked
    } else if row.expires_at <= Utc::now() {
        InvitationStatus::Expired
    } else {
        InvitationStatus::Pending
    }
}

fn view(row: InvitationRow) -> Result<InvitationView, ApiError> {
    Ok(InvitationView {
        id: row.id,
        status: status(&row),
        role: Role::from_db(&row.role)?,
        email: row.email,
        invited_by: row.invited_by,
        expires_at: row.expires_at,
        created_at: row.created_at,
        accepted_at: row.accepted_at,
    })
}

/// Invites `email` with `role` and mails the link. Only an owner invites an owner. Pending invitations
/// count against the plan's members limit; an address with a pending invitation, or of a member, is a 409.
pub async fn invite(
    state: &AppState,
    tenant: &Tenant<Admin>,
    email: &str,
    role: Role,
) -> Result<InvitationView, ApiError> {
    if role == Role::Owner && tenant.role != Role::Owner {
        return Err(ApiError::forbidden(
            "Only an owner can invite an owner; invite as admin instead.",
        ));
    }
    let email = email.trim().to_lowercase();
    let ws = tenant.workspace_id;
    let tx = Scoped::tenant(&state.db, tenant).await?;
    // Serialises invitations and joins of this workspace, so the members limit holds under concurrency.
    if !repo::workspaces::lock(&**tx, ws).await? {
        return Err(ApiError::not_found("Workspace"));
    }
    if repo::members::is_member_by_email(&**tx, ws, &email).await? {
        return Err(ApiError::conflict(
            "This address belongs to a member of the workspace already.",
        ));
    }
    repo::invitations::expire_stale(&**tx, ws, &email).await?;
    check_quota(&**tx, ws, Consumption::Invitations(1)).await?;
    let (token, hash) = crate::auth::refresh::generate().map_err(ApiError::internal)?;
    let ttl = state.config.ops.invitation_ttl;
    let row = repo::invitations::insert(
        &**tx,
        ws,
        Uuid::now_v7(),
        &email,
        role.as_str(),
        &hash,
        tenant.user_id(),
        ttl.as_secs_f64(),
    )
    .await
    .map_err(|e| {
        if unique_violation(&e) == Some("invitations_pending_key") {
            ApiError::conflict(
                "This address has a pending invitation; revoke it first to send a new one.",
            )
        } else {
            e.into()
        }
    })?;
    let workspace = repo::workspaces::get(&**tx, ws)
        .await?
        .ok_or_else(|| ApiError::not_found("Workspace"))?;
    let inviter = repo::users::find_active(&**tx, tenant.user_id())
        .await?
        .map_or_else(|| "A teammate".to_owned(), |u| u.name);
    let message = crate::email::templates::invitation(
        &email,
        &inviter,
        &workspace.name,
        role.as_str(),
        &token,
        state.config.app_url(),
        ttl.as_secs() / 86_400,
    );
    let mail = crate::email::queue(&**tx, Some(ws), &message).await?;
    tx.commit().await?;
    tracing::info!(workspace_id = %ws, invitation_id = %row.id, "invitation sent");
    mail.send(&**state.db.get().await?, state.email_queue.as_ref())
        .await;
    view(row)
}

/// The workspace's invitations, newest first, with their status.
pub async fn list(
    state: &AppState,
    tenant: &Tenant<Admin>,
    page: &PageParams,
) -> Result<Page<InvitationView>, ApiError> {
    let limit = page.limit();
    let after = page.cursor()?.map(|c| (c.at, c.id));
    let client = Scoped::tenant(&state.db, tenant).await?;
    let rows = repo::invitations::list(&**client, tenant.workspace_id, after, i64::from(limit) + 1)
        .await?;
    Page::from_rows(rows, limit, |r| Cursor {
        at: r.created_at,
        id: r.id,
    })
    .try_map(view)
}

/// Revokes a pending invitation: its link stops working. Another workspace's invitation is a 404.
pub async fn revoke(state: &AppState, tenant: &Tenant<Admin>, id: Uuid) -> Result<(), ApiError> {
    let client = Scoped::tenant(&state.db, tenant).await?;
    if repo::invitations::revoke(&**client, tenant.workspace_id, id).await? {
        client.commit().await?;
        tracing::info!(workspace_id = %tenant.workspace_id, invitation_id = %id, "invitation revoked");
        return Ok(());
    }
    match repo::invitations::find(&**client, tenant.workspace_id, id).await? {
        None => Err(ApiError::not_found("Invitation")),
        Some(_) => Err(ApiError::conflict(
            "This invitation was accepted or revoked already.",
        )),
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AcceptedInvitation {
    pub workspace_id: Uuid,
    pub role: Role,
}

fn invalid(message: &str) -> ApiError {
    ApiError::new(ErrorCode::InvalidToken, message)
}

/// Accepts an invitation as the signed-in `user`, whose account's address must be the invited one. The
/// workspace becomes the user's default workspace.
pub async fn accept(
    state: &AppState,
    user: Uuid,
    token: &str,
) -> Result<AcceptedInvitation, ApiError> {
    if token.is_empty() || token.len() > crate::auth::refresh::MAX_TOKEN_LEN {
        return Err(invalid("This invitation link is not valid."));
    }
    let hash = crate::auth::refresh::hash(token);
    let mut client = state.db.get().await?;
    let tx = client.transaction().await?;
    let Some(inv) = repo::invitations::find_by_token_for_update(&*tx, &hash).await? else {
        return Err(invalid("This invitation link is not valid."));
    };
    match status(&inv) {
        InvitationStatus::Pending => {}
        InvitationStatus::Accepted => {
            return Err(invalid("This invitation was accepted already."));
        }
        InvitationStatus::Revoked => {
            return Err(invalid(
                "This invitation was revoked; ask the workspace's admins for a new one.",
            ));
        }
        InvitationStatus::Expired => {
            return Err(invalid(
                "This invitation has expired; ask the workspace's admins for a new one.",
            ));
        }
    }
    let me = repo::users::find_active(&*tx, user)
        .await?
        .ok_or_else(|| ApiError::unauthorized("Your account no longer exists."))?;
    if !me
        .email
        .as_deref()
        .is_some_and(|email| email.eq_ignore_ascii_case(&inv.email))
    {
        return Err(ApiError::forbidden(
            "This invitation was sent to another address: sign in with the invited address (or register with it) to accept it.",
        ));
    }
    let ws = WorkspaceId::from_trusted_source(inv.workspace_id);
    if !repo::workspaces::lock(&*tx, ws).await? {
        return Err(invalid(
            "The workspace of this invitation no longer exists.",
        ));
    }
    let role = Role::from_db(&inv.role)?;
    let result = match repo::members::get(&*tx, ws, user).await? {
        // Already a member (e.g. added meanwhile): the invitation is used up, the role stays.
        Some(existing) => AcceptedInvitation {
            workspace_id: inv.workspace_id,
            role: Role::from_db(&existing.role)?,
        },
        None => {
            check_quota(&*tx, ws, Consumption::Members(1)).await?;
            repo::members::insert(&*tx, ws, user, role).await?;
            AcceptedInvitation {
                workspace_id: inv.workspace_id,
                role,
            }
        }
    };
    repo::invitations::mark_accepted(&*tx, inv.id).await?;
    // The invited member lands where they were invited: the joined workspace becomes their default, so
    // their next token (refresh or login) names it.
    repo::users::set_last_workspace(&*tx, user, inv.workspace_id).await?;
    tx.commit().await?;
    tracing::info!(workspace_id = %ws, invitation_id = %inv.id, user_id = %user, "invitation accepted");
    Ok(result)
}
