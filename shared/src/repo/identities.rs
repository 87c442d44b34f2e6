//! External identities (`user_identities`): the (issuer, subject) pairs a user signs in with.

use chrono::{DateTime, Utc};
use tokio_postgres::GenericClient;
use tokio_postgres::types::Type;
use tokio_postgres::{Error, Row};
use uuid::Uuid;

#[derive(Debug, Clone)]
pub struct IdentityRow {
    pub id: Uuid,
    pub user_id: Uuid,
    pub issuer: String,
    pub subject: String,
    pub email: Option<String>,
    pub created_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, user_id, issuer, subject, email::text AS email, created_at";

fn from_row(row: &Row) -> IdentityRow {
    IdentityRow {
        id: row.get("id"),
        user_id: row.get("user_id"),
        issuer: row.get("issuer"),
        subject: row.get("subject"),
        email: row.get("email"),
        created_at: row.get("created_at"),
    }
}

/// The active account an identity signs in to, with its default workspace: one round trip, through the
/// `studio_identity_user` function (migration V18).
pub async fn user_of(
    db: &impl GenericClient,
    issuer: &str,
    subject: &str,
) -> Result<Option<(Uuid, Option<Uuid>)>, Error> {
    Ok(db
        .query_typed_opt(
            "SELECT user_id, default_workspace_id FROM studio_identity_user($1, $2)",
            &[(&issuer, Type::TEXT), (&subject, Type::TEXT)],
        )
        .await?
        .map(|r| (r.get(0), r.get(1))))
}

/// Links (issuer, subject) to `user`; `None` when the pair is already linked (to anyone: see [`find`]).
pub async fn insert(
    db: &impl GenericClient,
    user: Uuid,
    issuer: &str,
    subject: &str,
    email: Option<&str>,
) -> Result<Option<IdentityRow>, Error> {
    let sql = format!(
        "INSERT INTO user_identities (id, user_id, issuer, subject, email)
         VALUES ($1, $2, $3, $4, $5::text::citext)
         ON CONFLICT ON CONSTRAINT user_identities_subject_key DO NOTHING
         RETURNING {COLUMNS}"
    );
    Ok(db
        .query_opt(&sql, &[&Uuid::now_v7(), &user, &issuer, &subject, &email])
        .await?
        .as_ref()
        .map(from_row))
}

/// The identity (issuer, subject), whoever it is linked to.
pub async fn find(
    db: &impl GenericClient,
    issuer: &str,
    subject: &str,
) -> Result<Option<IdentityRow>, Error> {
    let sql = format!("SELECT {COLUMNS} FROM user_identities WHERE issuer = $1 AND subject = $2");
    Ok(db
        .query_opt(&sql, &[&issuer, &subject])
        .await?
        .as_ref()
        .map(from_row))
}

/// A user's identities, oldest first.
pub async fn list(db: &impl GenericClient, user: Uuid) -> Result<Vec<IdentityRow>, Error> {
    let sql =
        format!("SELECT {COLUMNS} FROM user_identities WHERE user_id = $1 ORDER BY created_at, id");
    Ok(db
        .query(&sql, &[&user])
        .await?
        .iter()
        .map(from_row)
        .collect())
}

/// Removes one of a user's identities; false when the user has no such identity.
pub async fn delete(db: &impl GenericClient, user: Uuid, id: Uuid) -> Result<bool, Error> {
    Ok(db
        .execute(
            "DELETE FROM user_identities WHERE id = $1 AND user_id = $2",
            &[&id, &user],
        )
        .await?
        == 1)
}
