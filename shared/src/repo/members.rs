use crate::ids::{Role, WorkspaceId};
use chrono::{DateTime, Utc};
use tokio_postgres::Error;
use tokio_postgres::GenericClient;
use tokio_postgres::types::Type;
use uuid::Uuid;

#[derive(Debug, Clone)]
pub struct MemberRow {
    pub user_id: Uuid,
    /// None for an account made by an identity provider that gave no verified email.
    pub email: Option<String>,
    pub name: String,
    pub role: String,
    pub joined_at: DateTime<Utc>,
}

pub async fn insert(
    db: &impl GenericClient,
    workspace: WorkspaceId,
    user: Uuid,
    role: Role,
) -> Result<(), Error> {
    with_role(
        db,
        "INSERT INTO workspace_members (workspace_id, user_id, role) VALUES ($1, $2, $3)",
        workspace,
        user,
        role,
    )
    .await
}

/// Runs a statement about a member: `$1` the workspace, `$2` the user, `$3` the role.
async fn with_role(
    db: &impl GenericClient,
    sql: &str,
    workspace: WorkspaceId,
    user: Uuid,
    role: Role,
) -> Result<(), Error> {
    db.execute(sql, &[workspace.as_uuid(), &user, &role.as_str()])
        .await
        .map(drop)
}

/// A user's membership of an active workspace.
#[derive(Debug, Clone, Copy)]
pub struct Membership {
    pub workspace: WorkspaceId,
    pub role: Role,
    /// Suspended by a platform admin: members get 403 `workspace_suspended`.
    pub suspended: bool,
}

/// The membership check of every workspace-scoped request: the user's role in the workspace, if the
/// workspace exists and is not deleted, and the user is a member whose account is not deleted. This is
/// the one place a request's workspace id becomes a [`WorkspaceId`].
pub async fn role_in_active_workspace(
    db: &impl GenericClient,
    workspace: Uuid,
    user: Uuid,
) -> Result<Option<Membership>, crate::ApiError> {
    // Typed and unnamed: one round trip, no server-side prepared statement (this runs on every request,
    // and named statements would pin RDS Proxy / PgBouncer connections). The query itself is in the
    // function (migration V10), whose plan the session keeps: planning it per request cost more than
    // running it.
    let row = db
        .query_typed_opt(
            "SELECT role, suspended FROM studio_membership($1, $2)",
            &[(&workspace, Type::UUID), (&user, Type::UUID)],
        )
        .await?;
    match row {
        None => Ok(None),
        Some(r) => Ok(Some(Membership {
            workspace: WorkspaceId::from_trusted_source(workspace),
            role: Role::from_db(r.get("role"))?,
            suspended: r.get("suspended"),
        })),
    }
}

pub async fn get(
    db: &impl GenericClient,
    workspace: WorkspaceId,
    user: Uuid,
) -> Result<Option<MemberRow>, Error> {
    let row = db
        .query_opt(
            &format!("{SELECT_MEMBER} WHERE m.workspace_id = $1 AND m.user_id = $2 AND u.deleted_at IS NULL"),
            &[workspace.as_uuid(), &user],
        )
        .await?;
    Ok(row.as_ref().map(member_from_row))
}

const SELECT_MEMBER: &str =
    "SELECT u.id AS user_id, u.email::text AS email, u.name, m.role, m.created_at AS joined_at
               FROM workspace_members m JOIN users u ON u.id = m.user_id";

fn member_from_row(r: &tokio_postgres::Row) -> MemberRow {
    MemberRow {
        user_id: r.get("user_id"),
        email: r.get("email"),
        name: r.get("name"),
        role: r.get("role"),
        joined_at: r.get("joined_at"),
    }
}

pub async fn list(
    db: &impl GenericClient,
    workspace: WorkspaceId,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<MemberRow>, Error> {
    let (after_at, after_id) = after.map_or((None, None), |(a, i)| (Some(a), Some(i)));
    let sql = format!(
        "{SELECT_MEMBER} WHERE m.workspace_id = $1 AND u.deleted_at IS NULL
            AND ($2::timestamptz IS NULL OR (m.created_at, u.id) > ($2, $3))
          ORDER BY m.created_at, u.id LIMIT $4"
    );
    let rows = db
        .query(&sql, &[workspace.as_uuid(), &after_at, &after_id, &limit])
        .await?;
    Ok(rows.iter().map(member_from_row).collect())
}

pub async fn set_role(
    db: &impl GenericClient,
    workspace: WorkspaceId,
    user: Uuid,
    role: Role,
) -> Result<(), Error> {
    with_role(
        db,
        "UPDATE workspace_members SET role = $3, updated_at = now() WHERE workspace_id = $1 AND user_id = $2",
        workspace,
        user,
        role,
    )
    .await
}

pub async fn delete(
    db: &impl GenericClient,
    workspace: WorkspaceId,
    user: Uuid,
) -> Result<bool, Error> {
    Ok(db
        .execute(
            "DELETE FROM workspace_members WHERE workspace_id = $1 AND user_id = $2",
            &[workspace.as_uuid(), &user],
        )
        .await?
        == 1)
}

pub async fn count_owners(db: &impl GenericClient, workspace: WorkspaceId) -> Result<i64, Error> {
    Ok(db
        .query_one(
            "SELECT count(*) FROM workspace_members WHERE workspace_id = $1 AND role = 'owner'",
            &[workspace.as_uuid()],
        )
        .await?
        .get(0))
}

/// The workspace a token should name: `preferred` if the user is still an active member of it, else the
/// user's oldest active membership, else none.
pub async fn default_workspace(
    db: &impl GenericClient,
    user: Uuid,
    preferred: Option<Uuid>,
) -> Result<Option<Uuid>, Error> {
    let row = db
        .query_typed_opt(
            "SELECT m.workspace_id FROM workspace_members m JOIN workspaces w ON w.id = m.workspace_id
              WHERE m.user_id = $1 AND w.deleted_at IS NULL
              ORDER BY (m.workspace_id = $2) IS TRUE DESC, m.created_at, m.workspace_id
              LIMIT 1",
            &[(&user, Type::UUID), (&preferred, Type::UUID)],
        )
        .await?;
    Ok(row.map(|r| r.get(0)))
}

/// Whether an active account with this address is a member of the workspace.
pub async fn is_member_by_email(
    db: &impl GenericClient,
    workspace: WorkspaceId,
    email: &str,
) -> Result<bool, Error> {
    Ok(db
        .query_opt(
            "SELECT 1 FROM workspace_members m JOIN users u ON u.id = m.user_id
              WHERE m.workspace_id = $1 AND u.email = $2::text::citext AND u.deleted_at IS NULL",
            &[workspace.as_uuid(), &email],
        )
        .await?
        .is_some())
}
