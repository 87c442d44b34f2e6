use chrono::{DateTime, Utc};
use tokio_postgres::GenericClient;
use tokio_postgres::types::Type;
use tokio_postgres::{Error, Row};
use uuid::Uuid;

#[derive(Debug, Clone)]
pub struct UserRow {
    pub id: Uuid,
    /// None for an account provisioned by an identity provider without a verified email.
    pub email: Option<String>,
    pub name: String,
    /// None for an account that signs in only through identity providers.
    pub password_hash: Option<String>,
    pub last_workspace_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

const COLUMNS: &str =
    "id, email::text AS email, name, password_hash, last_workspace_id, created_at";

fn from_row(row: &Row) -> UserRow {
    UserRow {
        id: row.get("id"),
        email: row.get("email"),
        name: row.get("name"),
        password_hash: row.get("password_hash"),
        last_workspace_id: row.get("last_workspace_id"),
        created_at: row.get("created_at"),
    }
}

/// Fails with a unique violation on `users_email_key` when the email (case-insensitively) is taken.
pub async fn insert(
    db: &impl GenericClient,
    id: Uuid,
    email: &str,
    password_hash: &str,
    name: &str,
) -> Result<(), Error> {
    db.execute(
        "INSERT INTO users (id, email, password_hash, name) VALUES ($1, $2::text::citext, $3, $4)",
        &[&id, &email, &password_hash, &name],
    )
    .await
    .map(drop)
}

/// An account provisioned by an identity provider: no password, and an email only when verified.
/// Fails with a unique violation on `users_email_key` when the email is taken.
pub async fn insert_external(
    db: &impl GenericClient,
    id: Uuid,
    email: Option<&str>,
    name: &str,
) -> Result<(), Error> {
    db.execute(
        "INSERT INTO users (id, email, name) VALUES ($1, $2::text::citext, $3)",
        &[&id, &email, &name],
    )
    .await
    .map(drop)
}

/// Who holds an address (case-insensitively), deleted accounts included (they keep it reserved), erased
/// ones too (through the address's tombstone, `repo::erasure::tombstone_of`); an active holder first.
#[derive(Debug, Clone, Copy)]
pub struct EmailOwner {
    pub id: Uuid,
    pub active: bool,
}

pub async fn email_owner(
    db: &impl GenericClient,
    email: &str,
) -> Result<Option<EmailOwner>, Error> {
    Ok(db
        .query_opt(
            "SELECT id, deleted_at IS NULL FROM users
              WHERE email = $1::text::citext OR email = $2::text::citext
              ORDER BY deleted_at IS NULL DESC LIMIT 1",
            &[&email, &super::erasure::tombstone_of(email)],
        )
        .await?
        .map(|r| EmailOwner {
            id: r.get(0),
            active: r.get(1),
        }))
}

/// Gives an account without an address this one; false when it has one (or the address is taken, as
/// a unique violation).
pub async fn set_email_if_none(
    db: &impl GenericClient,
    id: Uuid,
    email: &str,
) -> Result<bool, Error> {
    Ok(db
        .execute(
            "UPDATE users SET email = $2::text::citext, updated_at = now() WHERE id = $1 AND email IS NULL",
            &[&id, &email],
        )
        .await?
        == 1)
}

pub async fn find_active_by_email(
    db: &impl GenericClient,
    email: &str,
) -> Result<Option<UserRow>, Error> {
    let sql = format!(
        "SELECT {COLUMNS} FROM users WHERE email = $1::text::citext AND deleted_at IS NULL"
    );
    Ok(db
        .query_typed_opt(&sql, &[(&email, Type::TEXT)])
        .await?
        .as_ref()
        .map(from_row))
}

pub async fn find_active(db: &impl GenericClient, id: Uuid) -> Result<Option<UserRow>, Error> {
    let sql = format!("SELECT {COLUMNS} FROM users WHERE id = $1 AND deleted_at IS NULL");
    Ok(db
        .query_typed_opt(&sql, &[(&id, Type::UUID)])
        .await?
        .as_ref()
        .map(from_row))
}

/// What `GET /auth/me` shows, read in one statement: the account, its default workspace (the last one
/// chosen while still a member, else the oldest membership) and its active memberships, oldest first.
#[derive(Debug, Clone)]
pub struct Account {
    pub id: Uuid,
    pub email: Option<String>,
    pub name: String,
    pub default_workspace_id: Option<Uuid>,
    pub memberships: Vec<AccountMembership>,
}

#[derive(Debug, Clone)]
pub struct AccountMembership {
    pub workspace_id: Uuid,
    pub name: String,
    pub slug: String,
    /// As stored; [`crate::ids::Role::from_db`] reads it.
    pub role: String,
}

/// The active account `id` with up to `limit` memberships, in one round trip; `None` when the account
/// does not exist (or was deleted).
pub async fn account(
    db: &impl GenericClient,
    id: Uuid,
    limit: i64,
) -> Result<Option<Account>, Error> {
    let rows = db
        .query_typed(
            // The statement is the function's (migration V10), whose plan the session keeps.
            "SELECT id, email, name, default_workspace_id, workspace_id, workspace_name, slug, role
               FROM studio_account($1, $2)",
            &[(&id, Type::UUID), (&limit, Type::INT8)],
        )
        .await?;
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    let mut account = Account {
        id: first.get("id"),
        email: first.get("email"),
        name: first.get("name"),
        default_workspace_id: first.get("default_workspace_id"),
        memberships: Vec::with_capacity(rows.len()),
    };
    for row in &rows {
        if let Some(workspace_id) = row.get::<_, Option<Uuid>>("workspace_id") {
            account.memberships.push(AccountMembership {
                workspace_id,
                name: row.get("workspace_name"),
                slug: row.get("slug"),
                role: row.get("role"),
            });
        }
    }
    Ok(Some(account))
}

pub async fn set_last_workspace(
    db: &impl GenericClient,
    user: Uuid,
    workspace: Uuid,
) -> Result<(), Error> {
    db.execute(
        "UPDATE users SET last_workspace_id = $2, updated_at = now() WHERE id = $1 AND last_workspace_id IS DISTINCT FROM $2",
        &[&user, &workspace],
    )
    .await
    .map(drop)
}

/// Sets a new password hash.
pub async fn set_password(
    db: &impl GenericClient,
    id: Uuid,
    password_hash: &str,
) -> Result<(), Error> {
    db.execute(
        "UPDATE users SET password_hash = $2, updated_at = now() WHERE id = $1",
        &[&id, &password_hash],
    )
    .await
    .map(drop)
}

/// Whether an active user is a platform admin.
pub async fn is_platform_admin(db: &impl GenericClient, id: Uuid) -> Result<bool, Error> {
    Ok(db
        .query_opt(
            "SELECT is_platform_admin FROM users WHERE id = $1 AND deleted_at IS NULL",
            &[&id],
        )
        .await?
        .is_some_and(|r| r.get(0)))
}

/// Grants or removes the platform-admin flag; false when there is no such active user.
pub async fn set_platform_admin(
    db: &impl GenericClient,
    id: Uuid,
    on: bool,
) -> Result<bool, Error> {
    db.execute(
        "UPDATE users SET is_platform_admin = $2, updated_at = now() WHERE id = $1 AND deleted_at IS NULL",
        &[&id, &on],
    )
    .await
    .map(|n| n == 1)
}
