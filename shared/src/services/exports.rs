//! Data exports, the right of access and of portability: everything stored about a person
//! (`/api/v1/auth/me/export`), or a whole workspace for its owner (`/api/v1/workspaces/{id}/export`).
//!
//! Asked for with a POST (202, or the one already in progress), built by the cron's `build-exports` job
//! (every minute on Lambda) as one JSON file in the files store, then offered through the GET as a
//! download link that lives [`DOWNLOAD_LINK_TTL`] (S3's presigned URL; the devserver's own locally). The
//! file is deleted [`EXPORT_KEPT`] after it was built, with its record.

use crate::auth::{Owner, Tenant};
use crate::db::Scoped;
use crate::error::ApiError;
use crate::repo::exports::{self as repo, ExportRow, Subject};
use crate::state::AppState;
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;
use utoipa::ToSchema;
use uuid::Uuid;

/// How long a download link works (ask again for a new one while the export is kept).
pub const DOWNLOAD_LINK_TTL: Duration = Duration::from_secs(15 * 60);
/// How long a built export is kept.
pub const EXPORT_KEPT: chrono::Duration = chrono::Duration::days(7);
/// The largest export file: beyond it the export fails and says so.
pub const MAX_EXPORT_BYTES: usize = 256 * 1024 * 1024;
/// Runs of the job an export may fail in before it is failed for good.
const MAX_ATTEMPTS: i32 = 3;
/// Exports one run of the job builds at most (the rest wait for the next run).
const PER_RUN: usize = 20;

/// An export and, once built, where to download it.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExportView {
    pub id: Uuid,
    /// `user` (a person's data) or `workspace`.
    pub kind: String,
    /// `pending` (being built: ask again in a minute), `ready` or `failed`.
    pub status: String,
    pub requested_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// The file's size, once ready.
    pub bytes: Option<i64>,
    /// Why it failed.
    pub error: Option<String>,
    /// Once ready: a link to the JSON file, working until `downloadUrlExpiresAt` (ask again for a new one).
    pub download_url: Option<String>,
    pub download_url_expires_at: Option<DateTime<Utc>>,
    /// When the file (and this record) is deleted.
    pub expires_at: Option<DateTime<Utc>>,
}

fn files(state: &AppState) -> Result<&crate::storage::FileStore, ApiError> {
    state.files.as_ref().ok_or_else(|| {
        ApiError::unavailable(
            "Exports",
            anyhow::anyhow!("UPLOADS_BUCKET is not set: exports have nowhere to be stored"),
        )
    })
}

async fn view(state: &AppState, row: ExportRow) -> Result<ExportView, ApiError> {
    let (download_url, download_url_expires_at) = match (&row.status[..], &row.file_key) {
        ("ready", Some(key)) => {
            let (url, until) = files(state)?
                .presign_get(key, DOWNLOAD_LINK_TTL)
                .await
                .map_err(|e| ApiError::unavailable("File storage", e))?;
            (Some(url), Some(until))
        }
        _ => (None, None),
    };
    Ok(ExportView {
        id: row.id,
        kind: row.kind,
        status: row.status,
        requested_at: row.created_at,
        finished_at: row.finished_at,
        bytes: row.bytes,
        error: row.error,
        download_url,
        download_url_expires_at,
        expires_at: row.expires_at,
    })
}

/// Asks for an export of `subject` in `client`'s transaction: the one in progress when there is one
/// (`false`), else a new one (`true`).
async fn request(
    state: &AppState,
    client: Scoped,
    subject: Subject,
) -> Result<(bool, ExportView), ApiError> {
    // One at a time per subject: a second request while one is built gets that one.
    if let Some(row) = repo::latest(&**client, subject).await?
        && row.status == "pending"
    {
        return Ok((false, view(state, row).await?));
    }
    files(state)?;
    let row = repo::insert(&**client, Uuid::now_v7(), subject).await?;
    client.commit().await?;
    tracing::info!(export_id = %row.id, kind = %row.kind, "export requested");
    Ok((true, view(state, row).await?))
}

async fn latest(
    state: &AppState,
    client: Scoped,
    subject: Subject,
) -> Result<ExportView, ApiError> {
    let row = repo::latest(&**client, subject)
        .await?
        .ok_or_else(|| ApiError::not_found("Export"))?;
    drop(client);
    view(state, row).await
}

/// Asks for an export of everything stored about the signed-in `user`.
pub async fn request_mine(state: &AppState, user: Uuid) -> Result<(bool, ExportView), ApiError> {
    let client = Scoped::begin(&state.db, crate::db::Scope::user(user)).await?;
    request(state, client, Subject::User(user)).await
}

/// The signed-in `user`'s latest export (404 when they never asked for one, or it expired).
pub async fn mine(state: &AppState, user: Uuid) -> Result<ExportView, ApiError> {
    let client = Scoped::begin(&state.db, crate::db::Scope::user(user)).await?;
    latest(state, client, Subject::User(user)).await
}

