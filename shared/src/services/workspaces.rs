//! Workspaces and their members.

use crate::auth::{Admin, AnyRole, Owner, Tenant, Viewer};
use crate::db::Scoped;
use crate::error::{ApiError, unique_violation};
use crate::ids::{Role, WorkspaceId};
use crate::paging::{Cursor, Page, PageParams};
use crate::repo::{self, members::MemberRow, workspaces::WorkspaceRow};
use crate::state::AppState;
use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio_postgres::GenericClient;
use utoipa::ToSchema;
use uuid::Uuid;

pub const MAX_NAME_CHARS: u64 = 100;
const MAX_SLUG_BASE: usize = 48;

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkspaceSummary {
    pub id: Uuid,
    pub name: String,
    pub slug: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkspaceView {
    pub id: Uuid,
    pub name: String,
    pub slug: String,
    /// free, pro or business
    pub plan: String,
    /// The caller's role in this workspace.
    pub role: Role,
    /// How many days conversations are kept after their last message; null: kept until deleted.
    pub conversation_retention_days: Option<u32>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MemberView {
    pub user_id: Uuid,
    /// Null for an account made by an identity provider that gave no verified email.
    pub email: Option<String>,
    pub name: String,
    pub role: Role,
    pub joined_at: DateTime<Utc>,
}

fn view(row: WorkspaceRow, role: Role) -> WorkspaceView {
    WorkspaceView {
        id: row.id,
        name: row.name,
        slug: row.slug,
        plan: row.plan,
        role,
        conversation_retention_days: row
            .conversation_retention_days
            .and_then(|d| u32::try_from(d).ok()),
        created_at: row.created_at,
        updated_at: row.updated_at,
    }
}

impl From<&WorkspaceRow> for WorkspaceSummary {
    fn from(row: &WorkspaceRow) -> Self {
        Self {
            id: row.id,
            name: row.name.clone(),
            slug: row.slug.clone(),
        }
    }
}

fn slug_base(name: &str) -> String {
    let mut base = slug::slugify(name);
    base.truncate(MAX_SLUG_BASE);
    let base = base.trim_end_matches('-').to_owned();
    if base.is_empty() {
        "workspace".to_owned()
    } else {
        base
    }
}

fn random_suffix() -> Result<String, ApiError> {
    let mut bytes = [0u8; 3];
    getrandom::fill(&mut bytes)
        .map_err(|e| ApiError::internal(anyhow::anyhow!("OS random source: {e}")))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Creates a workspace owned by `owner` inside the caller's transaction. The slug comes from the name,
/// with a random suffix when that is taken.
pub async fn create_in(
    db: &impl GenericClient,
    owner: Uuid,
    name: &str,
) -> Result<WorkspaceRow, ApiError> {
    let base = slug_base(name);
    let mut slug = base.clone();
    for _ in 0..5 {
        if !repo::workspaces::slug_taken(db, &slug).await? {
            break;
        }
        slug = format!("{base}-{}", random_suffix()?);
    }
    let row = repo::workspaces::insert(db, Uuid::now_v7(), name, &slug)
        .await
        .map_err(|e| {
            if unique_violation(&e) == Some("workspaces_slug_key") {
                ApiError::conflict(
                    "Another workspace took this name's address at the same moment; try again.",
                )
            } else {
                e.into()
            }
        })?;
    let id = WorkspaceId::from_trusted_source(row.id);
    repo::members::insert(db, id, owner, Role::Owner).await?;
    Ok(row)
}

pub async fn create(state: &AppState, owner: Uuid, name: &str) -> Result<WorkspaceView, ApiError> {
    let mut client = state.db.get().await?;
    let tx = client.transaction().await?;
    let row = create_in(&*tx, owner, name).await?;
    tx.commit().await?;
    tracing::info!(workspace_id = %row.id, "workspace created");
    Ok(view(row, Role::Owner))
}

pub async fn list_mine(
    state: &AppState,
    user: Uuid,
    page: &PageParams,
) -> Result<Page<WorkspaceView>, ApiError> {
    let limit = page.limit();
    let after = page.cursor()?.map(|c| (c.at, c.id));
    // Across the user's workspaces: the user-scoped policies (their memberships, their workspaces).
    let client = Scoped::begin(&state.db, crate::db::Scope::user(user)).await?;
    let rows =
        repo::workspaces::list_for_user(&**client, user, after, i64::from(limit) + 1).await?;
    Page::from_rows(rows, limit, |r| Cursor {
        at: r.joined_at,
        id: r.workspace.id,
    })
    .try_map(|r| Ok(view(r.workspace, Role::from_db(&r.role)?)))
}

pub async fn get(state: &AppState, tenant: &Tenant<Viewer>) -> Result<WorkspaceView, ApiError> {
    let client = Scoped::tenant(&state.db, tenant).await?;
    let row = repo::workspaces::get(&**client, tenant.workspace_id)
        .await?
        .ok_or_else(|| ApiError::not_found("Workspace"))?;
    Ok(view(row, tenant.role))
}

pub async fn rename(
    state: &AppState,
    tenant: &Tenant<Admin>,
    name: &str,
) -> Result<WorkspaceView, ApiError> {
    let client = Scoped::tenant(&state.db, tenant).await?;
    let row = repo::workspaces::rename(&**client, tenant.workspace_id, name)
        .await?
        .ok_or_else(|| ApiError::not_found("Workspace"))?;
    client.commit().await?;
    Ok(view(row, tenant.role))
}

/// A deleted workspace: gone for its members now, purged for good at `purge_at`.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkspaceDeleted {
    pub id: Uuid,
    pub deleted_at: DateTime<Utc>,
    /// When its rows, vectors and uploaded files are removed for good (`SOFT_DELETE_RETENTION_DAYS`
    /// after the deletion); until then the platform's operators can restore it.
    pub purge_at: DateTime<Utc>,
}

/// Sets how long the workspace keeps its conversations (admin or higher): `None` keeps them; otherwise
/// the daily purge deletes those not updated for `days` days. Recorded in the workspace's audit log.
pub async fn set_retention(
    state: &AppState,
    tenant: &Tenant<Admin>,
    days: Option<u32>,
) -> Result<WorkspaceView, ApiError> {
    let client = Scoped::tenant(&state.db, tenant).await?;
    let stored = days.map(|d| i32::try_from(d).unwrap_or(i32::MAX));
    let row = repo::workspaces::set_conversation_retention(&**client, tenant.workspace_id, stored)
        .await?
        .ok_or_else(|| ApiError::not_found("Workspace"))?;
    super::audit::record(
        &**client,
        tenant,
        "workspace.retention",
        "workspace",
        Some(tenant.workspace_id.to_string()),
        serde_json::json!({"conversationRetentionDays": days}),
    )
    .await?;
    client.commit().await?;
    Ok(view(row, tenant.role))
}

pub async fn delete(
    state: &AppState,
    tenant: &Tenant<Owner>,
) -> Result<WorkspaceDeleted, ApiError> {
    let client = Scoped::tenant(&state.db, tenant).await?;
    let deleted_at = repo::workspaces::soft_delete(&**client, tenant.workspace_id)
        .await?
        .ok_or_else(|| ApiError::not_found("Workspace"))?;
    client.commit().await?;
    let purge_at = crate::services::retention::Retention::of(&state.config).purge_after(deleted_at);
    tracing::info!(workspace_id = %tenant.workspace_id, user_id = %tenant.user_id(), %purge_at, "workspace soft-deleted");
    Ok(WorkspaceDeleted {
        id: *tenant.workspace_id.as_uuid(),
        deleted_at,
        purge_at,
    })
}

pub async fn members(
    state: &AppState,
    tenant: &Tenant<Viewer>,
    page: &PageParams,
) -> Result<Page<MemberView>, ApiError> {
    let limit = page.limit();
    let after = page.cursor()?.map(|c| (c.at, c.id));
    let client = Scoped::tenant(&state.db, tenant).await?;
    let rows =
        repo::members::list(&**client, tenant.workspace_id, after, i64::from(limit) + 1).await?;
    Page::from_rows(rows, limit, |m| Cursor {
        at: m.joined_at,
        id: m.user_id,
    })
    .try_map(member_view)
}

fn member_view(r: MemberRow) -> Result<MemberView, ApiError> {
    Ok(MemberView {
        user_id: r.user_id,
        email: r.email,
        name: r.name,
        role: Role::from_db(&r.role)?,
        joined_at: r.joined_at,
    })
}

const LAST_OWNER: &str = "A workspace needs at least one owner: make another member owner first, or delete the workspace.";

/// Changes a member's role. Only an owner grants or takes away `owner`; the last owner stays owner.
pub async fn change_role(
    state: &AppState,
    tenant: &Tenant<Admin>,
    target: Uuid,
    new_role: Role,
) -> Result<MemberView, ApiError> {
    let tx = Scoped::tenant(&state.db, tenant).await?;
    // Serialises concurrent membership changes in this workspace, so two owners cannot demote each other
    // at once and leave none.
    if !repo::workspaces::lock(&**tx, tenant.workspace_id).await? {
        return Err(ApiError::not_found("Workspace"));
    }
    let mut member = repo::members::get(&**tx, tenant.workspace_id, target)
        .await?
        .ok_or_else(|| ApiError::not_found("Member"))?;
    let current = Role::from_db(&member.role)?;
    if (current == Role::Owner || new_role == Role::Owner) && tenant.role != Role::Owner {
        return Err(ApiError::forbidden(
            "Only an owner can grant or take away the owner role.",
        ));
    }
    if current == Role::Owner
        && new_role != Role::Owner
        && repo::members::count_owners(&**tx, tenant.workspace_id).await? <= 1
    {
        return Err(ApiError::conflict(LAST_OWNER));
    }
    repo::members::set_role(&**tx, tenant.workspace_id, target, new_role).await?;
    tx.commit().await?;
    tracing::info!(workspace_id = %tenant.workspace_id, target_user_id = %target, role = %new_role, "member role changed");
    member.role = new_role.as_str().to_owned();
    member_view(member)
}

/// Removes a member: admins and owners remove others, anyone may leave. Only an owner removes an owner,
/// and the last owner cannot leave.
pub async fn remove_member(
    state: &AppState,
    tenant: &Tenant<AnyRole>,
    target: Uuid,
) -> Result<(), ApiError> {
    let leaving = target == tenant.user_id();
    if !leaving && tenant.role < Role::Admin {
        return Err(ApiError::forbidden(
            "Removing other members needs the admin role or higher.",
        ));
    }
    let tx = Scoped::tenant(&state.db, tenant).await?;
    if !repo::workspaces::lock(&**tx, tenant.workspace_id).await? {
        return Err(ApiError::not_found("Workspace"));
    }
    let member = repo::members::get(&**tx, tenant.workspace_id, target)
        .await?
        .ok_or_else(|| ApiError::not_found("Member"))?;
    if Role::from_db(&member.role)? == Role::Owner {
        if !leaving && tenant.role != Role::Owner {
            return Err(ApiError::forbidden("Only an owner can remove an owner."));
        }
        if repo::members::count_owners(&**tx, tenant.workspace_id).await? <= 1 {
            return Err(ApiError::conflict(LAST_OWNER));
        }
    }
    repo::members::delete(&**tx, tenant.workspace_id, target).await?;
    tx.commit().await?;
    tracing::info!(workspace_id = %tenant.workspace_id, target_user_id = %target, leaving, "member removed");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn when_a_name_has_no_slug_characters_a_default_is_used_and_long_names_are_cut() {
        assert_eq!(slug_base("Analytical Engines!"), "analytical-engines");
        assert_eq!(slug_base("!!!"), "workspace");
        assert!(slug_base(&"a very long name ".repeat(10)).len() <= MAX_SLUG_BASE);
    }
}
