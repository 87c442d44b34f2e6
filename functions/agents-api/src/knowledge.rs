//! The knowledge base's routes: ingest documents, follow an ingestion, list, read and delete documents,
//! and search them as the agent will.

use crate::{MAX_DOCUMENT_BYTES, MAX_DOCUMENTS};
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use studio::ApiError;
use studio::auth::{Admin, Ingest, MemberRole, OrRead, Tenant, Viewer};
use studio::error::{ErrorBody, ErrorCode};
use studio::http::{Path, Query, ValidJson};
use studio::knowledge::SearchHit;
use studio::knowledge::chunking::ContentType;
use studio::openapi::answers;
use studio::paging::{Page, PageParams};
use studio::repo::documents::NewDocument;
use studio::services::idempotency::IdempotencyKey;
use studio::services::knowledge::{self, DocumentView, IngestAccepted, IngestionStatus};
use studio::state::KnowledgeState;
use studio::text::{free_text_not_blank, single_line};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use validator::{Validate, ValidationError};

#[derive(Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct IngestRequest {
    /// 1 to 100 documents (more: 413).
    #[validate(length(min = 1, message = "must hold at least one document"), nested)]
    pub documents: Vec<DocumentInput>,
    /// Store every document even when one has the same content as a live document of the workspace (or
    /// as another document of this request). By default (false) such a document is skipped: the answer's
    /// `documentIds` carries the live document's id in its place and `skipped` lists it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_duplicates: bool,
}

fn known_content_type(value: &str) -> Result<(), ValidationError> {
    ContentType::parse(Some(value)).map(drop).ok_or_else(|| {
        ValidationError::new("content_type")
            .with_message("must be text/plain, text/markdown or text/html".into())
    })
}

pub(crate) fn json_object(value: &serde_json::Value) -> Result<(), ValidationError> {
    if !value.is_object() {
        return Err(ValidationError::new("metadata").with_message("must be a JSON object".into()));
    }
    if value.to_string().len() > 16 * 1024 {
        return Err(ValidationError::new("metadata").with_message("must be at most 16 KB".into()));
    }
    Ok(())
}

#[derive(Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DocumentInput {
    #[validate(
        length(min = 1, max = 500, message = "must be 1 to 500 characters"),
        custom(function = "single_line")
    )]
    pub title: String,
    /// The text; at most 1 MB (more: 413).
    #[validate(custom(function = "free_text_not_blank"))]
    pub content: String,
    /// text/plain (default), text/markdown or text/html (converted to text).
    #[validate(custom(function = "known_content_type"))]
    pub content_type: Option<String>,
    #[validate(custom(function = "json_object"))]
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<serde_json::Value>,
    #[validate(
        url(message = "must be a URL"),
        length(max = 2048, message = "must be at most 2048 characters")
    )]
    pub source_url: Option<String>,
    /// Your own key for the document (a product id, a help-centre article id): a later ingest with the
    /// same key replaces the document (a new version, swapped in once indexed) instead of adding one, or
    /// is skipped as `unchanged` when title and content are the same. 1 to 200 characters.
    #[validate(
        length(min = 1, max = 200, message = "must be 1 to 200 characters"),
        custom(function = "single_line")
    )]
    pub external_id: Option<String>,
}

/// An edit of a document: each field given replaces the document's; at least one.
#[derive(Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UpdateDocumentRequest {
    #[validate(
        length(min = 1, max = 500, message = "must be 1 to 500 characters"),
        custom(function = "single_line")
    )]
    pub title: Option<String>,
    /// The new text; at most 1 MB (more: 413).
    #[validate(custom(function = "free_text_not_blank"))]
    pub content: Option<String>,
    /// text/plain, text/markdown or text/html.
    #[validate(custom(function = "known_content_type"))]
    pub content_type: Option<String>,
    #[validate(custom(function = "json_object"))]
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<serde_json::Value>,
}

