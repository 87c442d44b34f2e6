//! Members signed in by an external identity provider: the account a verified provider token stands
//! for (provisioned on its first use), and the identities an account links.
//!
//! Decisions (issue 18):
//! - an identity is found by (issuer, subject) only, never by email;
//! - the first valid token of an unknown subject provisions an account with a first workspace, as
//!   registration does; its email is the token's only when `email_verified` says so, and none otherwise;
//! - a verified email that an active account already owns is never linked automatically: that first
//!   token is refused with `email_taken`, and the owner links the provider while signed in
//!   (`POST /api/v1/auth/identities`) — so an unverified or foreign claim can never take an account over;
//! - an address a deleted account still reserves is not taken: the account is provisioned without email.

use crate::auth::Actor;
use crate::auth::oidc::ExternalIdentity;
use crate::error::{ApiError, ErrorCode};
use crate::repo;
use crate::services::workspaces;
use crate::state::AppState;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

/// One identity an account signs in with.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct IdentityView {
    pub id: Uuid,
    /// The provider's issuer (`iss`).
    pub issuer: String,
    /// The account's id at the provider (`sub`).
    pub subject: String,
    /// The verified email the provider gave when the identity was linked, if any.
    pub email: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl From<repo::identities::IdentityRow> for IdentityView {
    fn from(r: repo::identities::IdentityRow) -> Self {
        Self {
            id: r.id,
            issuer: r.issuer,
            subject: r.subject,
            email: r.email,
            created_at: r.created_at,
        }
    }
}

/// The account a provider's token signs in to, and the workspace its requests act in by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignedIn {
    pub user_id: Uuid,
    /// The last workspace chosen while still a member, else the oldest membership.
    pub default_workspace: Option<Uuid>,
}

fn link_required() -> ApiError {
    ApiError::new(
        ErrorCode::EmailTaken,
        "An account with this email exists. Sign in to it as before, then link this provider with POST /api/v1/auth/identities {token}.",
    )
}

/// The member a verified provider token stands for, provisioning the account on its first use.
pub async fn resolve(state: &AppState, identity: &ExternalIdentity) -> Result<SignedIn, ApiError> {
    let client = state.db.get().await?;
    if let Some((user_id, workspace)) =
        repo::identities::user_of(&**client, &identity.issuer, &identity.subject).await?
    {
        return Ok(SignedIn {
            user_id,
            default_workspace: workspace,
        });
    }
    drop(client);
    provision(state, identity).await
}

async fn provision(state: &AppState, identity: &ExternalIdentity) -> Result<SignedIn, ApiError> {
    let mut client = state.db.get().await?;
    let tx = client.transaction().await?;
    let email = match identity.verified_email.as_deref() {
        None => None,
        Some(email) => match repo::users::email_owner(&*tx, email).await? {
            Some(owner) if owner.active => return Err(link_required()),
            // A deleted account still reserves its address.
            Some(_) => None,
            None => Some(email),
        },
    };
    let name = identity
        .name
        .clone()
        .or_else(|| email.and_then(|e| e.split('@').next()).map(str::to_owned))
        .unwrap_or_else(|| "Member".to_owned());
    let user_id = Uuid::now_v7();
    repo::users::insert_external(&*tx, user_id, email, &name)
        .await
        .map_err(|e| {
            if crate::error::unique_violation(&e) == Some("users_email_key") {
                // Taken between the check and the insert.
                link_required()
            } else {
                e.into()
            }
        })?;
    let Some(row) =
        repo::identities::insert(&*tx, user_id, &identity.issuer, &identity.subject, email).await?
    else {
        // Another request provisioned this identity meanwhile: this one's account is rolled back, and
        // that one's is used.
        drop(tx);
        let (user_id, workspace) =
            repo::identities::user_of(&**client, &identity.issuer, &identity.subject)
                .await?
                .ok_or_else(|| ApiError::unauthorized("This account is no longer active."))?;
        return Ok(SignedIn {
            user_id,
            default_workspace: workspace,
        });
    };
    let workspace = workspaces::create_in(&*tx, user_id, &format!("{name}'s workspace")).await?;
    repo::users::set_last_workspace(&*tx, user_id, workspace.id).await?;
    super::audit::write(
        &*tx,
        Actor::Member(user_id),
        None,
        "user.provisioned",
        Some(("user", Some(user_id.to_string()))),
        serde_json::json!({"identityId": row.id, "issuer": identity.issuer}),
    )
    .await?;
    let mail = match email {
        Some(email) => Some(
            crate::email::queue(
                &*tx,
                None,
                &crate::email::templates::welcome(email, &name, state.config.app_url()),
            )
            .await?,
        ),
        None => None,
    };
    tx.commit().await?;
    tracing::info!(user_id = %user_id, workspace_id = %workspace.id, issuer = %identity.issuer, "user provisioned from an identity provider");
    if let Some(mail) = mail {
        mail.send(&**client, state.email_queue.as_ref()).await;
    }
    Ok(SignedIn {
        user_id,
        default_workspace: Some(workspace.id),
    })
}

