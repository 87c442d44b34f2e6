//! File uploads: a member asks for an upload ([`grant`]) and gets a URL to `PUT` the file to (S3's
//! presigned URL, or the devserver's own); the file's arrival (S3's notification on the extract queue)
//! has the extract worker read it, take its text out ([`crate::extract`]) and hand the document to the
//! ingest queue as if its text had been sent ([`process_notification`]). A file that cannot be read fails
//! its own document with a stable code and a sentence; one that never arrives is failed by the sweep.

use crate::auth::{Access, MemberRole, Tenant};
use crate::billing::{Consumption, check_quota};
use crate::db::Scoped;
use crate::error::{ApiError, ErrorCode};
use crate::repo::documents::{self, NewUpload};
use crate::state::AppState;
use crate::storage::FileStore;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;
use uuid::Uuid;

/// What a client asks to upload.
#[derive(Debug, Clone)]
pub struct UploadRequest {
    pub file_name: String,
    pub content_type: String,
    pub size: u64,
    pub title: Option<String>,
    pub metadata: serde_json::Value,
}

/// Where and how to upload the file.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UploadGranted {
    /// The document the file becomes (`uploading` until the file has arrived and been read).
    pub document_id: Uuid,
    /// Follow it with GET /api/v1/agents/ingest/{ingestionId}, as any ingestion.
    pub ingestion_id: Uuid,
    /// Send the file's bytes here, as the body of one request.
    pub upload_url: String,
    /// Always `PUT`.
    pub method: String,
    /// Send exactly these headers (they are signed: another type or length is refused).
    pub headers: BTreeMap<String, String>,
    /// The URL works until then (`UPLOAD_URL_TTL_SECONDS` after the grant).
    pub expires_at: DateTime<Utc>,
}

/// The storage key of a document's file.
pub fn file_key(workspace: crate::WorkspaceId, document: Uuid) -> String {
    format!("uploads/{workspace}/{document}")
}

/// The workspace and document a storage key names, if it is one of ours.
pub fn parse_file_key(key: &str) -> Option<(Uuid, Uuid)> {
    let mut parts = key.split('/');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some("uploads"), Some(ws), Some(doc), None) => {
            Some((Uuid::parse_str(ws).ok()?, Uuid::parse_str(doc).ok()?))
        }
        _ => None,
    }
}

/// Grants an upload (member or higher): the plan's file size and document quota are checked, the
/// document is stored `uploading` with its ingestion, and the signed URL is answered.
pub async fn grant(
    app: &AppState,
    files: Option<&FileStore>,
    tenant: &Tenant<MemberRole, impl Access>,
    request: UploadRequest,
) -> Result<UploadGranted, ApiError> {
    let files = files.ok_or_else(|| {
        ApiError::new(
            ErrorCode::ServiceUnavailable,
            "File uploads are not configured on this server: set UPLOADS_BUCKET (or UPLOADS_DIR locally).",
        )
    })?;
    let ws = tenant.workspace_id;
    let document_id = Uuid::now_v7();
    let ingestion_id = Uuid::now_v7();
    let key = file_key(ws, document_id);
    let tx = Scoped::tenant(&app.db, tenant).await?;
    check_quota(&**tx, ws, Consumption::Upload(request.size)).await?;
    // Signed before anything is stored: a signer without credentials stores nothing.
    let signed = files
        .presign_put(
            &key,
            &request.content_type,
            request.size,
            app.config.uploads.url_ttl,
        )
        .await
        .map_err(|e| ApiError::unavailable("file storage", e))?;
    documents::insert_single_ingestion(&**tx, ws, ingestion_id, tenant.actor()).await?;
    let upload = NewUpload {
        id: document_id,
        title: request.title.unwrap_or_else(|| request.file_name.clone()),
        file_name: request.file_name,
        file_size: i64::try_from(request.size).map_err(ApiError::internal)?,
        declared_type: request.content_type,
        file_key: key,
        metadata: request.metadata,
    };
    documents::insert_upload(&**tx, ws, ingestion_id, tenant.actor(), &upload).await?;
    tx.commit().await?;
    tracing::info!(workspace_id = %ws, document_id = %document_id, ingestion_id = %ingestion_id, size = upload.file_size, "upload granted");
    Ok(UploadGranted {
        document_id,
        ingestion_id,
        upload_url: signed.url,
        method: signed.method.to_owned(),
        headers: signed.headers,
        expires_at: signed.expires_at,
    })
}

