//! Knowledge-base documents and the ingestions that brought them.

use crate::auth::Caller;
use crate::ids::WorkspaceId;
use chrono::{DateTime, Utc};
use tokio_postgres::types::Type;
use tokio_postgres::{Error, GenericClient, Row};
use uuid::Uuid;

#[derive(Debug, Clone)]
pub struct DocumentRow {
    pub id: Uuid,
    pub ingestion_id: Option<Uuid>,
    pub title: String,
    pub content_type: String,
    pub source_url: Option<String>,
    pub metadata: serde_json::Value,
    pub status: String,
    pub error: Option<String>,
    pub chunk_count: i32,
    pub attempts: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// `text`, `file` or `url`.
    pub source_type: String,
    /// An uploaded file's name and declared size (signed into its upload), and its type as sniffed.
    pub file_name: Option<String>,
    pub file_size: Option<i64>,
    pub file_type: Option<String>,
    /// Where an uploaded file is stored.
    pub file_key: Option<String>,
    /// A failure's stable code (`too_large`, `encrypted`, …).
    pub error_code: Option<String>,
    /// The version searches see (0: none yet) and the latest one (being indexed, or indexed).
    pub version: i32,
    pub target_version: i32,
    /// The tenant's own key for the document.
    pub external_id: Option<String>,
    /// The website source whose page it is.
    pub source_id: Option<Uuid>,
}

/// A document to store (content is kept apart from the row summary lists return).
#[derive(Debug, Clone)]
pub struct NewDocument {
    pub id: Uuid,
    pub title: String,
    pub content: String,
    pub content_type: String,
    pub source_url: Option<String>,
    pub metadata: serde_json::Value,
    /// The tenant's own key (a later ingest with the same key replaces the document).
    pub external_id: Option<String>,
    /// The website source whose page it is (`source_url` is the page): its source type is `url`.
    pub source_id: Option<Uuid>,
}

const COLUMNS: &str = "id, ingestion_id, title, content_type, source_url, metadata, status, error, chunk_count, attempts, created_at, updated_at, source_type, file_name, file_size, file_type, file_key, error_code, version, target_version, external_id, source_id";

fn from_row(r: &Row) -> DocumentRow {
    DocumentRow {
        id: r.get("id"),
        ingestion_id: r.get("ingestion_id"),
        title: r.get("title"),
        content_type: r.get("content_type"),
        source_url: r.get("source_url"),
        metadata: r.get("metadata"),
        status: r.get("status"),
        error: r.get("error"),
        chunk_count: r.get("chunk_count"),
        attempts: r.get("attempts"),
        created_at: r.get("created_at"),
        updated_at: r.get("updated_at"),
        source_type: r.get("source_type"),
        file_name: r.get("file_name"),
        file_size: r.get("file_size"),
        file_type: r.get("file_type"),
        file_key: r.get("file_key"),
        error_code: r.get("error_code"),
        version: r.get("version"),
        target_version: r.get("target_version"),
        external_id: r.get("external_id"),
        source_id: r.get("source_id"),
    }
}

/// A file upload granted to a client: its document waits as `uploading` until the file arrives.
#[derive(Debug, Clone)]
pub struct NewUpload {
    pub id: Uuid,
    pub title: String,
    pub file_name: String,
    pub file_size: i64,
    /// The content type the client declared (signed into the upload; the bytes decide what it is).
    pub declared_type: String,
    pub file_key: String,
    pub metadata: serde_json::Value,
}

pub async fn insert_upload(
    db: &impl GenericClient,
    workspace: WorkspaceId,
    ingestion: Uuid,
    by: Caller,
    upload: &NewUpload,
) -> Result<(), Error> {
    db.execute(
        // The hash of no content until the text is known.
        "INSERT INTO kb_documents (id, workspace_id, ingestion_id, title, content, content_type, metadata,
                                   created_by, api_key_id, content_hash, status, source_type,
                                   file_name, file_size, file_key)
         VALUES ($1, $2, $3, $4, '', $5, $6, $7, $8, sha256(''::bytea), 'uploading', 'file', $9, $10, $11)",
        &[
            &upload.id,
            workspace.as_uuid(),
            &ingestion,
            &upload.title,
            &upload.declared_type,
            &upload.metadata,
            &by.user_id(),
            &by.api_key_id(),
            &upload.file_name,
            &upload.file_size,
            &upload.file_key,
        ],
    )
    .await
    .map(drop)
}