#[derive(Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SearchRequest {
    #[validate(
        length(min = 1, max = 2000, message = "must be 1 to 2000 characters"),
        custom(function = "free_text_not_blank")
    )]
    pub query: String,
    /// 1 to 50 (default 5).
    #[validate(range(min = 1, max = 50, message = "must be between 1 and 50"))]
    pub limit: Option<u64>,
    /// A cosine similarity from -1 to 1: dense hits below it are left out. It bounds the dense side
    /// only — in `hybrid` mode the dense candidates (BM25 candidates are kept: a lexical match is a
    /// match), and it is ignored in `sparse` mode (a BM25 score has no fixed scale).
    #[validate(range(min = -1.0, max = 1.0, message = "must be between -1 and 1"))]
    pub score_threshold: Option<f32>,
    /// `hybrid` (dense and BM25 fused by reciprocal rank fusion), `dense` or `sparse` (BM25). Default:
    /// hybrid, or sparse on a deployment without a dense embedder (where `dense` and `hybrid` are
    /// `400 dense_search_unavailable`).
    pub mode: Option<knowledge::SearchMode>,
}

#[derive(Deserialize, Validate, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DocumentsQuery {
    /// Only documents in this state: uploading, pending, processing, ready or failed.
    #[validate(custom(function = "known_status"))]
    pub status: Option<String>,
    #[validate(range(min = 1, max = 100, message = "must be between 1 and 100"))]
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

fn known_status(value: &str) -> Result<(), ValidationError> {
    if ["uploading", "pending", "processing", "ready", "failed"].contains(&value) {
        Ok(())
    } else {
        Err(ValidationError::new("status")
            .with_message("must be uploading, pending, processing, ready or failed".into()))
    }
}

#[derive(Deserialize)]
pub(crate) struct IngestionPath {
    #[serde(rename = "ingestionId")]
    ingestion_id: Uuid,
}

#[derive(Deserialize)]
pub(crate) struct DocumentPath {
    #[serde(rename = "documentId")]
    document_id: Uuid,
}

/// Accepts documents for the knowledge base (member or higher). They are stored `pending` and indexed in
/// the background; follow them with GET /api/v1/agents/ingest/{ingestionId}. Send an `Idempotency-Key`
/// header to make a retried request return the first response instead of ingesting twice.
///
/// A document whose content is identical (byte for byte; title and metadata are not compared) to a live
/// document of the workspace, or to an earlier document of the same request, is not stored again: its
/// entry in `documentIds` is the live document's id and `skipped` lists it with the reason `duplicate`.
/// Deleted and failed documents do not count. Send `"allowDuplicates": true` to store it anyway.
#[utoipa::path(operation_id = "ingestDocuments", post, path = "/api/v1/agents/ingest", tag = "knowledge base", security(("bearer" = []), ("secretKey" = ["ingest"])),
    request_body = IngestRequest,
    params(("X-Workspace-Id" = Option<Uuid>, Header, description = "The workspace (default: the token's)"),
           ("Idempotency-Key" = Option<String>, Header, description = "Retries with the same key return the first response")),
    responses(
        (status = 202, body = IngestAccepted),
        (status = 402, description = "quota_exceeded: the plan's limit is reached", body = ErrorBody), (status = 409, description = "Idempotency-Key reused with another request", body = ErrorBody),
        (status = 413, description = "over 100 documents, a document over 1 MB, or a body over 4 MB", body = ErrorBody), answers::WorkspaceInput))]
