//! A workspace's identity secret (signed identity for its end users): rotated by an admin and shown
//! that once, described without the secret, deleted (signed identity off); and the secrets a visitor
//! session verifies identity tokens with ([`secrets`], see [`crate::auth::identity`]).

use crate::auth::identity::{self, Secrets};
use crate::auth::{Admin, Tenant};
use crate::db::Scoped;
use crate::error::ApiError;
use crate::ids::WorkspaceId;
use crate::repo::{self, identity_secrets::SecretMeta};
use crate::state::AppState;
use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

/// A new identity secret: shown this once.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreatedIdentitySecret {
    /// The secret (`ids_ws_…`). Sign your end users' identity tokens with it (HS256, the whole string
    /// as the key). It cannot be shown again: keep it on your server now.
    pub secret: String,
    pub created_at: DateTime<Utc>,
    /// Until when the secret this one replaced keeps verifying tokens; null on the first secret.
    pub previous_valid_until: Option<DateTime<Utc>>,
}

/// What is shown of a workspace's identity secret: never the secret.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct IdentitySecretView {
    /// Whether signed identity is on (a secret exists).
    pub enabled: bool,
    /// When the current secret was made; null when there is none.
    pub created_at: Option<DateTime<Utc>>,
    /// Until when the previous secret keeps verifying tokens; null when none does.
    pub previous_valid_until: Option<DateTime<Utc>>,
}

/// The previous secret's end, when it is still to come.
fn still_valid(meta: &SecretMeta) -> Option<DateTime<Utc>> {
    meta.previous_valid_until
        .filter(|until| *until > Utc::now())
}

/// Makes a new secret; the current one, if any, keeps verifying for the configured grace.
pub async fn rotate(
    state: &AppState,
    tenant: &Tenant<Admin>,
) -> Result<CreatedIdentitySecret, ApiError> {
    let secret = identity::generate().map_err(ApiError::internal)?;
    let grace = state.config.identity.secret_grace;
    let tx = Scoped::tenant(&state.db, tenant).await?;
    let meta = repo::identity_secrets::rotate(
        &**tx,
        tenant.workspace_id,
        secret.expose_secret(),
        tenant.user_id(),
        grace.as_secs_f64(),
    )
    .await?;
    let previous_valid_until = still_valid(&meta);
    super::audit::record(
        &**tx,
        tenant,
        "identity_secret.rotate",
        "identity_secret",
        None,
        json!({"previousValidUntil": previous_valid_until}),
    )
    .await?;
    tx.commit().await?;
    Ok(CreatedIdentitySecret {
        secret: secret.expose_secret().to_owned(),
        created_at: meta.created_at,
        previous_valid_until,
    })
}

pub async fn describe(
    state: &AppState,
    tenant: &Tenant<Admin>,
) -> Result<IdentitySecretView, ApiError> {
    let client = Scoped::tenant(&state.db, tenant).await?;
    let meta = repo::identity_secrets::describe(&**client, tenant.workspace_id).await?;
    Ok(IdentitySecretView {
        enabled: meta.is_some(),
        created_at: meta.as_ref().map(|m| m.created_at),
        previous_valid_until: meta.as_ref().and_then(still_valid),
    })
}

/// Deletes the current and the previous secret: identity tokens stop verifying at once. Deleting when
/// there is none changes nothing (and is not audited).
pub async fn delete(state: &AppState, tenant: &Tenant<Admin>) -> Result<(), ApiError> {
    let tx = Scoped::tenant(&state.db, tenant).await?;
    if let Some(meta) = repo::identity_secrets::delete(&**tx, tenant.workspace_id).await? {
        super::audit::record(
            &**tx,
            tenant,
            "identity_secret.delete",
            "identity_secret",
            None,
            json!({"createdAt": meta.created_at}),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// The secrets a workspace's identity tokens verify with; `None` when signed identity is off.
pub async fn secrets(
    db: &impl tokio_postgres::GenericClient,
    workspace: WorkspaceId,
) -> Result<Option<Secrets>, ApiError> {
    let stored = repo::identity_secrets::secrets(db, workspace).await?;
    Ok(stored.map(|s| Secrets {
        current: SecretString::from(s.current),
        previous: s.previous.map(|(p, until)| (SecretString::from(p), until)),
    }))
}