/// An S3 event notification (what S3 sends to the extract queue), as far as we read it.
#[derive(Debug, Deserialize)]
pub struct S3Notification {
    #[serde(rename = "Records", default)]
    pub records: Vec<S3Record>,
    /// `s3:TestEvent` when a notification is configured (no records).
    #[serde(rename = "Event")]
    pub event: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct S3Record {
    pub event_name: String,
    pub s3: S3Entity,
}

#[derive(Debug, Deserialize)]
pub struct S3Entity {
    pub object: S3Object,
}

#[derive(Debug, Deserialize)]
pub struct S3Object {
    /// URL-encoded as in a form (`+` for a space).
    pub key: String,
}

impl S3Record {
    /// The object's key, decoded.
    pub fn key(&self) -> String {
        // One form-encoded name (its `&` and `=` arrive encoded): decoding it decodes the key.
        form_urlencoded::parse(self.s3.object.key.as_bytes())
            .next()
            .map(|(key, _)| key.into_owned())
            .unwrap_or_default()
    }
}

/// The notification a local upload stands for: what S3 would send for the object.
pub fn local_notification(key: &str) -> String {
    let encoded: String = form_urlencoded::byte_serialize(key.as_bytes()).collect();
    serde_json::json!({
        "Records": [{
            "eventVersion": "2.1",
            "eventSource": "devserver:uploads",
            "eventName": "ObjectCreated:Put",
            "s3": {"object": {"key": encoded}},
        }]
    })
    .to_string()
}

#[cfg(feature = "extract")]
pub use worker::*;

#[cfg(feature = "extract")]
mod worker {
    use super::*;
    use crate::extract::{self, Limits};
    use crate::ids::WorkspaceId;
    use crate::outbox::{self, Topic};
    use crate::queue::IngestMessage;
    use crate::state::ExtractState;
    use crate::storage::ReadError;

    /// Handles one message of the extract queue: each uploaded file it announces is read and its text
    /// handed to the ingest queue. A file that cannot be read fails its document (and the message
    /// succeeds); only trouble a retry may cure (storage or the database down) fails the message.
    pub async fn process_notification(
        state: &ExtractState,
        body: &str,
        receive_count: u32,
    ) -> anyhow::Result<()> {
        let notification: S3Notification = serde_json::from_str(body).map_err(|e| {
            anyhow::anyhow!("not an S3 notification ({e}); it will go to the dead-letter queue")
        })?;
        if notification.event.as_deref() == Some("s3:TestEvent") {
            tracing::info!(
                "S3's test notification: the bucket's notifications reach the extract queue"
            );
            return Ok(());
        }
        let final_attempt = receive_count >= crate::queue::MAX_ATTEMPTS;
        for record in &notification.records {
            if !record.event_name.starts_with("ObjectCreated") {
                continue;
            }
            extract_file(state, &record.key(), final_attempt).await?;
        }
        Ok(())
    }

