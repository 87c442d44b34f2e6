//! The knowledge base's use cases: accept documents (stored `pending` with an outbox row in one
//! transaction), report progress, list and delete documents, search, process an ingestion (the worker),
//! and re-send what the queue did not take (the sweeper).

use crate::auth::{Access, Admin, MemberRole, Tenant, Viewer};
use crate::db::Scoped;
use crate::error::ApiError;
use crate::ids::WorkspaceId;
use crate::knowledge::bm25::{self, Analyzer, DocumentStats, SparseVector, TermCounts};
use crate::knowledge::chunking::{self, ContentType};
use crate::knowledge::queue::IngestMessage;
use crate::knowledge::vectors::Misconfigured;
use crate::knowledge::{ChunkPoint, Embedder, SearchHit, VectorQuery};
use crate::outbox::{self, Topic};
use crate::paging::{Cursor, Page, PageParams};
use crate::repo::documents::{self, DocumentRow, NewDocument};
use crate::repo::term_stats;
use crate::services::idempotency::{self, IdempotencyKey, Recorded, Scope};
use crate::state::KnowledgeState;
use crate::text::sha256;
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::HashMap;
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Debug, Clone, Serialize, serde::Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct IngestAccepted {
    pub ok: bool,
    pub ingestion_id: Uuid,
    /// One id per document sent, in the request's order. A document identical to a live one is not
    /// stored again: its entry is the live document's id (see `skipped`).
    pub document_ids: Vec<Uuid>,
    /// The documents that were not stored, in the request's order (empty when all were).
    // Answers recorded for an Idempotency-Key before this field existed replay without it.
    #[serde(default)]
    #[schema(required = true)]
    pub skipped: Vec<SkippedDocument>,
}

/// A document of an ingest request that was not stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SkippedDocument {
    /// Its position in the request's `documents`.
    pub index: usize,
    /// The live document with the same content (also `documentIds[index]`).
    pub document_id: Uuid,
    /// `duplicate`: a live (not deleted, not failed) document of the workspace, or an earlier document of
    /// the same request, has identical content. Send `"allowDuplicates": true` to store it anyway.
    pub reason: String,
}

/// Why a document was skipped.
pub const SKIPPED_DUPLICATE: &str = "duplicate";
/// Why a document with an external id was skipped: the document under that id has this title and content.
pub const SKIPPED_UNCHANGED: &str = "unchanged";