/// The live document an uploaded file's key belongs to, in the workspace the key names.
pub async fn by_file_key(
    db: &impl GenericClient,
    workspace: WorkspaceId,
    key: &str,
) -> Result<Option<DocumentRow>, Error> {
    let sql = format!(
        "SELECT {COLUMNS} FROM kb_documents WHERE file_key = $1 AND workspace_id = $2 AND deleted_at IS NULL"
    );
    Ok(db
        .query_opt(&sql, &[&key, workspace.as_uuid()])
        .await?
        .as_ref()
        .map(from_row))
}

/// Counts an attempt at reading an uploaded file, before it starts: an attempt that never ends (the
/// worker's time or memory ran out on a hostile file) leaves its mark for the sweep to report.
pub async fn start_extraction(
    db: &impl GenericClient,
    workspace: WorkspaceId,
    id: Uuid,
) -> Result<bool, Error> {
    super::change_one(
        db,
        "UPDATE kb_documents SET attempts = attempts + 1, updated_at = now()
          WHERE id = $1 AND workspace_id = $2 AND status = 'uploading' AND deleted_at IS NULL",
        workspace,
        id,
        &[],
    )
    .await
}

/// An uploaded file's text, extracted: the document becomes `pending` (to be chunked and embedded) —
/// only from `uploading`, so a repeated notification changes nothing. False when it was not uploading.
pub async fn set_extracted(
    db: &impl GenericClient,
    workspace: WorkspaceId,
    id: Uuid,
    content: &str,
    content_type: &str,
    file_type: &str,
    content_hash: &[u8],
) -> Result<bool, Error> {
    super::change_one(
        db,
        "UPDATE kb_documents
            SET status = 'pending', content = $3, content_type = $4, file_type = $5, content_hash = $6,
                error = NULL, error_code = NULL, updated_at = now()
          WHERE id = $1 AND workspace_id = $2 AND status = 'uploading' AND deleted_at IS NULL",
        workspace,
        id,
        &[&content, &content_type, &file_type, &content_hash],
    )
    .await
}

/// Records an ingestion of `count` documents, with those of them it did not store (`skipped`, a JSON
/// array written and read by the knowledge service).
pub async fn insert_ingestion(
    db: &impl GenericClient,
    workspace: WorkspaceId,
    id: Uuid,
    by: Caller,
    count: i32,
    skipped: &serde_json::Value,
) -> Result<(), Error> {
    super::change_one(
        db,
        "INSERT INTO ingestions (id, workspace_id, created_by, api_key_id, document_count, skipped)
         VALUES ($1, $2, $3, $4, $5, $6)",
        workspace,
        id,
        &[&by.user_id(), &by.api_key_id(), &count, skipped],
    )
    .await
    .map(drop)
}

/// Records an ingestion of one document that skipped nothing (an upload, an edit).
pub async fn insert_single_ingestion(
    db: &impl GenericClient,
    workspace: WorkspaceId,
    id: Uuid,
    by: Caller,
) -> Result<(), Error> {
    insert_ingestion(db, workspace, id, by, 1, &serde_json::json!([])).await
}

/// The documents an ingestion of the workspace skipped, or None when there is no such ingestion.
pub async fn ingestion_skipped(
    db: &impl GenericClient,
    workspace: WorkspaceId,
    id: Uuid,
) -> Result<Option<serde_json::Value>, Error> {
    Ok(super::read_one(
        db,
        "SELECT skipped FROM ingestions WHERE id = $1 AND workspace_id = $2",
        workspace,
        id,
        &[],
    )
    .await?
    .map(|r| r.get(0)))
}

/// Serialises the workspace's ingestions until the end of the caller's transaction, so that a duplicate
/// lookup and the inserts that follow it are not raced by another request with the same content.
pub async fn lock_for_ingestion(
    db: &impl GenericClient,
    workspace: WorkspaceId,
) -> Result<(), Error> {
    db.execute(
        "SELECT pg_advisory_xact_lock(hashtext('kb_documents'), hashtext($1::text))",
        &[&workspace.as_uuid().to_string()],
    )
    .await
    .map(drop)
}

