//! An account's erasure (`DELETE /api/v1/auth/me`), the right to be forgotten.
//!
//! Decisions (issue 18):
//! - the caller proves it is them again: the account's password, or a fresh token (issued within
//!   [`FRESH_TOKEN`]) from a provider whose identity is linked to the account;
//! - a sole owner of a workspace that has other members is refused (409, the workspaces listed in
//!   `details`): ownership is transferred first (or the others removed), never decided for them;
//! - a workspace the account is the last member of is deleted with it (soft: the purge removes its rows,
//!   vectors and files at the `purgeAt` the answer states); the account leaves every other one;
//! - erasure is immediate: the name, password and platform role go, the address is replaced by a
//!   one-way digest that keeps it unusable until the purge removes the row (`addressReleasedAt`), every
//!   reference to the account is released as deleting the row would (messages stay, without their
//!   author), sessions, identities, reset links and idempotency records go, mail to the address still
//!   in the outbox and invitations to it go, and the exports it asked for with their files; the audit
//!   entry names the account's id only.

use crate::auth::Actor;
use crate::error::{ApiError, ErrorCode};
use crate::repo;
use crate::services::retention::Retention;
use crate::state::AppState;
use chrono::{DateTime, Utc};
use secrecy::SecretString;
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

/// How recent a provider token must be to prove the caller is the account's owner.
pub const FRESH_TOKEN: chrono::Duration = chrono::Duration::minutes(10);

/// The name an erased account keeps until its row is purged.
const ERASED_NAME: &str = "Erased account";

/// How the caller proves, again, that they own the account.
pub enum Proof {
    Password(SecretString),
    /// A token from one of the deployment's identity providers, linked to the account.
    ProviderToken(String),
}

/// A workspace deleted with the account (it had no other member).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeletedWorkspace {
    pub id: Uuid,
    /// When its rows, vectors and files are purged for good.
    pub purge_at: DateTime<Utc>,
}

/// What the erasure did.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Erased {
    pub erased_at: DateTime<Utc>,
    /// When the address can be registered again; null when the account had none.
    pub address_released_at: Option<DateTime<Utc>>,
    /// The workspaces the account was the last member of: deleted, purged at `purgeAt`.
    pub workspaces_deleted: Vec<DeletedWorkspace>,
    /// How many workspaces the account left (their other members keep them).
    pub workspaces_left: usize,
}

fn wrong_password() -> ApiError {
    ApiError::new(
        ErrorCode::Forbidden,
        "The password is wrong: erasing an account needs its current password (or a fresh token from a provider linked to it, as `token`).",
    )
}

/// Checks the proof before anything is locked (a password hash takes its time).
async fn check(state: &AppState, user: Uuid, proof: Proof) -> Result<(), ApiError> {
    match proof {
        Proof::Password(password) => {
            let client = state.db.get().await?;
            let account = repo::users::find_active(&**client, user)
                .await?
                .ok_or_else(|| ApiError::unauthorized("This account no longer exists."))?;
            drop(client);
            let has_password = account.password_hash.is_some();
            let ok = state
                .passwords
                .verify(password, account.password_hash)
                .await?;
            match (ok, has_password) {
                (true, _) => Ok(()),
                (false, true) => Err(wrong_password()),
                (false, false) => Err(ApiError::new(
                    ErrorCode::Forbidden,
                    "This account has no password: send a fresh token from a provider linked to it, as `token`.",
                )),
            }
        }
        Proof::ProviderToken(token) => {
            let identity = super::identities::verify_body_token(state, &token).await?;
            let fresh = identity
                .issued_at
                .is_some_and(|at| Utc::now() - at <= FRESH_TOKEN);
            if !fresh {
                return Err(ApiError::new(
                    ErrorCode::InvalidToken,
                    format!(
                        "token must be fresh: issued (`iat`) within the last {} minutes. Sign in to the provider again and send the new token.",
                        FRESH_TOKEN.num_minutes()
                    ),
                ));
            }
            let client = state.db.get().await?;
            let linked = repo::identities::find(&**client, &identity.issuer, &identity.subject)
                .await?
                .is_some_and(|i| i.user_id == user);
            if linked {
                Ok(())
            } else {
                Err(ApiError::new(
                    ErrorCode::Forbidden,
                    "token is not from an identity linked to this account: send the account's password, or a token of a linked provider.",
                ))
            }
        }
    }
}

/// Erases the signed-in account `user` once `proof` shows it is them.
pub async fn erase(state: &AppState, user: Uuid, proof: Proof) -> Result<Erased, ApiError> {
    check(state, user, proof).await?;
    let retention = Retention::of(&state.config);
    let mut client = state.db.get().await?;
    let tx = client.transaction().await?;
    let email = repo::erasure::lock(&*tx, user)
        .await?
        .ok_or_else(|| ApiError::unauthorized("This account no longer exists."))?;
    let memberships = repo::erasure::memberships(&*tx, user).await?;
    let blocking: Vec<_> = memberships
        .iter()
        .filter(|m| m.role == "owner" && m.owners == 1 && m.members > 1)
        .map(|m| json!({"id": m.workspace_id, "name": m.name, "members": m.members}))
        .collect();
    if !blocking.is_empty() {
        return Err(ApiError::conflict(format!(
            "This account is the only owner of {} workspace(s) that other members use: make another member an owner (PATCH /api/v1/workspaces/{{workspaceId}}/members/{{userId}} {{\"role\": \"owner\"}}) or remove the others, then erase the account. Nothing was changed.",
            blocking.len()
        ))
        .with_details(json!({"workspaces": blocking})));
    }
    let mut deleted = Vec::new();
    for m in memberships.iter().filter(|m| m.members == 1) {
        if let Some(at) = repo::erasure::delete_workspace(&*tx, m.workspace_id).await? {
            deleted.push(DeletedWorkspace {
                id: m.workspace_id,
                purge_at: retention.purge_after(at),
            });
        }
    }
    let left = memberships.len() - deleted.len();
    if let Some(email) = email.as_deref() {
        repo::erasure::forget_address(&*tx, email).await?;
    }
    // The exports the account asked for go with their records (after the commit, below).
    let export_files = repo::exports::files_of_user(&*tx, user).await?;
    repo::erasure::release_references(&*tx, user).await?;
    let tombstone = email.as_deref().map(repo::erasure::tombstone_of);
    let erased_at = repo::erasure::tombstone(&*tx, user, tombstone.as_deref(), ERASED_NAME).await?;
    super::audit::write(
        &*tx,
        Actor::Member(user),
        None,
        "user.erased",
        Some(("user", Some(user.to_string()))),
        json!({
            "workspacesDeleted": deleted.iter().map(|d| d.id).collect::<Vec<_>>(),
            "workspacesLeft": left,
        }),
    )
    .await?;
    tx.commit().await?;
    // Their records are gone; a file left by a failure here is removed by the bucket's lifecycle rule
    // for exports (days, not the purge's weeks).
    if let Some(files) = state.files.as_ref() {
        for key in &export_files {
            if let Err(e) = files.delete(key).await {
                tracing::warn!(user_id = %user, error = format!("{e:#}"), "an export file of an erased account was not deleted now");
            }
        }
    }
    tracing::info!(user_id = %user, workspaces_deleted = deleted.len(), workspaces_left = left, "account erased");
    Ok(Erased {
        erased_at,
        address_released_at: tombstone.map(|_| retention.purge_after(erased_at)),
        workspaces_deleted: deleted,
        workspaces_left: left,
    })
}