/// What an ingestion records of a skipped document (`ingestions.skipped`).
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct SkippedRecord {
    index: usize,
    document_id: Uuid,
    title: String,
    reason: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DocumentProgress {
    /// The document; for a skipped one, the live document it duplicates.
    pub id: Uuid,
    /// The title as sent.
    pub title: String,
    /// uploading (its file not yet read), pending, processing, ready or failed; skipped when it was not
    /// stored (see `reason`).
    pub status: String,
    pub chunks: i32,
    /// Why the document failed (or why its last attempt failed, while it is retried).
    pub error: Option<String>,
    /// Why it failed, as a stable code (see the document's `errorCode`).
    pub error_code: Option<String>,
    /// Why a skipped document was not stored: `duplicate` (its content is identical to document `id`'s).
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct IngestionStatus {
    pub ingestion_id: Uuid,
    /// pending or processing while any document is; then completed if at least one is ready or skipped,
    /// else failed.
    pub status: String,
    /// Documents sent, stored or skipped.
    pub total: usize,
    /// Documents ready (indexed and searchable). Each document becomes ready as soon as its own chunks
    /// are stored, so this grows during a large ingestion.
    pub completed: usize,
    pub failed: usize,
    /// Documents not stored because a live document has the same content.
    pub skipped: usize,
    /// The documents in the request's order.
    pub documents: Vec<DocumentProgress>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DocumentView {
    pub id: Uuid,
    pub ingestion_id: Option<Uuid>,
    pub title: String,
    pub content_type: String,
    pub source_url: Option<String>,
    #[schema(value_type = Object)]
    pub metadata: serde_json::Value,
    /// uploading (waiting for its file), pending, processing, ready or failed.
    pub status: String,
    pub error: Option<String>,
    /// Why it failed, as a stable code: for an uploaded file `no_text_layer` (a scan), `encrypted`,
    /// `unreadable`, `too_large`, `unsupported_type`, `empty` or `upload_missing` (the file never came);
    /// for any document `unusable` (no text to index), `retries_exhausted` or `timed_out`.
    pub error_code: Option<String>,
    pub chunks: i32,
    pub attempts: i32,
    /// Where it came from: `text` (an ingest request), `file` (an upload) or `url`.
    pub source_type: String,
    /// The latest version of its content (1 at first; each edit adds one).
    pub version: i32,
    /// The version searches see: the previous one while a new version is being indexed (0: none yet).
    pub searchable_version: i32,
    /// The tenant's own key for it (`externalId` on ingest).
    pub external_id: Option<String>,
    /// The website source whose page it is (`sourceUrl` is the page).
    pub source_id: Option<Uuid>,
    /// An uploaded file: its name, size and type (sniffed from its bytes once it has arrived).
    pub file: Option<FileView>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// An uploaded file, as its document shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FileView {
    pub name: String,
    /// Bytes.
    pub size: i64,
    /// The type its bytes say it is (`application/pdf`, …); none until it has been read.
    pub content_type: Option<String>,
}

impl From<DocumentRow> for DocumentView {
    fn from(r: DocumentRow) -> Self {
        Self {
            id: r.id,
            ingestion_id: r.ingestion_id,
            title: r.title,
            content_type: r.content_type,
            source_url: r.source_url,
            metadata: r.metadata,
            status: r.status,
            error: r.error,
            error_code: r.error_code,
            chunks: r.chunk_count,
            attempts: r.attempts,
            source_type: r.source_type,
            version: r.target_version,
            searchable_version: r.version,
            external_id: r.external_id,
            source_id: r.source_id,
            file: match (r.file_name, r.file_size) {
                (Some(name), Some(size)) => Some(FileView {
                    name,
                    size,
                    content_type: r.file_type,
                }),
                _ => None,
            },
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// Which documents of a request to store, and the id each input document is answered with: a document
/// whose content hash is in `live` (the workspace's live documents) or equals an earlier input's is
/// skipped as a duplicate, unless `allow_duplicates` or it has an external id.
fn plan_ingestion(
    docs: &[NewDocument],
    hashes: &[Vec<u8>],
    mut live: HashMap<Vec<u8>, Uuid>,
    allow_duplicates: bool,
) -> (Vec<Uuid>, Vec<SkippedRecord>) {
    let mut ids = Vec::with_capacity(docs.len());
    let mut skipped = Vec::new();
    for (index, (doc, hash)) in docs.iter().zip(hashes).enumerate() {
        // A document under the tenant's own key is that key's, whatever else has the same content.
        if !allow_duplicates && doc.external_id.is_none() {
            if let Some(&twin) = live.get(hash) {
                ids.push(twin);
                skipped.push(SkippedRecord {
                    index,
                    document_id: twin,
                    title: doc.title.clone(),
                    reason: SKIPPED_DUPLICATE.to_owned(),
                });
                continue;
            }
            live.insert(hash.clone(), doc.id);
        }
        ids.push(doc.id);
    }
    (ids, skipped)
}

/// Stores the documents `pending` with an outbox row in one transaction, then sends the queue message.
/// If the queue is unreachable the request still succeeds: the sweeper re-sends the outbox row.
///
/// A document identical to a live document of the workspace (same content hash) is not stored again
/// unless `allow_duplicates`: the answer carries the live document's id. Ingestions that look for
/// duplicates are serialised per workspace for the duration of their transaction, so two requests with
/// the same content at once store it once.
pub async fn accept(
    state: &KnowledgeState,
    tenant: &Tenant<MemberRole, impl Access>,
    docs: Vec<NewDocument>,
    allow_duplicates: bool,
    idempotency_key: Option<IdempotencyKey>,
) -> Result<IngestAccepted, ApiError> {
    let ws = tenant.workspace_id;
    let ingestion_id = Uuid::now_v7();
    let hashes: Vec<Vec<u8>> = docs.iter().map(|d| sha256(d.content.as_bytes())).collect();
    let message = IngestMessage {
        ingestion_id,
        workspace_id: *ws.as_uuid(),
    };
    let payload = serde_json::to_value(&message).map_err(ApiError::internal)?;

    let tx = Scoped::tenant(&state.app.db, tenant).await?;
    let keyed = docs.iter().any(|d| d.external_id.is_some());
    let live = if allow_duplicates {
        HashMap::new()
    } else {
        documents::lock_for_ingestion(&**tx, ws).await?;
        documents::live_by_content_hash(&**tx, ws, &hashes)
            .await?
            .into_iter()
            .collect()
    };
    if keyed && allow_duplicates {
        // Two requests with the same external id at once: one creates it, the other replaces it.
        documents::lock_for_ingestion(&**tx, ws).await?;
    }
    let (mut document_ids, mut skipped) = plan_ingestion(&docs, &hashes, live, allow_duplicates);
    // Documents under an external id the workspace already has replace that document (a new version),
    // or are skipped when its title and content are the same.
    let mut replaces: HashMap<usize, Uuid> = HashMap::new();
    for (index, doc) in docs.iter().enumerate() {
        let Some(key) = doc.external_id.as_deref() else {
            continue;
        };
        let Some(existing) = documents::by_external_id_for_update(&**tx, ws, key).await? else {
            continue;
        };
        document_ids[index] = existing.id;
        let current_hash = documents::content_hash(&**tx, ws, existing.id).await?;
        if existing.title == doc.title && current_hash.as_deref() == Some(hashes[index].as_slice())
        {
            skipped.push(SkippedRecord {
                index,
                document_id: existing.id,
                title: doc.title.clone(),
                reason: SKIPPED_UNCHANGED.to_owned(),
            });
        } else {
            replaces.insert(index, existing.id);
        }
    }
    skipped.sort_by_key(|s| s.index);
    let accepted = IngestAccepted {
        ok: true,
        ingestion_id,
        document_ids,
        skipped: skipped
            .iter()
            .map(|s| SkippedDocument {
                index: s.index,
                document_id: s.document_id,
                reason: s.reason.clone(),
            })
            .collect(),
    };
    let key = idempotency_key.as_ref();
    let tx = match idempotency::record(tx, ws, Scope::Ingest, key, &accepted).await? {
        Recorded::New(tx) => tx,
        Recorded::Replay(first) => return Ok(first),
    };
    let mut is_skipped = vec![false; docs.len()];
    for s in &skipped {
        is_skipped[s.index] = true;
    }
    let to_store: Vec<(usize, &NewDocument, &Vec<u8>)> = docs
        .iter()
        .zip(&hashes)
        .enumerate()
        .filter(|(i, _)| !is_skipped[*i])
        .map(|(i, (doc, hash))| (i, doc, hash))
        .collect();
    let new_documents = to_store
        .iter()
        .filter(|(i, _, _)| !replaces.contains_key(i))
        .count();
    // After the idempotency check: a retry of an accepted request replays even when the quota is now used
    // up. Skipped and replaced documents consume nothing.
    if new_documents > 0 {
        crate::billing::check_quota(
            &**tx,
            ws,
            crate::billing::Consumption::Documents(new_documents as u64),
        )
        .await?;
    }
    let count = i32::try_from(docs.len()).map_err(ApiError::internal)?;
    let skipped_json = serde_json::to_value(&skipped).map_err(ApiError::internal)?;
    documents::insert_ingestion(
        &**tx,
        ws,
        ingestion_id,
        tenant.actor(),
        count,
        &skipped_json,
    )
    .await?;
    for (index, doc, hash) in &to_store {
        match replaces.get(index) {
            Some(&existing) => {
                let edit = documents::Edit {
                    title: &doc.title,
                    content: &doc.content,
                    content_type: &doc.content_type,
                    content_hash: hash,
                    metadata: &doc.metadata,
                    source_url: doc.source_url.as_deref(),
                };
                documents::new_version(&**tx, ws, existing, ingestion_id, &edit).await?;
            }
            None => {
                documents::insert(&**tx, ws, ingestion_id, tenant.actor(), doc, hash).await?;
            }
        }
    }
    if to_store.is_empty() {
        // Nothing to index: no message.
        tx.commit().await?;
        tracing::info!(workspace_id = %ws, ingestion_id = %ingestion_id, skipped = skipped.len(), "ingestion accepted, every document a duplicate or unchanged");
        return Ok(accepted);
    }
    let outbox_id = outbox::write(&**tx, Some(ws), Topic::Ingest, &payload).await?;
    tx.commit().await?;
    tracing::info!(workspace_id = %ws, ingestion_id = %ingestion_id, documents = to_store.len(), replaced = replaces.len(), skipped = skipped.len(), "ingestion accepted");

    outbox::send_committed(
        &**state.app.db.get().await?,
        Some(&state.queue),
        outbox_id,
        &payload,
    )
    .await;
    Ok(accepted)
}

fn summarize(
    ingestion_id: Uuid,
    rows: Vec<DocumentRow>,
    mut skipped: Vec<SkippedRecord>,
) -> IngestionStatus {
    let count = |s: &str| rows.iter().filter(|r| r.status == s).count();
    let (ready, failed) = (count("ready"), count("failed"));
    let status = if count("processing") > 0 {
        "processing"
    } else if count("pending") + count("uploading") > 0 {
        if ready + failed > 0 {
            "processing"
        } else {
            "pending"
        }
    } else if ready > 0 || !skipped.is_empty() {
        "completed"
    } else {
        "failed"
    };
    let mut documents: Vec<DocumentProgress> = rows
        .into_iter()
        .map(|r| DocumentProgress {
            id: r.id,
            title: r.title,
            status: r.status,
            chunks: r.chunk_count,
            error: r.error,
            error_code: r.error_code,
            reason: None,
        })
        .collect();
    // The stored documents are in the request's order; the skipped ones go back to their positions.
    skipped.sort_by_key(|s| s.index);
    let skipped_count = skipped.len();
    for s in skipped {
        let at = s.index.min(documents.len());
        documents.insert(
            at,
            DocumentProgress {
                id: s.document_id,
                title: s.title,
                status: "skipped".to_owned(),
                chunks: 0,
                error: None,
                error_code: None,
                reason: Some(s.reason),
            },
        );
    }
    IngestionStatus {
        ingestion_id,
        status: status.to_owned(),
        total: documents.len(),
        completed: ready,
        failed,
        skipped: skipped_count,
        documents,
    }
}

pub async fn status(
    state: &KnowledgeState,
    tenant: &Tenant<Viewer, impl Access>,
    ingestion_id: Uuid,
) -> Result<IngestionStatus, ApiError> {
    let client = Scoped::tenant(&state.app.db, tenant).await?;
    let skipped = documents::ingestion_skipped(&**client, tenant.workspace_id, ingestion_id)
        .await?
        .ok_or_else(|| ApiError::not_found("Ingestion"))?;
    let skipped: Vec<SkippedRecord> =
        serde_json::from_value(skipped).map_err(ApiError::internal)?;
    let rows = documents::for_ingestion(&**client, tenant.workspace_id, ingestion_id).await?;
    Ok(summarize(ingestion_id, rows, skipped))
}

pub async fn list_documents(
    state: &KnowledgeState,
    tenant: &Tenant<Viewer, impl Access>,
    status: Option<&str>,
    page: &PageParams,
) -> Result<Page<DocumentView>, ApiError> {
    let limit = page.limit();
    let before = page.cursor()?.map(|c| (c.at, c.id));
    let client = Scoped::tenant(&state.app.db, tenant).await?;
    let rows = documents::list(
        &**client,
        tenant.workspace_id,
        status,
        before,
        i64::from(limit) + 1,
    )
    .await?;
    Page::from_rows(rows, limit, |r| Cursor {
        at: r.created_at,
        id: r.id,
    })
    .try_map(|r| Ok::<_, ApiError>(r.into()))
}

pub async fn get_document(
    state: &KnowledgeState,
    tenant: &Tenant<Viewer, impl Access>,
    id: Uuid,
) -> Result<DocumentView, ApiError> {
    let client = Scoped::tenant(&state.app.db, tenant).await?;
    documents::get(&**client, tenant.workspace_id, id)
        .await?
        .map(Into::into)
        .ok_or_else(|| ApiError::not_found("Document"))
}

/// An edit of a document: what to change (none: keep).
#[derive(Debug, Clone, Default)]
pub struct DocumentChanges {
    pub title: Option<String>,
    pub content: Option<String>,
    pub content_type: Option<String>,
    pub metadata: Option<serde_json::Value>,
}

/// Edits a document in place (member or higher). A new title or content is a new version: chunked and
/// embedded in the background, then swapped in — searches see the current version until the new one
/// is fully indexed (follow it with the answer's `ingestionId`). Metadata alone changes at once. An
/// uploaded file's text changes by uploading the file again (409), as does a document still uploading.
pub async fn update_document(
    state: &KnowledgeState,
    tenant: &Tenant<MemberRole, impl Access>,
    id: Uuid,
    changes: DocumentChanges,
) -> Result<DocumentView, ApiError> {
    let ws = tenant.workspace_id;
    let tx = Scoped::tenant(&state.app.db, tenant).await?;
    let current = documents::get_for_update(&**tx, ws, id)
        .await?
        .ok_or_else(|| ApiError::not_found("Document"))?;
    if current.status == "uploading" {
        return Err(ApiError::new(
            crate::ErrorCode::Conflict,
            "The document's file has not arrived yet: upload it first, then edit the document.",
        ));
    }
    if changes.content.is_some() && current.source_type == "file" {
        return Err(ApiError::new(
            crate::ErrorCode::Conflict,
            "An uploaded file's text comes from the file: upload the new file (and delete this document) instead.",
        ));
    }
    if changes.content.is_some() && current.source_type == "url" {
        return Err(ApiError::new(
            crate::ErrorCode::Conflict,
            "A website page's text comes from the page: change it on the site, then sync its source (POST /api/v1/agents/sources/{sourceId}/sync).",
        ));
    }
    let metadata = changes
        .metadata
        .clone()
        .unwrap_or_else(|| current.metadata.clone());
    let title = changes
        .title
        .clone()
        .unwrap_or_else(|| current.title.clone());
    let old_content = documents::content(&**tx, ws, id)
        .await?
        .map(|(c, _)| c)
        .unwrap_or_default();
    let content = changes.content.clone().unwrap_or(old_content.clone());
    let content_type = changes
        .content_type
        .clone()
        .unwrap_or_else(|| current.content_type.clone());
    let reindex =
        title != current.title || content != old_content || content_type != current.content_type;
    let mut sent = None;
    if reindex {
        let ingestion_id = Uuid::now_v7();
        let hash = sha256(content.as_bytes());
        documents::insert_single_ingestion(&**tx, ws, ingestion_id, tenant.actor()).await?;
        let edit = documents::Edit {
            title: &title,
            content: &content,
            content_type: &content_type,
            content_hash: &hash,
            metadata: &metadata,
            source_url: None,
        };
        documents::new_version(&**tx, ws, id, ingestion_id, &edit).await?;
        let payload = serde_json::to_value(IngestMessage {
            ingestion_id,
            workspace_id: *ws.as_uuid(),
        })
        .map_err(ApiError::internal)?;
        let outbox_id = outbox::write(&**tx, Some(ws), Topic::Ingest, &payload).await?;
        sent = Some((outbox_id, payload));
    } else if changes.metadata.is_some() {
        documents::set_metadata(&**tx, ws, id, &metadata).await?;
    }
    tx.commit().await?;
    if let Some((outbox_id, payload)) = sent {
        tracing::info!(workspace_id = %ws, document_id = %id, "document edited: a new version to index");
        outbox::send_committed(
            &**state.app.db.get().await?,
            Some(&state.queue),
            outbox_id,
            &payload,
        )
        .await;
    }
    let client = Scoped::tenant(&state.app.db, tenant).await?;
    documents::get(&**client, ws, id)
        .await?
        .map(Into::into)
        .ok_or_else(|| ApiError::not_found("Document"))
}

/// Deletes a document and its vectors. The vectors go first: if the store is down, nothing changes.
pub async fn delete_document(
    state: &KnowledgeState,
    tenant: &Tenant<Admin, impl Access>,
    id: Uuid,
) -> Result<(), ApiError> {
    let stores = crate::services::reindex::written_stores_now(state).await?;
    let client = Scoped::tenant(&state.app.db, tenant).await?;
    if documents::get(&**client, tenant.workspace_id, id)
        .await?
        .is_none()
    {
        return Err(ApiError::not_found("Document"));
    }
    for store in stores {
        store
            .delete_document(tenant.workspace_id, id)
            .await
            .map_err(vector_store_error)?;
    }
    documents::soft_delete(&**client, tenant.workspace_id, id).await?;
    client.commit().await?;
    tracing::info!(workspace_id = %tenant.workspace_id, document_id = %id, "document deleted with its vectors");
    Ok(())
}

/// How a search matches: `hybrid` (dense and BM25, fused), `dense` (the embedder's vectors, cosine) or
/// `sparse` (BM25 alone). Without a dense embedder only `sparse` is possible.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SearchMode {
    Hybrid,
    Dense,
    Sparse,
}

impl SearchMode {
    pub const fn as_str(self) -> &'static str {
        match self {
            SearchMode::Hybrid => "hybrid",
            SearchMode::Dense => "dense",
            SearchMode::Sparse => "sparse",
        }
    }
}

/// A search's question and how to answer it.
#[derive(Debug, Clone, Copy)]
pub struct Retrieval<'a> {
    pub query: &'a str,
    pub limit: u64,
    /// A cosine similarity: applies to the dense side only (see [`VectorQuery`]).
    pub score_threshold: Option<f32>,
    /// `None`: hybrid when there is a dense embedder, else sparse.
    pub mode: Option<SearchMode>,
}

pub async fn search(
    state: &KnowledgeState,
    tenant: &Tenant<Viewer, impl Access>,
    retrieval: Retrieval<'_>,
) -> Result<Vec<SearchHit>, ApiError> {
    let (mut hits, embedding) = retrieve_metered(state, tenant.workspace_id, retrieval).await?;
    if let Some(embedding) = embedding {
        let client = state.app.db.get().await?;
        embedding.record(&**client, tenant.workspace_id).await?;
    }
    let ids: Vec<Uuid> = hits.iter().map(|h| h.document_id).collect();
    let links = web_links(state, tenant.workspace_id, &ids).await?;
    for hit in &mut hits {
        hit.url = links.get(&hit.document_id).cloned();
    }
    Ok(hits)
}

/// The mode a search runs in: the one asked for, if the embedder serving searches can; else hybrid or
/// sparse.
pub fn search_mode(embedder: &Embedder, asked: Option<SearchMode>) -> Result<SearchMode, ApiError> {
    let dense = embedder.dense().is_some();
    match asked {
        Some(SearchMode::Dense | SearchMode::Hybrid) if !dense => Err(ApiError::new(
            crate::error::ErrorCode::DenseSearchUnavailable,
            format!(
                "mode \"{}\" needs a dense embedder, and this deployment has none (no OPENAI_API_KEY or local model): use mode \"sparse\" or leave mode out",
                asked.map_or("", SearchMode::as_str)
            ),
        )
        .with_details(serde_json::json!({"field": "mode"}))),
        Some(mode) => Ok(mode),
        None if dense => Ok(SearchMode::Hybrid),
        None => Ok(SearchMode::Sparse),
    }
}

/// Retrieval, as search and every chat turn do it: the query analysed into BM25 terms weighted by the
/// workspace's own statistics, and embedded (in the modes that use each), then one query to the store.
/// Either dependency down is a 503 naming it; a store that does not fit the configuration is a 500
/// saying so (retrying cannot help).
///
/// While a new version of a document is being indexed its points sit beside the current version's: the
/// store is asked for more than `limit` and the hits of other versions (and of deleted documents) are
/// dropped here, against the versions in PostgreSQL — one indexed lookup per search.
pub async fn retrieve(
    state: &KnowledgeState,
    workspace: WorkspaceId,
    retrieval: Retrieval<'_>,
) -> Result<Vec<SearchHit>, ApiError> {
    Ok(retrieve_metered(state, workspace, retrieval).await?.0)
}

/// The embedding call a retrieval made for its query: what the workspace's usage records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryEmbedding {
    pub model: String,
    pub tokens: u64,
}

impl QueryEmbedding {
    /// Adds the call to the workspace's usage, in `db`'s transaction.
    pub async fn record(
        &self,
        db: &impl tokio_postgres::GenericClient,
        workspace: WorkspaceId,
    ) -> Result<(), ApiError> {
        crate::repo::usage::record(
            db,
            *workspace.as_uuid(),
            crate::repo::usage::CallKind::Embedding,
            &self.model,
            1,
            i64::try_from(self.tokens).unwrap_or(i64::MAX),
            0,
        )
        .await?;
        Ok(())
    }
}

/// [`retrieve`], and the query's embedding call when it made one (hybrid and dense modes).
pub async fn retrieve_metered(
    state: &KnowledgeState,
    workspace: WorkspaceId,
    retrieval: Retrieval<'_>,
) -> Result<(Vec<SearchHit>, Option<QueryEmbedding>), ApiError> {
    let Retrieval {
        query,
        limit,
        score_threshold,
        mode,
    } = retrieval;
    // The previous collection while a change of embedding model is being re-indexed, else the current.
    let index = crate::services::reindex::serving_index(state).await?;
    let mode = search_mode(index.embedder, mode)?;
    let sparse = match mode {
        SearchMode::Dense => None,
        SearchMode::Hybrid | SearchMode::Sparse => {
            Some(sparse_query(state, workspace, query).await?)
        }
    };
    let (dense, embedding) = match mode {
        SearchMode::Sparse => (None, None),
        SearchMode::Hybrid | SearchMode::Dense => {
            let (mut vectors, tokens) = index.embedder.embed_metered(&[query.to_owned()]).await?;
            let vector = vectors.pop().ok_or_else(|| {
                ApiError::internal(anyhow::anyhow!("no embedding returned for the query"))
            })?;
            let call = QueryEmbedding {
                model: index.embedder.model().to_owned(),
                tokens,
            };
            (Some(vector), Some(call))
        }
    };
    if mode == SearchMode::Sparse && sparse.as_ref().is_none_or(SparseVector::is_empty) {
        // No term of the query occurs in this workspace: nothing can match.
        return Ok((Vec::new(), embedding));
    }
    let mut fetch = limit.saturating_mul(2).saturating_add(8);
    loop {
        let hits = index
            .vectors
            .search(VectorQuery {
                workspace,
                dense: dense.clone(),
                sparse: sparse.clone(),
                limit: fetch,
                score_threshold,
            })
            .await
            .map_err(vector_store_error)?;
        let exhausted = (hits.len() as u64) < fetch;
        let kept = current_only(state, workspace, hits).await?;
        if kept.len() as u64 >= limit || exhausted || fetch >= MAX_FETCH.max(limit) {
            return Ok((kept.into_iter().take(limit as usize).collect(), embedding));
        }
        fetch = (fetch * 4).min(MAX_FETCH.max(limit));
    }
}

/// The query's BM25 side: its terms in the workspace's language, each weighted by its IDF among the
/// workspace's searchable chunks (never another workspace's: see [`crate::knowledge::bm25`]).
pub(crate) async fn sparse_query(
    state: &KnowledgeState,
    workspace: WorkspaceId,
    query: &str,
) -> Result<SparseVector, ApiError> {
    let client = Scoped::begin(&state.app.db, crate::db::Scope::workspace(workspace)).await?;
    let language = term_stats::language(&**client, workspace).await?;
    let counts = Analyzer::for_language(&language).count(query);
    if counts.counts.is_empty() {
        return Ok(SparseVector::default());
    }
    let terms: Vec<u32> = counts.counts.keys().copied().collect();
    let stats = term_stats::for_query(&**client, workspace, &terms).await?;
    Ok(bm25::query_vector(&counts, &stats))
}

/// A vector store failure as an answer: a configuration that does not fit the store is the operator's
/// to fix (500, said as such); anything else is an outage (503, retry).
pub fn vector_store_error(e: anyhow::Error) -> ApiError {
    match e.downcast_ref::<Misconfigured>() {
        Some(m) => {
            let message = m.to_string();
            let mut err = ApiError::new(
                crate::error::ErrorCode::VectorStoreMisconfigured,
                format!(
                    "The knowledge base's vector store is misconfigured on this deployment: {message}. Retrying will not help until the operator fixes it."
                ),
            );
            err.source = Some(e);
            err
        }
        None => ApiError::unavailable("vector store", e),
    }
}

/// The most points one search asks the store for (over-fetching past other versions' points), unless the
/// search itself asks for more (the benchmark's depth-1000 runs through [`retrieve`]).
const MAX_FETCH: u64 = 400;

/// The hits of each live document's current version.
async fn current_only(
    state: &KnowledgeState,
    ws: WorkspaceId,
    hits: Vec<SearchHit>,
) -> Result<Vec<SearchHit>, ApiError> {
    if hits.is_empty() {
        return Ok(hits);
    }
    let mut ids: Vec<Uuid> = hits.iter().map(|h| h.document_id).collect();
    ids.sort_unstable();
    ids.dedup();
    let client = Scoped::begin(&state.app.db, crate::db::Scope::workspace(ws)).await?;
    let versions = documents::current_versions(&**client, ws, &ids).await?;
    Ok(hits
        .into_iter()
        .filter(|h| versions.get(&h.document_id).copied() == i32::try_from(h.version).ok())
        .collect())
}

/// The web links of these documents: each one's `sourceUrl` when it is an absolute `http(s)` URL (a
/// `javascript:` or `data:` one is never handed to a page). For chat sources and search hits alike.
pub(crate) async fn web_links(
    state: &KnowledgeState,
    ws: WorkspaceId,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, String>, ApiError> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let client = Scoped::begin(&state.app.db, crate::db::Scope::workspace(ws)).await?;
    let urls = documents::source_urls(&**client, ws, ids).await?;
    Ok(urls
        .into_iter()
        .filter_map(|(id, url)| {
            let url = url.trim();
            is_web_link(url).then(|| (id, url.to_owned()))
        })
        .collect())
}

/// Whether `url` is an absolute `http` or `https` URL with a host.
fn is_web_link(url: &str) -> bool {
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    let rest = if lower.starts_with("https://") {
        &url[8..]
    } else if lower.starts_with("http://") {
        &url[7..]
    } else {
        return false;
    };
    !rest.is_empty()
        && !rest.starts_with('/')
        && !url.chars().any(|c| c.is_control() || c.is_whitespace())
}

/// The code of a document whose text cannot be indexed (no text, unconvertible HTML).
pub const FAILED_UNUSABLE: &str = "unusable";
/// The code of a document whose indexing failed on every attempt (embeddings API, vector store).
pub const FAILED_RETRIES_EXHAUSTED: &str = "retries_exhausted";

pub(crate) struct Prepared {
    pub(crate) doc: DocumentRow,
    pub(crate) chunks: Vec<chunking::Chunk>,
    /// The version the chunks are of (read with the content).
    pub(crate) version: i32,
}

impl Prepared {
    /// A document's content of `version`, chunked; why it cannot be indexed otherwise.
    pub(crate) fn new(
        cfg: &crate::config::KnowledgeConfig,
        doc: DocumentRow,
        content: &str,
        version: i32,
    ) -> Result<Self, Box<(DocumentRow, String)>> {
        match chunks_of(
            &doc,
            content,
            cfg.chunk_size_tokens,
            cfg.chunk_overlap_tokens,
        ) {
            Ok(chunks) => Ok(Self {
                doc,
                chunks,
                version,
            }),
            Err(reason) => Err(Box::new((doc, reason))),
        }
    }
}

/// The points of documents' chunks: each chunk's text with its context ([`indexed_text`]) embedded
/// (through the cache, in as few requests as the limits allow) when there is a dense embedder, and its
/// BM25 terms counted, recorded in the workspace's statistics and weighted. Ingestion and re-indexing
/// both build points here.
pub(crate) async fn points_for(
    state: &KnowledgeState,
    client: &deadpool_postgres::Client,
    ws: WorkspaceId,
    analyzer: &Analyzer,
    docs: &[&Prepared],
) -> anyhow::Result<Vec<Vec<ChunkPoint>>> {
    let texts = indexed_texts(docs);
    let vectors = dense_vectors(&state.embedder, client, ws, &texts).await?;
    let mut out = Vec::with_capacity(docs.len());
    for (p, texts) in docs.iter().zip(&texts) {
        let sparse = sparse_vectors(client, ws, analyzer, p, texts).await?;
        out.push(
            p.chunks
                .iter()
                .zip(texts)
                .zip(sparse)
                .enumerate()
                .map(|(i, ((chunk, text), sparse))| ChunkPoint {
                    document_id: p.doc.id,
                    chunk_index: u32::try_from(i).unwrap_or(u32::MAX),
                    title: p.doc.title.clone(),
                    text: chunk.text.clone(),
                    section: chunk.section.clone(),
                    page: chunk.page,
                    version: version_u32(p.version),
                    dense: vectors.get(&sha256(text.as_bytes())).cloned(),
                    sparse,
                })
                .collect(),
        );
    }
    Ok(out)
}

/// What is embedded and analysed of each document's chunks: title, heading path, text.
fn indexed_texts(docs: &[&Prepared]) -> Vec<Vec<String>> {
    docs.iter()
        .map(|p| {
            p.chunks
                .iter()
                .map(|c| indexed_text(&p.doc.title, c))
                .collect()
        })
        .collect()
}

/// The embedder's vectors of the texts, by the texts' hashes (none without a dense embedder).
async fn dense_vectors(
    embedder: &Embedder,
    client: &deadpool_postgres::Client,
    ws: WorkspaceId,
    texts: &[Vec<String>],
) -> anyhow::Result<HashMap<Vec<u8>, Vec<f32>>> {
    if embedder.dense().is_none() {
        return Ok(HashMap::new());
    }
    let all: Vec<&str> = texts.iter().flatten().map(String::as_str).collect();
    embed_cached(embedder, client, ws, &all).await
}

/// The same points with another embedder's dense vectors: the previous index's, written beside the
/// current one's while it still serves searches (see [`crate::knowledge::previous`]).
async fn points_with_dense_of(
    embedder: &Embedder,
    client: &deadpool_postgres::Client,
    ws: WorkspaceId,
    docs: &[&Prepared],
    points: &[Vec<ChunkPoint>],
) -> anyhow::Result<Vec<Vec<ChunkPoint>>> {
    let texts = indexed_texts(docs);
    let vectors = dense_vectors(embedder, client, ws, &texts).await?;
    Ok(points
        .iter()
        .zip(&texts)
        .map(|(points, texts)| {
            points
                .iter()
                .zip(texts)
                .map(|(point, text)| ChunkPoint {
                    dense: vectors.get(&sha256(text.as_bytes())).cloned(),
                    ..point.clone()
                })
                .collect()
        })
        .collect())
}

/// A document's chunks, or why the document is unusable (retrying will not help).
fn chunks_of(
    doc: &DocumentRow,
    content: &str,
    size: usize,
    overlap: usize,
) -> Result<Vec<chunking::Chunk>, String> {
    let content_type = ContentType::of_stored(&doc.content_type);
    match chunking::to_text(content, content_type)
        .and_then(|text| chunking::chunk(&text, content_type, size, overlap))
    {
        Ok(chunks) if chunks.is_empty() => Err("the document has no text to index".into()),
        Ok(chunks) => Ok(chunks),
        Err(e) => Err(format!("{e:#}")),
    }
}

/// Embeds every distinct text once: cached vectors are reused, the rest are sent to the embeddings API
/// in as few requests as the limits allow, then cached.
async fn embed_cached(
    embedder: &Embedder,
    db: &tokio_postgres::Client,
    ws: WorkspaceId,
    texts: &[&str],
) -> anyhow::Result<HashMap<Vec<u8>, Vec<f32>>> {
    let mut unique: Vec<(Vec<u8>, &str)> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for t in texts {
        let h = sha256(t.as_bytes());
        if seen.insert(h.clone()) {
            unique.push((h, t));
        }
    }
    // The caller's connection: taking a second one from the small pool could deadlock concurrent messages.
    let model = embedder.model();
    let hashes: Vec<Vec<u8>> = unique.iter().map(|(h, _)| h.clone()).collect();
    let mut vectors: HashMap<Vec<u8>, Vec<f32>> =
        documents::cached_embeddings(db, ws, model, &hashes)
            .await?
            .into_iter()
            .collect();
    let missing: Vec<&(Vec<u8>, &str)> = unique
        .iter()
        .filter(|(h, _)| !vectors.contains_key(h))
        .collect();
    if !missing.is_empty() {
        let inputs: Vec<String> = missing.iter().map(|(_, t)| (*t).to_owned()).collect();
        let (embedded, tokens) = embedder.embed_metered(&inputs).await?;
        crate::repo::usage::record(
            db,
            *ws.as_uuid(),
            crate::repo::usage::CallKind::Embedding,
            model,
            1,
            i64::try_from(tokens).unwrap_or(i64::MAX),
            0,
        )
        .await?;
        let writes = missing
            .iter()
            .zip(&embedded)
            .map(|((h, _), v)| documents::cache_embedding(db, ws, model, h, v));
        futures::future::try_join_all(writes).await?;
        for ((h, _), v) in missing.into_iter().zip(embedded) {
            vectors.insert(h.clone(), v);
        }
    }
    Ok(vectors)
}

/// Consecutive documents packed into pieces of at most `max_chunks` chunks (a larger document is a piece
/// of its own), given each document's chunk count.
fn pieces(chunk_counts: &[usize], max_chunks: usize) -> Vec<std::ops::Range<usize>> {
    crate::knowledge::embedder::consecutive(chunk_counts, usize::MAX, max_chunks)
}

/// Processes one ingestion message, piece by piece: the documents of a piece (at most
/// `INGEST_PIECE_CHUNKS` chunks) are claimed (`processing`), embedded, stored, and each marked `ready`
/// as soon as its own chunks are upserted, before the next piece starts — so progress is reported
/// document by document. Documents already `ready` are skipped, so a message delivered twice does no work
/// twice (and point ids are deterministic, so a repeated upsert overwrites). An unusable document fails
/// at once with its reason; a failure that a retry may cure (embeddings API, vector store) puts the
/// documents not yet ready back to `pending` with the reason and returns an error so the queue retries —
/// or, on the `final_attempt`, marks them `failed`.
pub async fn process_ingestion(
    state: &KnowledgeState,
    message: &IngestMessage,
    final_attempt: bool,
) -> anyhow::Result<()> {
    // The message was written by our own API through the outbox: a trusted source of the tenant.
    let ws = WorkspaceId::from_trusted_source(message.workspace_id);
    let cfg = &state.app.config.knowledge;
    let client = state.app.db.get().await?;
    let rows = documents::for_ingestion(&**client, ws, message.ingestion_id).await?;
    let mut prepared = Vec::new();
    for doc in rows {
        // Ready ones are done; an upload's file has not been read yet (its text comes with another
        // message, once extracted).
        if doc.status == "ready" || doc.status == "uploading" {
            continue;
        }
        let Some((content, version)) = documents::content(&**client, ws, doc.id).await? else {
            continue;
        };
        match Prepared::new(cfg, doc, &content, version) {
            Ok(p) => prepared.push(p),
            Err(unusable) => {
                let (doc, reason) = *unusable;
                if documents::start_processing(&**client, ws, doc.id).await? {
                    tracing::warn!(workspace_id = %ws, document_id = %doc.id, reason = %reason, "document failed");
                    documents::mark_failed(&**client, ws, doc.id, FAILED_UNUSABLE, &reason).await?;
                }
            }
        }
    }

    let counts: Vec<usize> = prepared.iter().map(|p| p.chunks.len()).collect();
    let analyzer = Analyzer::for_language(&term_stats::language(&**client, ws).await?);
    let mut first_error = None;
    for range in pieces(&counts, cfg.ingest_piece_chunks) {
        let mut piece = Vec::new();
        for p in &prepared[range.clone()] {
            // False when a concurrent delivery finished it, or the document was deleted meanwhile.
            if documents::start_processing(&**client, ws, p.doc.id).await? {
                piece.push(p);
            }
        }
        if piece.is_empty() {
            continue;
        }
        // While a previous index serves searches, it gets the same points with its own dense vectors.
        let previous = crate::services::reindex::previous_in_use(state, &**client).await?;
        let built = match points_for(state, &client, ws, &analyzer, &piece).await {
            Ok(points) => match previous {
                None => Ok((points, None)),
                Some(previous) => {
                    points_with_dense_of(&previous.embedder, &client, ws, &piece, &points)
                        .await
                        .map(|old| (points, Some((previous, old))))
                }
            },
            Err(e) => Err(e),
        };
        let (built, mut built_previous) = match built {
            Ok(points) => points,
            Err(e) => {
                // The embeddings API failed after its own retries (or the statistics could not be
                // written): this piece and the ones after it wait for the queue's retry (or fail, on
                // the last attempt).
                let reason = format!("{e:#}");
                for p in &prepared[range.start..] {
                    settle_transient(&client, ws, p.doc.id, &reason, final_attempt).await?;
                }
                return Err(e.context(format!("ingestion {}", message.ingestion_id)));
            }
        };
        for (i, (p, points)) in piece.into_iter().zip(built).enumerate() {
            let count = i32::try_from(points.len()).unwrap_or(i32::MAX);
            // The new version's points go beside the current version's; searches keep to the current
            // one until the swap below, so they never see neither or both.
            let mut stored = state.vectors.upsert(ws, points).await;
            if let (Ok(()), Some((previous, old))) = (&stored, built_previous.as_mut()) {
                stored = previous
                    .vectors
                    .upsert(ws, std::mem::take(&mut old[i]))
                    .await;
            }
            match stored {
                Ok(()) => {
                    if documents::mark_ready(&**client, ws, p.doc.id, count, p.version).await? {
                        tracing::info!(workspace_id = %ws, document_id = %p.doc.id, version = p.version, chunks = count, "document ready");
                        if p.version > 1 {
                            term_stats::delete_versions_before(&**client, ws, p.doc.id, p.version)
                                .await?;
                            let stores = std::iter::once(&state.vectors).chain(
                                built_previous
                                    .as_ref()
                                    .map(|(previous, _)| &previous.vectors),
                            );
                            for store in stores {
                                if let Err(e) = store
                                    .delete_versions_before(ws, p.doc.id, version_u32(p.version))
                                    .await
                                {
                                    // Searches skip them; the next version or the document's
                                    // deletion removes them.
                                    tracing::warn!(workspace_id = %ws, document_id = %p.doc.id, collection = store.collection(), error = format!("{e:#}"), "older versions' points not removed");
                                }
                            }
                        }
                    } else {
                        tracing::info!(workspace_id = %ws, document_id = %p.doc.id, version = p.version, "a newer version was asked for meanwhile: its own message indexes it");
                    }
                }
                Err(e) => {
                    settle_transient(&client, ws, p.doc.id, &format!("{e:#}"), final_attempt)
                        .await?;
                    first_error.get_or_insert(e);
                }
            }
        }
    }
    match first_error {
        Some(e) => Err(e.context(format!("ingestion {}", message.ingestion_id))),
        None => Ok(()),
    }
}

/// What is embedded and analysed of a chunk: its document's title and the headings it sits under, then
/// its text — so a chunk lifted out of a long document still carries its topic. (The stored and shown
/// text is the chunk's own.)
pub fn indexed_text(title: &str, chunk: &chunking::Chunk) -> String {
    match chunk.section.as_deref().filter(|s| !s.is_empty()) {
        Some(section) => format!("{title}\n{section}\n\n{}", chunk.text),
        None => format!("{title}\n\n{}", chunk.text),
    }
}

/// The BM25 side of a document version's chunks: counted, recorded in the workspace's statistics
/// (replacing an earlier attempt's), and weighted with the workspace's average chunk length — this
/// document's other versions left out, its new chunks counted in.
async fn sparse_vectors(
    client: &deadpool_postgres::Client,
    ws: WorkspaceId,
    analyzer: &Analyzer,
    p: &Prepared,
    texts: &[String],
) -> anyhow::Result<Vec<SparseVector>> {
    let counted: Vec<TermCounts> = texts.iter().map(|t| analyzer.count(t)).collect();
    let stats = DocumentStats::of(&counted);
    let (chunks, terms) = term_stats::totals(&***client, ws, Some(p.doc.id)).await?;
    let average = (terms + stats.terms) as f32 / (chunks + u64::from(stats.chunks)).max(1) as f32;
    term_stats::write(&***client, ws, p.doc.id, p.version, &stats).await?;
    Ok(counted
        .iter()
        .map(|c| bm25::document_vector(c, average))
        .collect())
}

fn version_u32(version: i32) -> u32 {
    u32::try_from(version).unwrap_or(1).max(1)
}

async fn settle_transient(
    client: &deadpool_postgres::Client,
    ws: WorkspaceId,
    id: Uuid,
    reason: &str,
    final_attempt: bool,
) -> anyhow::Result<()> {
    if final_attempt {
        let reason = format!("gave up after the last attempt: {reason}");
        tracing::error!(workspace_id = %ws, document_id = %id, reason = %reason, "document failed");
        documents::mark_failed(&***client, ws, id, FAILED_RETRIES_EXHAUSTED, &reason).await?;
    } else {
        tracing::warn!(workspace_id = %ws, document_id = %id, reason = %reason, "document will be retried");
        documents::mark_retrying(&***client, ws, id, reason).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_absolute_http_and_https_urls_are_links() {
        for url in [
            "https://example.com/refunds",
            "http://example.com",
            "HTTPS://Example.com/a?b=c#d",
        ] {
            assert!(is_web_link(url), "{url}");
        }
        for url in [
            "javascript:alert(1)",
            "JavaScript://example.com/%0aalert(1)",
            "data:text/html,<script>alert(1)</script>",
            "mailto:help@example.com",
            "ftp://example.com/file",
            "//example.com/path",
            "/relative",
            "https://",
            "https:///path",
            "http://exa mple.com",
            "https://example.com/\nx",
            "",
        ] {
            assert!(!is_web_link(url), "{url}");
        }
    }

    fn new_doc(content: &str) -> NewDocument {
        NewDocument {
            id: Uuid::now_v7(),
            title: "t".into(),
            content: content.into(),
            content_type: "text/plain".into(),
            source_url: None,
            metadata: serde_json::json!({}),
            external_id: None,
            source_id: None,
        }
    }

    #[test]
    fn when_documents_are_packed_into_pieces_each_piece_stays_within_the_chunk_budget() {
        assert_eq!(pieces(&[1; 7], 3), vec![0..3, 3..6, 6..7]);
        assert_eq!(
            pieces(&[2, 5, 1, 1], 3),
            vec![0..1, 1..2, 2..4],
            "a large one goes alone"
        );
        assert_eq!(pieces(&[10, 10], 64), vec![0..2]);
        assert!(pieces(&[], 3).is_empty());
    }

    #[test]
    fn when_documents_repeat_live_or_earlier_content_they_are_skipped_with_the_twins_id() {
        let docs = [new_doc("a"), new_doc("b"), new_doc("b"), new_doc("c")];
        let hashes: Vec<Vec<u8>> = docs.iter().map(|d| sha256(d.content.as_bytes())).collect();
        let live_c = Uuid::now_v7();
        let live = HashMap::from([(hashes[3].clone(), live_c)]);
        let (ids, skipped) = plan_ingestion(&docs, &hashes, live.clone(), false);
        assert_eq!(ids, vec![docs[0].id, docs[1].id, docs[1].id, live_c]);
        let at: Vec<(usize, Uuid)> = skipped.iter().map(|s| (s.index, s.document_id)).collect();
        assert_eq!(at, vec![(2, docs[1].id), (3, live_c)]);
        let (ids, skipped) = plan_ingestion(&docs, &hashes, live, true);
        assert_eq!(ids, docs.iter().map(|d| d.id).collect::<Vec<_>>());
        assert!(skipped.is_empty());
    }
}
