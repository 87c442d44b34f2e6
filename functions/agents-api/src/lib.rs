//! `/api/v1/agents/*`: the knowledge base — ingest documents, follow an ingestion, list, read and
//! delete documents, and search them as the agent will.

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use studio::auth::{Admin, MemberRole, Tenant, Viewer};
use studio::error::{ErrorBody, ErrorCode};
use studio::http::{OptionalJson, Path, Query, ValidJson};
use studio::knowledge::SearchHit;
use studio::knowledge::chunking::ContentType;
use studio::paging::{Page, PageParams};
use studio::repo::documents::NewDocument;
use studio::services::chat::{self, ChatReply, ConversationSummary, ConversationView};
use studio::services::idempotency::IdempotencyKey;
use studio::services::knowledge::{self, DocumentView, IngestAccepted, IngestionStatus};
use studio::state::KnowledgeState;
use studio::text::{free_text, free_text_not_blank, single_line};
use studio::{ApiError, AppState};
use utoipa::{IntoParams, OpenApi, ToSchema};
use uuid::Uuid;
use validator::{Validate, ValidationError};

/// Documents per ingest request.
pub const MAX_DOCUMENTS: usize = 100;
/// Bytes of content per document.
pub const MAX_DOCUMENT_BYTES: usize = 1024 * 1024;

pub fn routes() -> Router<KnowledgeState> {
    Router::new()
        .route("/api/v1/agents/health", get(health))
        .route("/api/v1/agents/ingest", post(ingest))
        .route("/api/v1/agents/ingest/{ingestionId}", get(ingestion))
        .route("/api/v1/agents/documents", get(documents))
        .route(
            "/api/v1/agents/documents/{documentId}",
            get(document).delete(delete_document),
        )
        .route("/api/v1/agents/search", post(search))
        .route("/api/v1/agents/customer-service/run", post(run))
        .route("/api/v1/agents/conversations", get(conversations))
        .route(
            "/api/v1/agents/conversations/{conversationId}",
            get(conversation)
                .patch(rename_conversation)
                .delete(delete_conversation),
        )
        .route(
            "/api/v1/agents/messages/{messageId}/feedback",
            post(feedback),
        )
        .route("/api/v1/agents/feedback", get(list_feedback))
        .route(
            "/api/v1/agents/conversations/{conversationId}/escalate",
            post(escalate),
        )
}

/// The streaming route, served by its own Lambda (a Function URL in response-streaming mode: a streaming
/// Lambda answers every route in streaming mode) and by the devserver on the same port as the rest.
pub fn stream_routes() -> Router<KnowledgeState> {
    Router::new()
        .route("/api/v1/agents/customer-service/stream", post(stream))
        .route("/api/v1/agents/stream/health", get(stream_health))
}

#[derive(OpenApi)]
#[openapi(
    paths(stream, stream_health, health, ingest, ingestion, documents, document, delete_document, search, run, conversations, conversation, rename_conversation, delete_conversation, feedback, list_feedback, escalate),
    components(schemas(SseEvent, IngestRequest, DocumentInput, SearchRequest, IngestAccepted, IngestionStatus, DocumentView, SearchHit, RunRequest, ChatReply, ConversationSummary, ConversationView, RenameRequest, FeedbackRequest, EscalateRequest, studio::services::chat::EscalationView, studio::services::chat::FeedbackView, studio::services::chat::StartedBy)),
    tags((name = "knowledge base", description = "Documents the agent answers from"), (name = "agent", description = "The customer-service agent and its conversations"))
)]
pub struct ApiDoc;

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

fn json_object(value: &serde_json::Value) -> Result<(), ValidationError> {
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
    /// Cosine similarity from -1 to 1; weaker hits are left out.
    #[validate(range(min = -1.0, max = 1.0, message = "must be between -1 and 1"))]
    pub score_threshold: Option<f32>,
}

#[derive(Deserialize, Validate, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DocumentsQuery {
    /// Only documents in this state: pending, processing, ready or failed.
    #[validate(custom(function = "known_status"))]
    pub status: Option<String>,
    #[validate(range(min = 1, max = 100, message = "must be between 1 and 100"))]
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

fn known_status(value: &str) -> Result<(), ValidationError> {
    if ["pending", "processing", "ready", "failed"].contains(&value) {
        Ok(())
    } else {
        Err(ValidationError::new("status")
            .with_message("must be pending, processing, ready or failed".into()))
    }
}

