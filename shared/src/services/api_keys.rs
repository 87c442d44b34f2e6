//! A workspace's API keys (admin+): created (the key shown once), listed (never the key), revoked at
//! once. Every creation and revocation is in the workspace's audit log, in the same transaction.

use crate::auth::api_keys::{self, KeyKind, Scope};
use crate::auth::{Admin, Tenant};
use crate::db::Scoped;
use crate::error::ApiError;
use crate::paging::{Cursor, Page, PageParams};
use crate::repo::{self, api_keys::KeyRow};
use crate::state::AppState;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

/// A key as listed: recognisable by its prefix, never the key itself.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeyView {
    pub id: Uuid,
    pub name: String,
    pub kind: KeyKind,
    /// The key's first characters (`sk_ws_AbC123`), to recognise it.
    pub prefix: String,
    /// A publishable key's origins, normalised (empty for a secret key; an empty list allows nothing).
    pub allowed_origins: Vec<String>,
    /// A secret key's scopes (empty for a publishable key).
    pub scopes: Vec<Scope>,
    pub created_at: DateTime<Utc>,
    /// When a request last used it, to the minute; null when never.
    pub last_used_at: Option<DateTime<Utc>>,
    /// When it was revoked; null while it works.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A new key: the key in full, shown this once, and its listing.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreatedApiKey {
    /// The key. It is not stored and cannot be shown again: keep it now.
    pub key: String,
    #[serde(flatten)]
    pub view: ApiKeyView,
}

fn view(row: KeyRow) -> Result<ApiKeyView, ApiError> {
    let corrupt =
        |what: &str| ApiError::internal(anyhow::anyhow!("api_keys row {}: {what}", row.id));
    Ok(ApiKeyView {
        kind: KeyKind::from_db(&row.kind).ok_or_else(|| corrupt("kind"))?,
        scopes: row
            .scopes
            .iter()
            .map(|s| Scope::from_db(s).ok_or_else(|| corrupt("scope")))
            .collect::<Result<_, _>>()?,
        id: row.id,
        name: row.name,
        prefix: row.prefix,
        allowed_origins: row.allowed_origins,
        created_at: row.created_at,
        last_used_at: row.last_used_at,
        revoked_at: row.revoked_at,
    })
}

/// What a new key is asked to be.
#[derive(Debug, Clone, Copy)]
pub struct KeyRequest<'a> {
    pub name: &'a str,
    pub kind: KeyKind,
    pub allowed_origins: Option<&'a [String]>,
    pub scopes: Option<&'a [Scope]>,
}

/// Records an action on a key in the workspace's audit log.
async fn audit(
    db: &impl tokio_postgres::GenericClient,
    tenant: &Tenant<Admin>,
    action: &str,
    key: &ApiKeyView,
) -> Result<(), ApiError> {
    super::audit::record(
        db,
        tenant,
        action,
        "api_key",
        Some(key.id.to_string()),
        json!({"name": key.name, "kind": key.kind, "prefix": key.prefix,
               "allowedOrigins": key.allowed_origins, "scopes": key.scopes}),
    )
    .await
}

/// Keys a workspace may have that are not revoked: enough for every site and server, few enough that a
/// leaked admin token cannot mint an unbounded number.
pub const MAX_ACTIVE_KEYS: i64 = 50;

/// Creates a key; the answer holds the key, which is never shown again.
pub async fn create(
    state: &AppState,
    tenant: &Tenant<Admin>,
    req: KeyRequest<'_>,
) -> Result<CreatedApiKey, ApiError> {
    let (origins, scopes) = api_keys::settings(req.kind, req.allowed_origins, req.scopes)
        .map_err(ApiError::validation)?;
    let new = api_keys::generate(req.kind).map_err(ApiError::internal)?;
    let tx = Scoped::tenant(&state.db, tenant).await?;
    if repo::api_keys::count_active_locked(&**tx, tenant.workspace_id).await? >= MAX_ACTIVE_KEYS {
        return Err(ApiError::conflict(format!(
            "This workspace has {MAX_ACTIVE_KEYS} keys that are not revoked, the most it may have: revoke one it no longer uses (DELETE …/api-keys/{{keyId}}) first."
        )));
    }
    let row = repo::api_keys::insert(
        &**tx,
        tenant.workspace_id,
        &repo::api_keys::NewKeyRow {
            id: Uuid::now_v7(),
            name: req.name,
            kind: req.kind.as_str(),
            prefix: &new.prefix,
            hash: &new.hash,
            allowed_origins: &origins,
            scopes: &scopes,
            created_by: tenant.user_id(),
        },
    )
    .await?;
    let view = view(row)?;
    audit(&**tx, tenant, "api_key.created", &view).await?;
    tx.commit().await?;
    Ok(CreatedApiKey { key: new.key, view })
}

/// The workspace's keys, newest first, revoked ones included.
pub async fn list(
    state: &AppState,
    tenant: &Tenant<Admin>,
    page: &PageParams,
) -> Result<Page<ApiKeyView>, ApiError> {
    let limit = page.limit();
    let before = page.cursor()?.map(|c| (c.at, c.id));
    let client = Scoped::tenant(&state.db, tenant).await?;
    let rows =
        repo::api_keys::list(&**client, tenant.workspace_id, before, i64::from(limit) + 1).await?;
    Page::from_rows(rows, limit, |r| Cursor {
        at: r.created_at,
        id: r.id,
    })
    .try_map(view)
}

/// Revokes a key at once: the next request with it is refused. Revoking it again changes nothing (and
/// is not audited again); another workspace's key is a 404.
pub async fn revoke(state: &AppState, tenant: &Tenant<Admin>, id: Uuid) -> Result<(), ApiError> {
    let tx = Scoped::tenant(&state.db, tenant).await?;
    let (row, newly) = repo::api_keys::revoke(&**tx, tenant.workspace_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("API key"))?;
    if !newly {
        return Ok(());
    }
    audit(&**tx, tenant, "api_key.revoked", &view(row)?).await?;
    tx.commit().await?;
    Ok(())
}