/// The verifier of a token sent in a body (to link): 400 `invalid_token` rather than the 401 that
/// would say the caller's own session is bad.
pub(crate) async fn verify_body_token(
    state: &AppState,
    token: &str,
) -> Result<ExternalIdentity, ApiError> {
    let oidc = state.oidc.as_ref().ok_or_else(|| {
        ApiError::new(
            ErrorCode::InvalidToken,
            "No identity provider is configured on this deployment (AUTH_OIDC_ISSUERS).",
        )
    })?;
    if !oidc.claims_issuer(token) {
        return Err(ApiError::new(
            ErrorCode::InvalidToken,
            "token must be a token from one of this deployment's identity providers.",
        ));
    }
    oidc.verify(token).await.map_err(|e| match e.code {
        ErrorCode::Unauthorized | ErrorCode::TokenExpired => {
            ApiError::new(ErrorCode::InvalidToken, e.message)
        }
        _ => e,
    })
}

/// Links the identity of a provider's `token` to the signed-in account: 201 with it, or 200 when it was
/// linked already; 409 when it signs in to another account.
pub async fn link(
    state: &AppState,
    user: Uuid,
    token: &str,
) -> Result<(bool, IdentityView), ApiError> {
    let identity = verify_body_token(state, token).await?;
    let mut client = state.db.get().await?;
    let tx = client.transaction().await?;
    if let Some(existing) =
        repo::identities::find(&*tx, &identity.issuer, &identity.subject).await?
    {
        return if existing.user_id == user {
            Ok((false, existing.into()))
        } else {
            Err(ApiError::conflict(
                "This identity already signs in to another account; remove it there first.",
            ))
        };
    }
    let row = repo::identities::insert(
        &*tx,
        user,
        &identity.issuer,
        &identity.subject,
        identity.verified_email.as_deref(),
    )
    .await?
    .ok_or_else(|| ApiError::conflict("This identity was linked meanwhile; try again."))?;
    // An account without an address takes the provider's verified one, when no other account has it.
    if let Some(email) = identity.verified_email.as_deref()
        && repo::users::email_owner(&*tx, email).await?.is_none()
    {
        repo::users::set_email_if_none(&*tx, user, email).await?;
    }
    super::audit::write(
        &*tx,
        Actor::Member(user),
        None,
        "user.identity_linked",
        Some(("user", Some(user.to_string()))),
        serde_json::json!({"identityId": row.id, "issuer": identity.issuer}),
    )
    .await?;
    tx.commit().await?;
    Ok((true, row.into()))
}

pub async fn list(state: &AppState, user: Uuid) -> Result<Vec<IdentityView>, ApiError> {
    let client = state.db.get().await?;
    Ok(repo::identities::list(&**client, user)
        .await?
        .into_iter()
        .map(IdentityView::from)
        .collect())
}

/// Removes one of the account's identities, unless it is the account's last way to sign in (no
/// password and no other identity): 409 then.
pub async fn unlink(state: &AppState, user: Uuid, id: Uuid) -> Result<(), ApiError> {
    let mut client = state.db.get().await?;
    let tx = client.transaction().await?;
    let identities = repo::identities::list(&*tx, user).await?;
    let Some(target) = identities.iter().find(|i| i.id == id) else {
        return Err(ApiError::not_found("Identity"));
    };
    let has_password = repo::users::find_active(&*tx, user)
        .await?
        .is_some_and(|u| u.password_hash.is_some());
    if !has_password && identities.len() == 1 {
        return Err(ApiError::conflict(
            "This is the account's only way to sign in: link another provider or set a password first.",
        ));
    }
    repo::identities::delete(&*tx, user, id).await?;
    super::audit::write(
        &*tx,
        Actor::Member(user),
        None,
        "user.identity_unlinked",
        Some(("user", Some(user.to_string()))),
        serde_json::json!({"identityId": target.id, "issuer": target.issuer}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