#[derive(Deserialize)]
struct IngestionPath {
    #[serde(rename = "ingestionId")]
    ingestion_id: Uuid,
}

#[derive(Deserialize)]
struct DocumentPath {
    #[serde(rename = "documentId")]
    document_id: Uuid,
}

/// Liveness and database reachability of the agents function.
#[utoipa::path(operation_id = "agentsHealth", get, path = "/api/v1/agents/health", tag = "knowledge base",
    responses((status = 200, body = studio::http::app::Health), (status = 503, body = studio::http::app::Health)))]
async fn health(state: State<AppState>) -> Response {
    studio::http::health(state).await
}

/// Liveness and database reachability of the streaming function (its own Lambda, on a Function URL).
#[utoipa::path(operation_id = "agentsStreamHealth", get, path = "/api/v1/agents/stream/health", tag = "agent",
    responses((status = 200, body = studio::http::app::Health), (status = 503, body = studio::http::app::Health)))]
async fn stream_health(state: State<AppState>) -> Response {
    studio::http::health(state).await
}

/// Accepts documents for the knowledge base (member or higher). They are stored `pending` and indexed in
/// the background; follow them with GET /api/v1/agents/ingest/{ingestionId}. Send an `Idempotency-Key`
/// header to make a retried request return the first response instead of ingesting twice.
///
/// A document whose content is identical (byte for byte; title and metadata are not compared) to a live
/// document of the workspace, or to an earlier document of the same request, is not stored again: its
/// entry in `documentIds` is the live document's id and `skipped` lists it with the reason `duplicate`.
/// Deleted and failed documents do not count. Send `"allowDuplicates": true` to store it anyway.
#[utoipa::path(operation_id = "ingestDocuments", post, path = "/api/v1/agents/ingest", tag = "knowledge base", security(("bearer" = [])),
    request_body = IngestRequest,
    params(("X-Workspace-Id" = Option<Uuid>, Header, description = "The workspace (default: the token's)"),
           ("Idempotency-Key" = Option<String>, Header, description = "Retries with the same key return the first response")),
    responses(
        (status = 202, body = IngestAccepted),
        (status = 402, description = "quota_exceeded: the plan's limit is reached", body = ErrorBody),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, description = "Idempotency-Key reused with another request", body = ErrorBody),
        (status = 413, description = "over 100 documents, a document over 1 MB, or a body over 4 MB", body = ErrorBody),
        (status = 503, body = ErrorBody)))]
async fn ingest(
    State(state): State<KnowledgeState>,
    tenant: Tenant<MemberRole>,
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
        })
        .collect();
    let accepted = knowledge::accept(&state, &tenant, docs, allow_duplicates, key).await?;
    Ok((StatusCode::ACCEPTED, Json(accepted)).into_response())
}

/// The progress of one ingestion and of each of its documents, in the request's order: each document
/// becomes `ready` as soon as its own chunks are indexed; a document that was not stored shows
/// `status: "skipped"` with `reason: "duplicate"` and, as its `id`, the live document it duplicates.
#[utoipa::path(operation_id = "getIngestion", get, path = "/api/v1/agents/ingest/{ingestionId}", tag = "knowledge base", security(("bearer" = [])),
    params(("ingestionId" = Uuid, Path)),
    responses((status = 200, body = IngestionStatus), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 503, body = ErrorBody)))]
async fn ingestion(
    State(state): State<KnowledgeState>,
    tenant: Tenant<Viewer>,
    Path(path): Path<IngestionPath>,
) -> Result<Json<IngestionStatus>, ApiError> {
    Ok(Json(
        knowledge::status(&state, &tenant, path.ingestion_id).await?,
    ))
}

/// The workspace's documents, newest first, optionally of one status.
#[utoipa::path(operation_id = "listDocuments", get, path = "/api/v1/agents/documents", tag = "knowledge base", security(("bearer" = [])),
    params(DocumentsQuery),
    responses((status = 200, body = Page<DocumentView>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 503, body = ErrorBody)))]
async fn documents(
    State(state): State<KnowledgeState>,
    tenant: Tenant<Viewer>,
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
#[utoipa::path(operation_id = "getDocument", get, path = "/api/v1/agents/documents/{documentId}", tag = "knowledge base", security(("bearer" = [])),
    params(("documentId" = Uuid, Path)),
    responses((status = 200, body = DocumentView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 503, body = ErrorBody)))]