    /// Reads one uploaded file and hands its text on, or fails its document.
    async fn extract_file(
        state: &ExtractState,
        key: &str,
        final_attempt: bool,
    ) -> anyhow::Result<()> {
        let Some((workspace, document)) = parse_file_key(key) else {
            tracing::warn!(key, "an object that is not an upload: ignored");
            return Ok(());
        };
        // The key was chosen by our API and the bucket is private (only URLs we signed write to it); the
        // document row, looked up by the key within that workspace, is what proves it.
        let ws = WorkspaceId::from_trusted_source(workspace);
        let client = state.app.db.get().await?;
        let Some(doc) = documents::by_file_key(&**client, ws, key).await? else {
            // Deleted before its file arrived (or never granted): nothing may keep the file.
            tracing::warn!(workspace_id = %ws, document_id = %document, "a file without its document: deleted");
            state.files.delete(key).await?;
            return Ok(());
        };
        if doc.status != "uploading" {
            tracing::info!(workspace_id = %ws, document_id = %doc.id, status = %doc.status, "file already read (a repeated notification)");
            return Ok(());
        }
        if !documents::start_extraction(&**client, ws, doc.id).await? {
            return Ok(());
        }
        let declared = u64::try_from(doc.file_size.unwrap_or(0)).unwrap_or(0);
        let bytes = match state.files.read(key, declared).await {
            Ok(bytes) => bytes,
            Err(ReadError::TooLarge(size)) => {
                let reason = format!(
                    "the file is too large to index: {size} bytes arrived, {declared} were granted"
                );
                return fail(&client, ws, doc.id, "too_large", &reason).await;
            }
            Err(ReadError::Missing) if final_attempt => {
                let reason = "the file was announced but is not in storage; upload it again";
                return fail(&client, ws, doc.id, "upload_missing", reason).await;
            }
            Err(e) => return Err(anyhow::Error::from(e).context(format!("reading {key}"))),
        };
        let file_name = doc.file_name.clone().unwrap_or_default();
        let declared_type = doc.content_type.clone();
        let started = std::time::Instant::now();
        // Parsing is CPU-bound: off the runtime's threads.
        let extracted = tokio::task::spawn_blocking(move || {
            extract::extract(&bytes, &declared_type, &file_name, &Limits::default())
        })
        .await?;
        let elapsed_ms = started.elapsed().as_millis();
        let extracted = match extracted {
            Ok(extracted) => extracted,
            Err(e) => {
                tracing::warn!(workspace_id = %ws, document_id = %doc.id, code = e.code(), elapsed_ms, "file could not be read");
                return fail(&client, ws, doc.id, e.code(), &e.to_string()).await;
            }
        };
        let hash = crate::text::sha256(extracted.content.as_bytes());
        let Some(ingestion_id) = doc.ingestion_id else {
            anyhow::bail!("upload {} has no ingestion", doc.id);
        };
        let message = IngestMessage {
            ingestion_id,
            workspace_id: *ws.as_uuid(),
        };
        let payload = serde_json::to_value(&message)?;
        let mut client = client;
        let tx = client.transaction().await?;
        let changed = documents::set_extracted(
            &*tx,
            ws,
            doc.id,
            &extracted.content,
            extracted.content_type,
            extracted.kind.mime(),
            &hash,
        )
        .await?;
        if !changed {
            // Deleted or read by a concurrent delivery meanwhile.
            return Ok(());
        }
        let outbox_id = outbox::write(&*tx, Some(ws), Topic::Ingest, &payload).await?;
        tx.commit().await?;
        tracing::info!(workspace_id = %ws, document_id = %doc.id, kind = extracted.kind.mime(), pages = extracted.pages, chars = extracted.content.len(), elapsed_ms, "file read; text queued for indexing");
        outbox::send_committed(&**client, Some(&state.ingest), outbox_id, &payload).await;
        Ok(())
    }

    async fn fail(
        client: &deadpool_postgres::Client,
        ws: WorkspaceId,
        id: Uuid,
        code: &str,
        reason: &str,
    ) -> anyhow::Result<()> {
        documents::mark_failed(&***client, ws, id, code, reason).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn when_a_key_is_parsed_only_our_upload_keys_name_a_document() {
        let (ws, doc) = (Uuid::now_v7(), Uuid::now_v7());
        assert_eq!(
            parse_file_key(&format!("uploads/{ws}/{doc}")),
            Some((ws, doc))
        );
        for key in [
            format!("uploads/{ws}"),
            format!("uploads/{ws}/{doc}/x"),
            format!("other/{ws}/{doc}"),
            format!("uploads/{ws}/not-a-uuid"),
        ] {
            assert_eq!(parse_file_key(&key), None, "{key}");
        }
    }

    #[test]
    fn when_s3_encodes_a_key_it_is_decoded_and_a_local_notification_round_trips() {
        let n: S3Notification = serde_json::from_str(
            r#"{"Records":[{"eventName":"ObjectCreated:Put","s3":{"object":{"key":"uploads%2Fa+b%2Fc.pdf","size":5}}}]}"#,
        )
        .expect("parsed");
        assert_eq!(n.records[0].key(), "uploads/a b/c.pdf");
        let local: S3Notification =
            serde_json::from_str(&local_notification("uploads/w/d")).expect("parsed");
        assert_eq!(local.records[0].key(), "uploads/w/d");
        let test: S3Notification = serde_json::from_str(
            r#"{"Service":"Amazon S3","Event":"s3:TestEvent","Time":"2026-12-03T11:40:43.578Z","Bucket":"b"}"#,
        )
        .expect("parsed");
        assert_eq!(test.event.as_deref(), Some("s3:TestEvent"));
        assert!(test.records.is_empty());
    }
}
