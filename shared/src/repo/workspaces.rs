use crate::ids::{Role, WorkspaceId};
use chrono::{DateTime, Utc};
use tokio_postgres::GenericClient;
use tokio_postgres::{Error, Row};
use uuid::Uuid;

#[derive(Debug, Clone)]
pub struct WorkspaceRow {
    pub id: Uuid,
    pub name: String,
    pub slug: String,
    pub plan: String,
    /// Days conversations are kept after their last update; `None`: kept.
    pub conversation_retention_days: Option<i32>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A workspace as one of its members sees it in a list.
#[derive(Debug, Clone)]
pub struct MembershipRow {
    pub workspace: WorkspaceRow,
    pub role: String,
    pub joined_at: DateTime<Utc>,
}

fn from_row(row: &Row) -> WorkspaceRow {
    WorkspaceRow {
        id: row.get("id"),
        name: row.get("name"),
        slug: row.get("slug"),
        plan: row.get("plan"),
        conversation_retention_days: row.get("conversation_retention_days"),
        created_at: row.get("created_at"),
        updated_at: row.get("updated_at"),
    }
}

/// Fails with a unique violation on `workspaces_slug_key` when the slug is taken.
pub async fn insert(
    db: &impl GenericClient,
    id: Uuid,
    name: &str,
    slug: &str,
) -> Result<WorkspaceRow, Error> {
    let row = db
        .query_one(
            "INSERT INTO workspaces (id, name, slug) VALUES ($1, $2, $3)
             RETURNING id, name, slug, plan, conversation_retention_days, created_at, updated_at",
            &[&id, &name, &slug],
        )
        .await?;
    Ok(from_row(&row))
}

pub async fn slug_taken(db: &impl GenericClient, slug: &str) -> Result<bool, Error> {
    Ok(db
        .query_opt("SELECT 1 FROM workspaces WHERE slug = $1", &[&slug])
        .await?
        .is_some())
}

pub async fn get(db: &impl GenericClient, id: WorkspaceId) -> Result<Option<WorkspaceRow>, Error> {
    let row = db
        .query_opt(
            "SELECT id, name, slug, plan, conversation_retention_days, created_at, updated_at FROM workspaces WHERE id = $1 AND deleted_at IS NULL",
            &[id.as_uuid()],
        )
        .await?;
    Ok(row.as_ref().map(from_row))
}

/// Locks the workspace row so membership changes in it are serialised (the last-owner rule).
pub async fn lock(db: &impl GenericClient, id: WorkspaceId) -> Result<bool, Error> {
    Ok(db
        .query_opt(
            "SELECT 1 FROM workspaces WHERE id = $1 AND deleted_at IS NULL FOR UPDATE",
            &[id.as_uuid()],
        )
        .await?
        .is_some())
}

pub async fn rename(
    db: &impl GenericClient,
    id: WorkspaceId,
    name: &str,
) -> Result<Option<WorkspaceRow>, Error> {
    let row = db
        .query_opt(
            "UPDATE workspaces SET name = $2, updated_at = now() WHERE id = $1 AND deleted_at IS NULL
             RETURNING id, name, slug, plan, conversation_retention_days, created_at, updated_at",
            &[id.as_uuid(), &name],
        )
        .await?;
    Ok(row.as_ref().map(from_row))
}

/// Sets how long the workspace keeps its conversations (`None`: kept); the workspace as it is then.
pub async fn set_conversation_retention(
    db: &impl GenericClient,
    id: WorkspaceId,
    days: Option<i32>,
) -> Result<Option<WorkspaceRow>, Error> {
    let row = db
        .query_opt(
            "UPDATE workspaces SET conversation_retention_days = $2, updated_at = now()
              WHERE id = $1 AND deleted_at IS NULL
             RETURNING id, name, slug, plan, conversation_retention_days, created_at, updated_at",
            &[id.as_uuid(), &days],
        )
        .await?;
    Ok(row.as_ref().map(from_row))
}

/// Marks the workspace deleted; when it was, or `None` when it was not there (or deleted already).
pub async fn soft_delete(
    db: &impl GenericClient,
    id: WorkspaceId,
) -> Result<Option<DateTime<Utc>>, Error> {
    Ok(db
        .query_opt(
            "UPDATE workspaces SET deleted_at = now(), updated_at = now() WHERE id = $1 AND deleted_at IS NULL
             RETURNING deleted_at",
            &[id.as_uuid()],
        )
        .await?
        .map(|r| r.get(0)))
}

/// The user's active workspaces, oldest membership first, after `after` (joined_at, workspace id).
pub async fn list_for_user(
    db: &impl GenericClient,
    user: Uuid,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<MembershipRow>, Error> {
    let (after_at, after_id) = after.map_or((None, None), |(a, i)| (Some(a), Some(i)));
    let rows = db
        .query(
            "SELECT w.id, w.name, w.slug, w.plan, w.conversation_retention_days, w.created_at, w.updated_at, m.role, m.created_at AS joined_at
               FROM workspace_members m JOIN workspaces w ON w.id = m.workspace_id
              WHERE m.user_id = $1 AND w.deleted_at IS NULL
                AND ($2::timestamptz IS NULL OR (m.created_at, w.id) > ($2, $3))
              ORDER BY m.created_at, w.id
              LIMIT $4",
            &[&user, &after_at, &after_id, &limit],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| MembershipRow {
            workspace: from_row(r),
            role: r.get("role"),
            joined_at: r.get("joined_at"),
        })
        .collect())
}

impl MembershipRow {
    pub fn role(&self) -> Result<Role, crate::ApiError> {
        Role::from_db(&self.role)
    }
}