pub(crate) async fn ingest(
    State(state): State<KnowledgeState>,
    tenant: Tenant<MemberRole, Ingest>,
    headers: HeaderMap,
    ValidJson(req): ValidJson<IngestRequest>,
) -> Result<Response, ApiError> {
    if req.documents.len() > MAX_DOCUMENTS {
        return Err(ApiError::new(
            ErrorCode::PayloadTooLarge,
            format!(
                "{} documents were sent; at most {MAX_DOCUMENTS} are accepted per request. Split the upload.",
                req.documents.len()
            ),
        ));
    }
    if let Some((i, _)) = req
        .documents
        .iter()
        .enumerate()
        .find(|(_, d)| d.content.len() > MAX_DOCUMENT_BYTES)
    {
        return Err(ApiError::new(
            ErrorCode::PayloadTooLarge,
            format!(
                "documents[{i}].content is larger than {MAX_DOCUMENT_BYTES} bytes; split the document."
            ),
        ));
    }
    let mut keys = std::collections::HashSet::new();
    for (i, d) in req.documents.iter().enumerate() {
        if let Some(key) = &d.external_id
            && !keys.insert(key.as_str())
        {
            return Err(ApiError::validation(vec![studio::error::FieldError {
                field: format!("documents[{i}].externalId"),
                message: "is the external id of an earlier document of this request".into(),
            }]));
        }
    }
    let key = IdempotencyKey::from_request(&headers, &req)?;
    let allow_duplicates = req.allow_duplicates;
    let docs = req
        .documents
        .into_iter()
        .map(|d| NewDocument {
            id: Uuid::now_v7(),
            title: d.title.trim().to_owned(),
            content: d.content,
            content_type: ContentType::parse(d.content_type.as_deref())
                .unwrap_or(ContentType::Plain)
                .mime()
                .to_owned(),
            source_url: d.source_url,
            metadata: d.metadata.unwrap_or_else(|| serde_json::json!({})),
            external_id: d.external_id,
            source_id: None,
        })
        .collect();
    let accepted = knowledge::accept(&state, &tenant, docs, allow_duplicates, key).await?;
    Ok((StatusCode::ACCEPTED, Json(accepted)).into_response())
}

/// The progress of one ingestion and of each of its documents, in the request's order: each document
/// becomes `ready` as soon as its own chunks are indexed; a document that was not stored shows
/// `status: "skipped"` with `reason: "duplicate"` and, as its `id`, the live document it duplicates.
#[utoipa::path(operation_id = "getIngestion", get, path = "/api/v1/agents/ingest/{ingestionId}", tag = "knowledge base", security(("bearer" = []), ("secretKey" = ["ingest", "read"])),
    params(("ingestionId" = Uuid, Path)),
    responses((status = 200, body = IngestionStatus), (status = 404, body = ErrorBody), answers::SignedInput))]
pub(crate) async fn ingestion(
    State(state): State<KnowledgeState>,
    tenant: Tenant<Viewer, OrRead<Ingest>>,
    Path(path): Path<IngestionPath>,
) -> Result<Json<IngestionStatus>, ApiError> {
    Ok(Json(
        knowledge::status(&state, &tenant, path.ingestion_id).await?,
    ))
}

/// The workspace's documents, newest first, optionally of one status.
#[utoipa::path(operation_id = "listDocuments", get, path = "/api/v1/agents/documents", tag = "knowledge base", security(("bearer" = []), ("secretKey" = ["ingest", "read"])),
    params(DocumentsQuery),
    responses((status = 200, body = Page<DocumentView>), answers::SignedInput))]
pub(crate) async fn documents(
    State(state): State<KnowledgeState>,
    tenant: Tenant<Viewer, OrRead<Ingest>>,
    Query(q): Query<DocumentsQuery>,
) -> Result<Json<Page<DocumentView>>, ApiError> {
    let page = PageParams {
        limit: q.limit,
        cursor: q.cursor,
    };
    Ok(Json(
        knowledge::list_documents(&state, &tenant, q.status.as_deref(), &page).await?,
    ))
}

/// One document's state.
#[utoipa::path(operation_id = "getDocument", get, path = "/api/v1/agents/documents/{documentId}", tag = "knowledge base", security(("bearer" = []), ("secretKey" = ["ingest", "read"])),
    params(("documentId" = Uuid, Path)),
    responses((status = 200, body = DocumentView), (status = 404, body = ErrorBody), answers::SignedInput))]
pub(crate) async fn document(
    State(state): State<KnowledgeState>,
    tenant: Tenant<Viewer, OrRead<Ingest>>,
    Path(path): Path<DocumentPath>,
) -> Result<Json<DocumentView>, ApiError> {
    Ok(Json(
        knowledge::get_document(&state, &tenant, path.document_id).await?,
    ))
}