/// The workspace's live documents with these content hashes, one per hash (the oldest): deleted and
/// failed documents do not count (a failed document is uploaded again to be retried).
pub async fn live_by_content_hash(
    db: &impl GenericClient,
    workspace: WorkspaceId,
    hashes: &[Vec<u8>],
) -> Result<Vec<(Vec<u8>, Uuid)>, Error> {
    let rows = db
        .query_typed(
            "SELECT DISTINCT ON (content_hash) content_hash, id FROM kb_documents
              WHERE workspace_id = $1 AND content_hash = ANY($2) AND deleted_at IS NULL AND status <> 'failed'
              ORDER BY content_hash, created_at, id",
            &[
                (workspace.as_uuid(), Type::UUID),
                (&hashes, Type::BYTEA_ARRAY),
            ],
        )
        .await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

pub async fn insert(
    db: &impl GenericClient,
    workspace: WorkspaceId,
    ingestion: Uuid,
    by: Caller,
    doc: &NewDocument,
    content_hash: &[u8],
) -> Result<(), Error> {
    db.execute(
        "INSERT INTO kb_documents (id, workspace_id, ingestion_id, title, content, content_type, source_url, metadata, created_by, content_hash, api_key_id, external_id, source_id, source_type)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, CASE WHEN $13::uuid IS NULL THEN 'text' ELSE 'url' END)",
        &[
            &doc.id,
            workspace.as_uuid(),
            &ingestion,
            &doc.title,
            &doc.content,
            &doc.content_type,
            &doc.source_url,
            &doc.metadata,
            &by.user_id(),
            &content_hash,
            &by.api_key_id(),
            &doc.external_id,
            &doc.source_id,
        ],
    )
    .await
    .map(drop)
}

/// The live document with this external id, locked until the end of the caller's transaction.
pub async fn by_external_id_for_update(
    db: &impl GenericClient,
    workspace: WorkspaceId,
    external_id: &str,
) -> Result<Option<DocumentRow>, Error> {
    let sql = format!(
        "SELECT {COLUMNS} FROM kb_documents
          WHERE workspace_id = $1 AND external_id = $2 AND deleted_at IS NULL FOR UPDATE"
    );
    Ok(db
        .query_opt(&sql, &[workspace.as_uuid(), &external_id])
        .await?
        .as_ref()
        .map(from_row))
}

/// A document's content hash.
pub async fn content_hash(
    db: &impl GenericClient,
    workspace: WorkspaceId,
    id: Uuid,
) -> Result<Option<Vec<u8>>, Error> {
    Ok(super::read_one(
        db,
        "SELECT content_hash FROM kb_documents WHERE id = $1 AND workspace_id = $2",
        workspace,
        id,
        &[],
    )
    .await?
    .map(|r| r.get(0)))
}

/// A live document, locked until the end of the caller's transaction.
pub async fn get_for_update(
    db: &impl GenericClient,
    workspace: WorkspaceId,
    id: Uuid,
) -> Result<Option<DocumentRow>, Error> {
    let sql = format!(
        "SELECT {COLUMNS} FROM kb_documents WHERE id = $1 AND workspace_id = $2 AND deleted_at IS NULL FOR UPDATE"
    );
    Ok(super::read_one(db, &sql, workspace, id, &[])
        .await?
        .as_ref()
        .map(from_row))
}

/// What an edit sets: a new content (and its hash) or title makes a new version to index.
#[derive(Debug, Clone)]
pub struct Edit<'a> {
    pub title: &'a str,
    pub content: &'a str,
    pub content_type: &'a str,
    pub content_hash: &'a [u8],
    pub metadata: &'a serde_json::Value,
    pub source_url: Option<&'a str>,
}

/// Records a new version of a document, to be indexed by `ingestion`: the target version moves on, the
/// document is `pending` again; searches keep seeing the current version until the new one is swapped in.
pub async fn new_version(
    db: &impl GenericClient,
    workspace: WorkspaceId,
    id: Uuid,
    ingestion: Uuid,
    edit: &Edit<'_>,
) -> Result<bool, Error> {
    super::change_one(
        db,
        "UPDATE kb_documents
            SET title = $3, content = $4, content_type = $5, content_hash = $6, metadata = $7,
                source_url = COALESCE($8, source_url), ingestion_id = $9,
                target_version = target_version + 1, status = 'pending', error = NULL, error_code = NULL,
                attempts = 0, updated_at = now()
          WHERE id = $1 AND workspace_id = $2 AND deleted_at IS NULL",
        workspace,
        id,
        &[
            &edit.title,
            &edit.content,
            &edit.content_type,
            &edit.content_hash,
            edit.metadata,
            &edit.source_url,
            &ingestion,
        ],
    )
    .await
}