async fn document(
    State(state): State<KnowledgeState>,
    tenant: Tenant<Viewer>,
    Path(path): Path<DocumentPath>,
) -> Result<Json<DocumentView>, ApiError> {
    Ok(Json(
        knowledge::get_document(&state, &tenant, path.document_id).await?,
    ))
}

/// Deletes a document and its vectors (admin or higher).
#[utoipa::path(operation_id = "deleteDocument", delete, path = "/api/v1/agents/documents/{documentId}", tag = "knowledge base", security(("bearer" = [])),
    params(("documentId" = Uuid, Path)),
    responses((status = 204), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 503, body = ErrorBody)))]
async fn delete_document(
    State(state): State<KnowledgeState>,
    tenant: Tenant<Admin>,
    Path(path): Path<DocumentPath>,
) -> Result<StatusCode, ApiError> {
    knowledge::delete_document(&state, &tenant, path.document_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Ranked chunks of the workspace's documents for a query: the retrieval the agent will answer from.
#[utoipa::path(operation_id = "searchKnowledgeBase", post, path = "/api/v1/agents/search", tag = "knowledge base", security(("bearer" = [])),
    request_body = SearchRequest,
    responses((status = 200, body = Vec<SearchHit>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 503, body = ErrorBody)))]
async fn search(
    State(state): State<KnowledgeState>,
    tenant: Tenant<Viewer>,
    ValidJson(req): ValidJson<SearchRequest>,
) -> Result<Json<Vec<SearchHit>>, ApiError> {
    Ok(Json(
        knowledge::search(
            &state,
            &tenant,
            req.query.trim(),
            req.limit.unwrap_or(5),
            req.score_threshold,
        )
        .await?,
    ))
}

#[derive(Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RunRequest {
    #[validate(
        length(min = 1, max = 4000, message = "must be 1 to 4000 characters"),
        custom(function = "free_text_not_blank")
    )]
    pub message: String,
    /// Continue this conversation; omit to start a new one.
    pub conv_id: Option<Uuid>,
}

#[derive(Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RenameRequest {
    #[validate(
        length(min = 1, max = 200, message = "must be 1 to 200 characters"),
        custom(function = "single_line")
    )]
    pub title: String,
}

#[derive(Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct FeedbackRequest {
    /// up or down
    #[validate(custom(function = "known_rating"))]
    pub rating: String,
    #[validate(
        length(max = 2000, message = "must be at most 2000 characters"),
        custom(function = "free_text")
    )]
    pub comment: Option<String>,
}

fn known_rating(value: &str) -> Result<(), ValidationError> {
    if value == "up" || value == "down" {
        Ok(())
    } else {
        Err(ValidationError::new("rating").with_message("must be up or down".into()))
    }
}

#[derive(Deserialize, Validate, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct FeedbackQuery {
    /// Only ratings of this kind: up or down.
    #[validate(custom(function = "known_rating"))]
    pub rating: Option<String>,
    /// Items per page, 1–100 (default 20).
    #[validate(range(min = 1, max = 100, message = "must be between 1 and 100"))]
    pub limit: Option<u32>,
    /// The `nextCursor` of the previous page.
    pub cursor: Option<String>,
}

#[derive(Deserialize)]
struct ConversationPath {
    #[serde(rename = "conversationId")]
    conversation_id: Uuid,
}

#[derive(Deserialize)]
struct MessagePath {
    #[serde(rename = "messageId")]
    message_id: Uuid,
}

/// One turn with the customer-service agent (member or higher): retrieval from the workspace's knowledge
/// base, the LLM's answer with its sources, both messages saved. An `Idempotency-Key` makes a retry return
/// the first answer without a second LLM call.
#[utoipa::path(operation_id = "runCustomerServiceAgent", post, path = "/api/v1/agents/customer-service/run", tag = "agent", security(("bearer" = [])),
    request_body = RunRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Retries with the same key return the first answer")),
    responses(
        (status = 200, body = ChatReply),
        (status = 402, description = "quota_exceeded: the plan's limit is reached", body = ErrorBody),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, description = "unknown conversation", body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 503, description = "llm_unavailable or service_unavailable; nothing was saved", body = ErrorBody)))]