fn workspace_subject(tenant: &Tenant<Owner>) -> Subject {
    Subject::Workspace {
        workspace: *tenant.workspace_id.as_uuid(),
        by: tenant.user_id(),
    }
}

/// Asks for an export of the whole workspace (owner only).
pub async fn request_workspace(
    state: &AppState,
    tenant: &Tenant<Owner>,
) -> Result<(bool, ExportView), ApiError> {
    let client = Scoped::tenant(&state.db, tenant).await?;
    request(state, client, workspace_subject(tenant)).await
}

/// The workspace's latest export.
pub async fn workspace(state: &AppState, tenant: &Tenant<Owner>) -> Result<ExportView, ApiError> {
    let client = Scoped::tenant(&state.db, tenant).await?;
    latest(state, client, workspace_subject(tenant)).await
}

/// The file of an export: the data, with what it is.
async fn contents(
    db: &impl tokio_postgres::GenericClient,
    row: &ExportRow,
) -> anyhow::Result<Vec<u8>> {
    let (subject, data) = match (&row.kind[..], row.user_id, row.workspace_id) {
        ("user", Some(user), _) => ("user", repo::user_data(db, user).await?),
        ("workspace", _, Some(workspace)) => {
            ("workspace", repo::workspace_data(db, workspace).await?)
        }
        _ => anyhow::bail!("export {} has no subject", row.id),
    };
    let mut file = serde_json::json!({
        "format": "soft-systems-studio-export/1",
        "exportId": row.id,
        "kind": subject,
        "exportedAt": Utc::now(),
    });
    if let (Some(file), serde_json::Value::Object(data)) = (file.as_object_mut(), data) {
        file.extend(data);
    }
    let bytes = serde_json::to_vec_pretty(&file)?;
    anyhow::ensure!(
        bytes.len() <= MAX_EXPORT_BYTES,
        "the export holds {} MB, more than the {} MB an export may: ask support for a bulk export",
        bytes.len() / (1024 * 1024),
        MAX_EXPORT_BYTES / (1024 * 1024)
    );
    Ok(bytes)
}

/// Builds one pending export, if there is one: `Some(true)` built, `Some(false)` failed this time.
async fn build_one(state: &AppState) -> anyhow::Result<Option<bool>> {
    let files = state
        .files
        .as_ref()
        .ok_or_else(|| anyhow::anyhow!("UPLOADS_BUCKET is not set: exports cannot be stored"))?;
    let mut client = state.db.get().await?;
    let tx = client.transaction().await?;
    let Some(row) = repo::claim_pending(&*tx).await? else {
        return Ok(None);
    };
    let key = format!("exports/{}/{}.json", row.kind, row.id);
    let built = async {
        let bytes = contents(&*tx, &row).await?;
        let size = bytes.len() as i64;
        files.put(&key, bytes, "application/json").await?;
        anyhow::Ok(size)
    }
    .await;
    let ok = match built {
        Ok(size) => {
            repo::mark_ready(&*tx, row.id, &key, size, Utc::now() + EXPORT_KEPT).await?;
            tracing::info!(export_id = %row.id, kind = %row.kind, bytes = size, "export built");
            true
        }
        Err(e) => {
            let last = row.attempts >= MAX_ATTEMPTS;
            let message = format!("{e:#}");
            tracing::error!(export_id = %row.id, kind = %row.kind, error = %message, final_attempt = last, "export not built");
            let said = if last {
                format!("The export could not be built: {message}")
            } else {
                format!("Not built yet (retried at the next run): {message}")
            };
            repo::record_failure(&*tx, row.id, &said, last).await?;
            false
        }
    };
    tx.commit().await?;
    Ok(Some(ok))
}

/// The cron's `build-exports`: builds the pending exports (up to a batch per run), then deletes expired
/// ones with their files.
pub async fn run(state: &AppState) -> anyhow::Result<BTreeMap<&'static str, u64>> {
    let mut counts = BTreeMap::from([("built", 0), ("failed", 0), ("expired", 0)]);
    for _ in 0..PER_RUN {
        match build_one(state).await? {
            None => break,
            Some(true) => *counts.entry("built").or_default() += 1,
            Some(false) => *counts.entry("failed").or_default() += 1,
        }
    }
    let client = state.db.get().await?;
    let expired = repo::expired(&**client, 100).await?;
    if !expired.is_empty() {
        for key in expired.iter().filter_map(|e| e.file_key.as_deref()) {
            let files = state.files.as_ref().ok_or_else(|| {
                anyhow::anyhow!("UPLOADS_BUCKET is not set: expired exports cannot be deleted")
            })?;
            files.delete(key).await?;
        }
        let ids: Vec<Uuid> = expired.iter().map(|e| e.id).collect();
        counts.insert("expired", repo::delete(&**client, &ids).await?);
    }
    Ok(counts)
}