/// Sets a document's metadata (nothing to index).
pub async fn set_metadata(
    db: &impl GenericClient,
    workspace: WorkspaceId,
    id: Uuid,
    metadata: &serde_json::Value,
) -> Result<bool, Error> {
    super::change_one(
        db,
        "UPDATE kb_documents SET metadata = $3, updated_at = now() WHERE id = $1 AND workspace_id = $2 AND deleted_at IS NULL",
        workspace,
        id,
        &[metadata],
    )
    .await
}

/// The current (searchable) version of each of these live documents that has one.
pub async fn current_versions(
    db: &impl GenericClient,
    workspace: WorkspaceId,
    ids: &[Uuid],
) -> Result<std::collections::HashMap<Uuid, i32>, Error> {
    Ok(db
        .query_typed(
            "SELECT id, version FROM kb_documents
              WHERE workspace_id = $1 AND id = ANY($2) AND deleted_at IS NULL AND version > 0",
            &[(workspace.as_uuid(), Type::UUID), (&ids, Type::UUID_ARRAY)],
        )
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect())
}

pub async fn get(
    db: &impl GenericClient,
    workspace: WorkspaceId,
    id: Uuid,
) -> Result<Option<DocumentRow>, Error> {
    let sql = format!(
        "SELECT {COLUMNS} FROM kb_documents WHERE id = $1 AND workspace_id = $2 AND deleted_at IS NULL"
    );
    Ok(super::read_one(db, &sql, workspace, id, &[])
        .await?
        .as_ref()
        .map(from_row))
}

/// The `source_url` of those of `ids` that have one (live documents of the workspace only).
pub async fn source_urls(
    db: &impl GenericClient,
    workspace: WorkspaceId,
    ids: &[Uuid],
) -> Result<Vec<(Uuid, String)>, Error> {
    Ok(db
        .query(
            "SELECT id, source_url FROM kb_documents
              WHERE workspace_id = $1 AND id = ANY($2) AND deleted_at IS NULL AND source_url IS NOT NULL",
            &[workspace.as_uuid(), &ids],
        )
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect())
}

/// A document's latest content and the version it is, read together (for the worker: the points it
/// writes carry the version of the text they were cut from).
pub async fn content(
    db: &impl GenericClient,
    workspace: WorkspaceId,
    id: Uuid,
) -> Result<Option<(String, i32)>, Error> {
    Ok(super::read_one(
        db,
        "SELECT content, target_version FROM kb_documents WHERE id = $1 AND workspace_id = $2 AND deleted_at IS NULL",
        workspace,
        id,
        &[],
    )
    .await?
    .map(|r| (r.get(0), r.get(1))))
}

pub async fn for_ingestion(
    db: &impl GenericClient,
    workspace: WorkspaceId,
    ingestion: Uuid,
) -> Result<Vec<DocumentRow>, Error> {
    let sql = format!(
        "SELECT {COLUMNS} FROM kb_documents WHERE ingestion_id = $1 AND workspace_id = $2 AND deleted_at IS NULL ORDER BY created_at, id"
    );
    Ok(db
        .query(&sql, &[&ingestion, workspace.as_uuid()])
        .await?
        .iter()
        .map(from_row)
        .collect())
}