async fn run(
    State(state): State<KnowledgeState>,
    tenant: Tenant<MemberRole>,
    headers: HeaderMap,
    ValidJson(req): ValidJson<RunRequest>,
) -> Result<Json<ChatReply>, ApiError> {
    let key = IdempotencyKey::from_request(&headers, &req)?;
    Ok(Json(
        chat::run(&state, &tenant, req.message.trim(), req.conv_id, key).await?,
    ))
}

/// The workspace's conversations, most recent activity first.
#[utoipa::path(operation_id = "listConversations", get, path = "/api/v1/agents/conversations", tag = "agent", security(("bearer" = [])),
    params(PageParams),
    responses((status = 200, body = Page<ConversationSummary>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 503, body = ErrorBody)))]
async fn conversations(
    State(state): State<KnowledgeState>,
    tenant: Tenant<Viewer>,
    Query(page): Query<PageParams>,
) -> Result<Json<Page<ConversationSummary>>, ApiError> {
    Ok(Json(chat::list(&state, &tenant, &page).await?))
}

/// A conversation with its messages.
#[utoipa::path(operation_id = "getConversation", get, path = "/api/v1/agents/conversations/{conversationId}", tag = "agent", security(("bearer" = [])),
    params(("conversationId" = Uuid, Path)),
    responses((status = 200, body = ConversationView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 503, body = ErrorBody)))]
async fn conversation(
    State(state): State<KnowledgeState>,
    tenant: Tenant<Viewer>,
    Path(path): Path<ConversationPath>,
) -> Result<Json<ConversationView>, ApiError> {
    Ok(Json(
        chat::get(&state, &tenant, path.conversation_id).await?,
    ))
}

/// Renames a conversation (member or higher).
#[utoipa::path(operation_id = "renameConversation", patch, path = "/api/v1/agents/conversations/{conversationId}", tag = "agent", security(("bearer" = [])),
    params(("conversationId" = Uuid, Path)), request_body = RenameRequest,
    responses((status = 200, body = ConversationSummary), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 503, body = ErrorBody)))]
async fn rename_conversation(
    State(state): State<KnowledgeState>,
    tenant: Tenant<MemberRole>,
    Path(path): Path<ConversationPath>,
    ValidJson(req): ValidJson<RenameRequest>,
) -> Result<Json<ConversationSummary>, ApiError> {
    Ok(Json(
        chat::rename(&state, &tenant, path.conversation_id, req.title.trim()).await?,
    ))
}

/// Deletes a conversation (soft; member or higher).
#[utoipa::path(operation_id = "deleteConversation", delete, path = "/api/v1/agents/conversations/{conversationId}", tag = "agent", security(("bearer" = [])),
    params(("conversationId" = Uuid, Path)),
    responses((status = 204), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 503, body = ErrorBody)))]
async fn delete_conversation(
    State(state): State<KnowledgeState>,
    tenant: Tenant<MemberRole>,
    Path(path): Path<ConversationPath>,
) -> Result<StatusCode, ApiError> {
    chat::delete(&state, &tenant, path.conversation_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Rates an assistant message (member or higher); rating again replaces the earlier rating.
#[utoipa::path(operation_id = "messageFeedback", post, path = "/api/v1/agents/messages/{messageId}/feedback", tag = "agent", security(("bearer" = [])),
    params(("messageId" = Uuid, Path)), request_body = FeedbackRequest,
    responses((status = 204), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 503, body = ErrorBody)))]
async fn feedback(
    State(state): State<KnowledgeState>,
    tenant: Tenant<MemberRole>,
    Path(path): Path<MessagePath>,
    ValidJson(req): ValidJson<FeedbackRequest>,
) -> Result<StatusCode, ApiError> {
    chat::feedback(
        &state,
        &tenant,
        path.message_id,
        &req.rating,
        req.comment.as_deref(),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The workspace's ratings of the agent's answers (viewer or higher), newest first, each with the question
/// and the answer it rates: `?rating=down` lists what to improve in the knowledge base.
#[utoipa::path(operation_id = "listFeedback", get, path = "/api/v1/agents/feedback", tag = "agent", security(("bearer" = [])),
    params(FeedbackQuery),
    responses((status = 200, body = Page<studio::services::chat::FeedbackView>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 503, body = ErrorBody)))]
