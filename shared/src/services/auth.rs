//! Registration, login, refresh-token rotation with replay detection, logout, and "who am I".

use crate::auth::refresh;
use crate::error::{ApiError, ErrorCode, unique_violation};
use crate::ids::Role;
use crate::repo;
use crate::services::workspaces::{self, WorkspaceSummary};
use crate::state::AppState;
use chrono::{DateTime, Utc};
use secrecy::SecretString;
use serde::Serialize;
use tokio_postgres::GenericClient;
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserView {
    pub id: Uuid,
    /// Null for an account made by an identity provider that gave no verified email.
    pub email: Option<String>,
    pub name: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokenPair {
    /// Short-lived JWT for `Authorization: Bearer`.
    pub access_token: String,
    /// Single-use token for POST /api/v1/auth/token.
    pub refresh_token: String,
    /// Seconds until the access token expires.
    pub expires_in: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RegisterResponse {
    pub user: UserView,
    pub workspace: WorkspaceSummary,
    #[serde(flatten)]
    pub tokens: TokenPair,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LoginResponse {
    #[serde(flatten)]
    pub tokens: TokenPair,
    pub user: UserView,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MyWorkspace {
    pub id: Uuid,
    pub name: String,
    pub slug: String,
    pub role: Role,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MeResponse {
    pub user: UserView,
    pub workspaces: Vec<MyWorkspace>,
    /// The workspace login and token refresh choose, and so the one requests without `X-Workspace-Id`
    /// act in: the one set with `PUT /api/v1/auth/me/default-workspace` (or switched to with
    /// `POST /api/v1/auth/token {workspaceId}`, or joined by accepting an invitation) while you are a
    /// member of it, else your oldest membership; null when you belong to none.
    pub default_workspace_id: Option<Uuid>,
}

/// Which refresh-token family a new token joins.
enum Family {
    /// A login or registration starts a family that ends `refresh_ttl` later.
    Start,
    /// A refresh continues the family and keeps its end.
    Continue { id: Uuid, expires_at: DateTime<Utc> },
}

async fn issue(
    state: &AppState,
    db: &impl GenericClient,
    token_id: Uuid,
    user: Uuid,
    workspace: Option<Uuid>,
    family: Family,
) -> Result<TokenPair, ApiError> {
    let (family_id, expires_at) = match family {
        Family::Start => {
            let ttl = chrono::Duration::from_std(state.config.jwt.refresh_ttl)
                .map_err(ApiError::internal)?;
            (Uuid::now_v7(), Utc::now() + ttl)
        }
        Family::Continue { id, expires_at } => (id, expires_at),
    };
    let (refresh_token, hash) = refresh::generate().map_err(ApiError::internal)?;
    repo::refresh_tokens::insert(db, token_id, &hash, family_id, user, workspace, expires_at)
        .await?;
    Ok(TokenPair {
        access_token: state.jwt.issue(user, workspace)?,
        refresh_token,
        expires_in: state.jwt.ttl_secs(),
    })
}

fn user_view(row: &repo::users::UserRow) -> UserView {
    UserView {
        id: row.id,
        email: row.email.clone(),
        name: row.name.clone(),
    }
}

pub async fn register(
    state: &AppState,
    email: &str,
    password: SecretString,
    name: &str,
    workspace_name: Option<&str>,
) -> Result<RegisterResponse, ApiError> {
    let email = email.trim().to_lowercase();
    let password_hash = state.passwords.hash(password).await?;
    let mut client = state.db.get().await?;
    let tx = client.transaction().await?;
    if let Some(owner) = repo::users::email_owner(&*tx, &email).await? {
        return Err(email_taken(state, owner.active));
    }
    let user_id = Uuid::now_v7();
    repo::users::insert(&*tx, user_id, &email, &password_hash, name.trim())
        .await
        .map_err(|e| {
            if unique_violation(&e) == Some("users_email_key") {
                email_taken(state, true)
            } else {
                e.into()
            }
        })?;
    let default_name = format!("{}'s workspace", name.trim());
    let workspace = workspaces::create_in(
        &*tx,
        user_id,
        workspace_name.map(str::trim).unwrap_or(&default_name),
    )
    .await?;
    repo::users::set_last_workspace(&*tx, user_id, workspace.id).await?;
    let tokens = issue(
        state,
        &*tx,
        Uuid::now_v7(),
        user_id,
        Some(workspace.id),
        Family::Start,
    )
    .await?;
    let welcome = crate::email::templates::welcome(&email, name.trim(), state.config.app_url());
    let mail = crate::email::queue(&*tx, None, &welcome).await?;
    tx.commit().await?;
    tracing::info!(user_id = %user_id, workspace_id = %workspace.id, "user registered");
    mail.send(&**client, state.email_queue.as_ref()).await;
    Ok(RegisterResponse {
        user: UserView {
            id: user_id,
            email: Some(email),
            name: name.trim().to_owned(),
        },
        workspace: WorkspaceSummary::from(&workspace),
        tokens,
    })
}

/// The address is an account's: an active one's, or one deleted or erased and not yet purged.
fn email_taken(state: &AppState, active: bool) -> ApiError {
    if active {
        ApiError::new(
            ErrorCode::EmailTaken,
            "An account with this email exists; log in instead.",
        )
    } else {
        ApiError::new(
            ErrorCode::EmailTaken,
            format!(
                "This address belonged to an account that was deleted or erased: it stays reserved until that account is purged, {} days after its deletion. Use another address, or register after then.",
                state.config.ops.retention_days
            ),
        )
    }
}

fn invalid_credentials() -> ApiError {
    ApiError::new(
        ErrorCode::InvalidCredentials,
        "The email or password is wrong.",
    )
}

/// Logs in. Unknown emails do the same database and argon2 work as known ones, and every failure is
/// the same `invalid_credentials`.
pub async fn login(
    state: &AppState,
    email: &str,
    password: SecretString,
) -> Result<LoginResponse, ApiError> {
    let mut client = state.db.get().await?;
    let user = repo::users::find_active_by_email(&**client, email.trim()).await?;
    // An account without a password (signed in by a provider) fails like a wrong password.
    let stored = user.as_ref().and_then(|u| u.password_hash.clone());
    let ok = state.passwords.verify(password, stored).await?;
    let user = match user {
        Some(user) if ok => user,
        _ => return Err(invalid_credentials()),
    };
    let tx = client.transaction().await?;
    let workspace = repo::members::default_workspace(&*tx, user.id, user.last_workspace_id).await?;
    let tokens = issue(
        state,
        &*tx,
        Uuid::now_v7(),
        user.id,
        workspace,
        Family::Start,
    )
    .await?;
    tx.commit().await?;
    tracing::info!(user_id = %user.id, "user logged in");
    Ok(LoginResponse {
        tokens,
        user: user_view(&user),
    })
}

fn refresh_rejected() -> ApiError {
    ApiError::unauthorized("The refresh token is not valid; log in again.")
}

/// Spends `token` and returns a new pair in the same family. A spent or revoked token presented again is
/// a replay: the whole family is revoked. `workspace` switches the token's workspace and makes it the
/// default (membership checked first; the token is not spent when the check fails); without it the new
/// token names the user's default workspace.
pub async fn refresh(
    state: &AppState,
    token: &str,
    workspace: Option<Uuid>,
) -> Result<TokenPair, ApiError> {
    if token.is_empty() || token.len() > refresh::MAX_TOKEN_LEN {
        return Err(refresh_rejected());
    }
    let hash = refresh::hash(token);
    let mut client = state.db.get().await?;
    let tx = client.transaction().await?;
    let successor = Uuid::now_v7();
    if let Some(spent) = repo::refresh_tokens::spend(&*tx, &hash, successor).await? {
        let Some(user) = repo::users::find_active(&*tx, spent.user_id).await? else {
            return Err(refresh_rejected());
        };
        let chosen = match workspace {
            Some(requested) => {
                // Dropping `tx` on this error rolls the spend back: a bad workspace id costs no token.
                repo::members::role_in_active_workspace(&*tx, requested, spent.user_id)
                    .await?
                    .ok_or_else(|| ApiError::not_found("Workspace"))?;
                repo::users::set_last_workspace(&*tx, spent.user_id, requested).await?;
                Some(requested)
            }
            // The user's default, which may have changed since this token was issued (else, for an
            // account that never had one, the session's workspace).
            None => {
                let preferred = user.last_workspace_id.or(spent.workspace_id);
                repo::members::default_workspace(&*tx, spent.user_id, preferred).await?
            }
        };
        let family = Family::Continue {
            id: spent.family_id,
            expires_at: spent.expires_at,
        };
        let pair = issue(state, &*tx, successor, spent.user_id, chosen, family).await?;
        tx.commit().await?;
        return Ok(pair);
    }
    tx.rollback().await?;
    match repo::refresh_tokens::family_of(&**client, &hash).await? {
        None => Err(refresh_rejected()),
        Some((_, true)) => Err(ApiError::new(
            ErrorCode::TokenExpired,
            "The session has expired; log in again.",
        )),
        Some((family, false)) => {
            let revoked = repo::refresh_tokens::revoke_family(&**client, family).await?;
            tracing::warn!(family_id = %family, revoked, "refresh token replayed; token family revoked");
            Err(ApiError::unauthorized(
                "This refresh token was already used, so the session was ended for safety; log in again.",
            ))
        }
    }
}

/// Revokes the token's whole family. Unknown tokens are accepted silently (logging out twice is fine).
pub async fn logout(state: &AppState, token: &str) -> Result<(), ApiError> {
    if token.len() > refresh::MAX_TOKEN_LEN {
        return Ok(());
    }
    let client = state.db.get().await?;
    if let Some((family, _)) =
        repo::refresh_tokens::family_of(&**client, &refresh::hash(token)).await?
    {
        let revoked = repo::refresh_tokens::revoke_family(&**client, family).await?;
        tracing::info!(family_id = %family, revoked, "logged out");
    }
    Ok(())
}

/// The caller and every workspace they belong to.
pub async fn me(state: &AppState, user_id: Uuid) -> Result<MeResponse, ApiError> {
    const MAX_LISTED: i64 = 1000;
    // The account and its memberships across workspaces, through the user-scoped policies.
    let client = crate::db::Scoped::begin(&state.db, crate::db::Scope::user(user_id)).await?;
    let account = repo::users::account(&**client, user_id, MAX_LISTED)
        .await?
        .ok_or_else(|| ApiError::unauthorized("This account no longer exists."))?;
    let workspaces = account
        .memberships
        .into_iter()
        .map(|m| {
            Ok(MyWorkspace {
                role: Role::from_db(&m.role)?,
                id: m.workspace_id,
                name: m.name,
                slug: m.slug,
            })
        })
        .collect::<Result<_, ApiError>>()?;
    Ok(MeResponse {
        user: UserView {
            id: account.id,
            email: account.email,
            name: account.name,
        },
        workspaces,
        default_workspace_id: account.default_workspace_id,
    })
}

/// Makes `workspace` the user's default: the one login and refresh put in the next tokens. A workspace
/// the user is not an active member of is a 404, like any other tenant's.
pub async fn set_default_workspace(
    state: &AppState,
    user_id: Uuid,
    workspace: Uuid,
) -> Result<(), ApiError> {
    let client = state.db.get().await?;
    repo::members::role_in_active_workspace(&**client, workspace, user_id)
        .await?
        .ok_or_else(|| ApiError::not_found("Workspace"))?;
    repo::users::set_last_workspace(&**client, user_id, workspace).await?;
    tracing::info!(user_id = %user_id, workspace_id = %workspace, "default workspace set");
    Ok(())
}

/// The least time a password-reset request takes, whether or not the email has an account: the work
/// done for a known address (a token, an outbox row, a queue send) must not show in the timing.
pub const FORGOT_PASSWORD_FLOOR: std::time::Duration = std::time::Duration::from_millis(400);

/// Starts a password reset: when `email` has an account, a single-use token is issued (earlier ones stop
/// working) and mailed. The caller answers the same way either way, and this takes at least
/// [`FORGOT_PASSWORD_FLOOR`] either way.
pub async fn forgot_password(state: &AppState, email: &str) -> Result<(), ApiError> {
    let started = tokio::time::Instant::now();
    let result = forgot_password_inner(state, email).await;
    tokio::time::sleep_until(started + FORGOT_PASSWORD_FLOOR).await;
    result
}

async fn forgot_password_inner(state: &AppState, email: &str) -> Result<(), ApiError> {
    let mut client = state.db.get().await?;
    let tx = client.transaction().await?;
    let Some(user) = repo::users::find_active_by_email(&*tx, email.trim()).await? else {
        tx.rollback().await?;
        tracing::info!("password reset asked for an address without an account");
        return Ok(());
    };
    let (token, hash) = refresh::generate().map_err(ApiError::internal)?;
    let ttl = state.config.ops.password_reset_ttl;
    repo::password_resets::insert(&*tx, user.id, &hash, ttl.as_secs_f64()).await?;
    // Found by its address, so it has one.
    let to = user.email.as_deref().unwrap_or(email.trim());
    let message = crate::email::templates::password_reset(
        to,
        &token,
        state.config.app_url(),
        ttl.as_secs() / 60,
    );
    let mail = crate::email::queue(&*tx, None, &message).await?;
    tx.commit().await?;
    tracing::info!(user_id = %user.id, "password reset issued");
    mail.send(&**client, state.email_queue.as_ref()).await;
    Ok(())
}

fn reset_rejected() -> ApiError {
    ApiError::new(
        ErrorCode::InvalidToken,
        "This password reset link is not valid: it was used already, has expired, or a newer one was sent. Ask for a new one.",
    )
}

/// Completes a reset: the token is spent, the password replaced, and every refresh token of the user
/// revoked (every session elsewhere ends), in one transaction.
pub async fn reset_password(
    state: &AppState,
    token: &str,
    password: SecretString,
) -> Result<(), ApiError> {
    let hash = refresh::hash(token.trim());
    // Hash first: a wrong token then costs the same as a right one, and no row stays locked meanwhile.
    let password_hash = state.passwords.hash(password).await?;
    let mut client = state.db.get().await?;
    let tx = client.transaction().await?;
    let Some(user_id) = repo::password_resets::spend(&*tx, &hash).await? else {
        return Err(reset_rejected());
    };
    if repo::users::find_active(&*tx, user_id).await?.is_none() {
        return Err(reset_rejected());
    }
    repo::users::set_password(&*tx, user_id, &password_hash).await?;
    let revoked = repo::refresh_tokens::revoke_all_of_user(&*tx, user_id).await?;
    tx.commit().await?;
    tracing::info!(user_id = %user_id, sessions_revoked = revoked, "password reset");
    Ok(())
}