/// Newest first, after the cursor `(created_at, id)`, optionally of one status.
pub async fn list(
    db: &impl GenericClient,
    workspace: WorkspaceId,
    status: Option<&str>,
    before: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<DocumentRow>, Error> {
    let (at, id) = before.map_or((None, None), |(a, i)| (Some(a), Some(i)));
    let sql = format!(
        "SELECT {COLUMNS} FROM kb_documents
          WHERE workspace_id = $1 AND deleted_at IS NULL
            AND ($2::text IS NULL OR status = $2)
            AND ($3::timestamptz IS NULL OR (created_at, id) < ($3, $4))
          ORDER BY created_at DESC, id DESC LIMIT $5"
    );
    Ok(db
        .query(&sql, &[workspace.as_uuid(), &status, &at, &id, &limit])
        .await?
        .iter()
        .map(from_row)
        .collect())
}

/// Claims a document for processing unless it is already ready (reprocessing a delivered message twice
/// does no work twice) or still waiting for its file. Returns false for a ready, uploading, deleted or
/// unknown document.
pub async fn start_processing(
    db: &impl GenericClient,
    workspace: WorkspaceId,
    id: Uuid,
) -> Result<bool, Error> {
    super::change_one(
        db,
        "UPDATE kb_documents SET status = 'processing', attempts = attempts + 1, error = NULL, error_code = NULL, updated_at = now()
              WHERE id = $1 AND workspace_id = $2 AND deleted_at IS NULL AND status NOT IN ('ready', 'uploading')",
        workspace,
        id,
        &[],
    )
    .await
}

/// Swaps `version` in (searches see it from now on) and marks the document ready — unless a newer
/// version was asked for meanwhile (false: that version's own message will index it).
pub async fn mark_ready(
    db: &impl GenericClient,
    workspace: WorkspaceId,
    id: Uuid,
    chunks: i32,
    version: i32,
) -> Result<bool, Error> {
    super::change_one(
        db,
        "UPDATE kb_documents SET status = 'ready', chunk_count = $3, version = $4, error = NULL, updated_at = now()
          WHERE id = $1 AND workspace_id = $2 AND target_version = $4",
        workspace,
        id,
        &[&chunks, &version],
    )
    .await
}

/// Fails a document that is not ready, with a stable `code` and a sentence saying what to do. Returns
/// false when it was ready (or deleted, or unknown).
pub async fn mark_failed(
    db: &impl GenericClient,
    workspace: WorkspaceId,
    id: Uuid,
    code: &str,
    reason: &str,
) -> Result<bool, Error> {
    super::change_one(
        db,
        "UPDATE kb_documents SET status = 'failed', error = $3, error_code = $4, updated_at = now()
          WHERE id = $1 AND workspace_id = $2 AND status <> 'ready' AND deleted_at IS NULL",
        workspace,
        id,
        &[&reason, &code],
    )
    .await
}

/// Puts a document back to (or leaves it) `pending` with the reason of a failed attempt that will be
/// retried.
pub async fn mark_retrying(
    db: &impl GenericClient,
    workspace: WorkspaceId,
    id: Uuid,
    reason: &str,
) -> Result<(), Error> {
    super::change_one(
        db,
        "UPDATE kb_documents SET status = 'pending', error = $3, updated_at = now()
          WHERE id = $1 AND workspace_id = $2 AND status IN ('pending', 'processing')",
        workspace,
        id,
        &[&reason],
    )
    .await
    .map(drop)
}

pub async fn soft_delete(
    db: &impl GenericClient,
    workspace: WorkspaceId,
    id: Uuid,
) -> Result<bool, Error> {
    super::change_one(
        db,
        "UPDATE kb_documents SET deleted_at = now(), updated_at = now() WHERE id = $1 AND workspace_id = $2 AND deleted_at IS NULL",
        workspace,
        id,
        &[],
    )
    .await
}

/// Soft-deletes (unsearchable at once, purged later) the live documents a website source's pages became;
/// returns their ids.
pub async fn soft_delete_of_source(
    db: &impl GenericClient,
    workspace: WorkspaceId,
    source: Uuid,
) -> Result<Vec<Uuid>, Error> {
    Ok(super::read_many(
        db,
        "UPDATE kb_documents SET deleted_at = now(), updated_at = now()
          WHERE source_id = $1 AND workspace_id = $2 AND deleted_at IS NULL RETURNING id",
        workspace,
        source,
        &[],
    )
    .await?
    .iter()
    .map(|r| r.get(0))
    .collect())
}

/// Cached embeddings of these content hashes for the workspace and model.
pub async fn cached_embeddings(
    db: &impl GenericClient,
    workspace: WorkspaceId,
    model: &str,
    hashes: &[Vec<u8>],
) -> Result<Vec<(Vec<u8>, Vec<f32>)>, Error> {
    let rows = db
        .query_typed(
            "SELECT content_hash, embedding FROM embedding_cache WHERE workspace_id = $1 AND model = $2 AND content_hash = ANY($3)",
            &[(workspace.as_uuid(), Type::UUID), (&model, Type::TEXT), (&hashes, Type::BYTEA_ARRAY)],
        )
        .await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

pub async fn cache_embedding(
    db: &impl GenericClient,
    workspace: WorkspaceId,
    model: &str,
    hash: &[u8],
    embedding: &[f32],
) -> Result<(), Error> {
    db.query_typed(
        "INSERT INTO embedding_cache (workspace_id, model, content_hash, embedding) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
        &[
            (workspace.as_uuid(), Type::UUID),
            (&model, Type::TEXT),
            (&hash, Type::BYTEA),
            (&embedding, Type::FLOAT4_ARRAY),
        ],
    )
    .await
    .map(drop)
}