async fn list_feedback(
    State(state): State<KnowledgeState>,
    tenant: Tenant<Viewer>,
    Query(q): Query<FeedbackQuery>,
) -> Result<Json<Page<studio::services::chat::FeedbackView>>, ApiError> {
    let page = PageParams {
        limit: q.limit,
        cursor: q.cursor,
    };
    Ok(Json(
        chat::list_feedback(&state, &tenant, q.rating.as_deref(), &page).await?,
    ))
}

/// The same turn as `/run`, as server-sent events: `sources` (`[{documentId, title, score}]`) first, then
/// `delta` (`{text}`) events, then `done` (`{convId, messageId, usage}`) — or `error` (`{code, message,
/// requestId}`) if the model fails midway or the turn cannot be saved, in which case nothing is saved.
#[utoipa::path(operation_id = "streamCustomerServiceAgent", post, path = "/api/v1/agents/customer-service/stream", tag = "agent", security(("bearer" = [])),
    request_body = RunRequest,
    responses(
        (status = 200, description = "text/event-stream: sources, delta..., done | error", content_type = "text/event-stream", body = SseEvent),
        (status = 402, description = "quota_exceeded: the plan's limit is reached", body = ErrorBody),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, description = "unknown conversation", body = ErrorBody), (status = 503, body = ErrorBody)))]
async fn stream(
    State(state): State<KnowledgeState>,
    tenant: Tenant<MemberRole>,
    ValidJson(req): ValidJson<RunRequest>,
) -> Result<Response, ApiError> {
    use axum::response::sse::{Event, KeepAlive, Sse};
    let turn = chat::prepare(&state, &tenant, req.message.trim(), req.conv_id).await?;
    let rx = chat::stream(state, turn);
    let events = futures::stream::unfold(rx, |mut rx| async move {
        let event = rx.recv().await?;
        let sse = Event::default()
            .event(event.name())
            .json_data(&event)
            .unwrap_or_else(|_| Event::default().event("error"));
        Some((Ok::<_, std::convert::Infallible>(sse), rx))
    });
    Ok(Sse::new(events)
        .keep_alive(KeepAlive::default())
        .into_response())
}

#[derive(Deserialize, Validate, ToSchema, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct EscalateRequest {
    /// Why a person is needed (shown in the mail).
    #[validate(
        length(max = 1000, message = "must be at most 1000 characters"),
        custom(function = "free_text")
    )]
    pub reason: Option<String>,
}

/// Hands the conversation to a person (member or higher): the workspace's escalation contact (the
/// intake's `escalationEmail`) gets the transcript by mail, and the conversation is marked escalated.
/// Escalating again answers 200 with `alreadyEscalated` and sends nothing.
#[utoipa::path(operation_id = "escalateConversation", post, path = "/api/v1/agents/conversations/{conversationId}/escalate", tag = "agent", security(("bearer" = [])),
    params(("conversationId" = Uuid, Path)), request_body(content = Option<EscalateRequest>, description = "Optional: the body may be left out"),
    responses((status = 202, description = "escalated; the mail is on its way", body = studio::services::chat::EscalationView),
        (status = 200, description = "escalated before; nothing sent", body = studio::services::chat::EscalationView),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "no escalation contact, or escalation turned off", body = ErrorBody),
        (status = 429, body = ErrorBody), (status = 503, body = ErrorBody)))]
async fn escalate(
    State(state): State<KnowledgeState>,
    tenant: Tenant<MemberRole>,
    Path(path): Path<ConversationPath>,
    OptionalJson(req): OptionalJson<EscalateRequest>,
) -> Result<Response, ApiError> {
    let out = studio::services::chat::escalate(
        &state,
        &tenant,
        path.conversation_id,
        req.reason
            .as_deref()
            .map(str::trim)
            .filter(|r| !r.is_empty()),
    )
    .await?;
    let status = if out.already_escalated {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    Ok((status, Json(out)).into_response())
}

/// One server-sent event of the streamed turn: `sources` (`data`: `[{documentId, title, score}]`), `delta`
/// (`{text}`), then `done` (`{convId, messageId, usage}`) or `error` (`{code, message, requestId}`).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct SseEvent {
    /// sources, delta, done or error
    event: String,
    /// The event's JSON payload.
    data: String,
}