/// Edits a document in place (member or higher). A new title, content or content type is a new
/// version: it is chunked and embedded in the background and swapped in when complete — until then,
/// search and chat keep using the current version, never neither or both. Follow the new version with
/// the answer's `ingestionId`; `version` is the latest, `searchableVersion` the one searches see.
/// Metadata alone changes at once. An uploaded file's text, or a document still uploading: 409.
#[utoipa::path(operation_id = "updateDocument", put, path = "/api/v1/agents/documents/{documentId}", tag = "knowledge base", security(("bearer" = []), ("secretKey" = ["ingest"])),
    params(("documentId" = Uuid, Path)),
    request_body = UpdateDocumentRequest,
    responses((status = 200, body = DocumentView), (status = 404, body = ErrorBody),
        (status = 409, description = "the document is an uploaded file (upload it again) or still uploading", body = ErrorBody),
        (status = 413, description = "content over 1 MB", body = ErrorBody), answers::WorkspaceInput))]
pub(crate) async fn update_document(
    State(state): State<KnowledgeState>,
    tenant: Tenant<MemberRole, Ingest>,
    Path(path): Path<DocumentPath>,
    ValidJson(req): ValidJson<UpdateDocumentRequest>,
) -> Result<Json<DocumentView>, ApiError> {
    if req
        .content
        .as_ref()
        .is_some_and(|c| c.len() > MAX_DOCUMENT_BYTES)
    {
        return Err(ApiError::new(
            ErrorCode::PayloadTooLarge,
            format!("content is larger than {MAX_DOCUMENT_BYTES} bytes; split the document."),
        ));
    }
    if req.title.is_none()
        && req.content.is_none()
        && req.content_type.is_none()
        && req.metadata.is_none()
    {
        return Err(ApiError::validation(vec![studio::error::FieldError {
            field: "body".into(),
            message: "must change at least one of title, content, contentType, metadata".into(),
        }]));
    }
    let changes = knowledge::DocumentChanges {
        title: req.title.map(|t| t.trim().to_owned()),
        content: req.content,
        content_type: req.content_type.map(|t| {
            ContentType::parse(Some(&t))
                .unwrap_or(ContentType::Plain)
                .mime()
                .to_owned()
        }),
        metadata: req.metadata,
    };
    Ok(Json(
        knowledge::update_document(&state, &tenant, path.document_id, changes).await?,
    ))
}

/// Deletes a document and its vectors (admin or higher).
#[utoipa::path(operation_id = "deleteDocument", delete, path = "/api/v1/agents/documents/{documentId}", tag = "knowledge base", security(("bearer" = []), ("secretKey" = ["ingest"])),
    params(("documentId" = Uuid, Path)),
    responses((status = 204), answers::WorkspaceInput))]
pub(crate) async fn delete_document(
    State(state): State<KnowledgeState>,
    tenant: Tenant<Admin, Ingest>,
    Path(path): Path<DocumentPath>,
) -> Result<StatusCode, ApiError> {
    knowledge::delete_document(&state, &tenant, path.document_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Ranked chunks of the workspace's documents for a query: the retrieval the agent will answer from.
#[utoipa::path(operation_id = "searchKnowledgeBase", post, path = "/api/v1/agents/search", tag = "knowledge base", security(("bearer" = []), ("secretKey" = ["ingest"])),
    request_body = SearchRequest,
    responses((status = 200, body = Vec<SearchHit>), (status = 404, body = ErrorBody), answers::SignedInput))]
pub(crate) async fn search(
    State(state): State<KnowledgeState>,
    tenant: Tenant<Viewer, Ingest>,
    ValidJson(req): ValidJson<SearchRequest>,
) -> Result<Json<Vec<SearchHit>>, ApiError> {
    Ok(Json(
        knowledge::search(
            &state,
            &tenant,
            knowledge::Retrieval {
                query: req.query.trim(),
                limit: req.limit.unwrap_or(5),
                score_threshold: req.score_threshold,
                mode: req.mode,
            },
        )
        .await?,
    ))
}
