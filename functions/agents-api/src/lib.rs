//! `/api/v1/agents/*`, two route groups in one function: the knowledge base ([`knowledge`]: ingest
//! documents, follow an ingestion, list, read and delete documents, search them as the agent will;
//! [`uploads`]: upload URLs for files; [`sources`]: website sources and their crawls) and
//! the agent ([`chat`]: a turn, conversations, feedback, escalation) and the team's inbox of visitors'
//! conversations ([`inbox`]: a person's reply, the handoff status). The streamed turn ([`stream`]) is
//! served by its own function, `agents-stream`, from [`stream_routes`].

mod chat;
mod inbox;
mod knowledge;
mod sources;
mod stream;
mod uploads;
mod visitors;

pub use chat::{EscalateRequest, FeedbackRequest, RenameRequest, RunRequest};
pub use inbox::{HumanReplyRequest, StatusRequest};
pub use knowledge::{DocumentInput, IngestRequest, SearchRequest, UpdateDocumentRequest};
pub use sources::{CreateSourceRequest, UpdateSourceRequest};
pub use uploads::{ACCEPTED_TYPES, UploadFileRequest};

use axum::Router;
use axum::routing::{get, post};
use chat::{
    conversation, conversations, delete_conversation, escalate, feedback, list_feedback,
    rename_conversation, run,
};
use knowledge::{delete_document, document, documents, ingest, ingestion, search, update_document};
use stream::stream;
use studio::state::KnowledgeState;
use utoipa::OpenApi;

/// Documents per ingest request.
pub const MAX_DOCUMENTS: usize = 100;
/// Bytes of content per document.
pub const MAX_DOCUMENT_BYTES: usize = 1024 * 1024;

pub fn routes() -> Router<KnowledgeState> {
    Router::new()
        .route(HEALTH.path, get(studio::http::health))
        .route("/api/v1/agents/ingest", post(ingest))
        .route("/api/v1/agents/ingest/{ingestionId}", get(ingestion))
        .route("/api/v1/agents/documents", get(documents))
        .route(
            "/api/v1/agents/documents/{documentId}",
            get(document).put(update_document).delete(delete_document),
        )
        .route("/api/v1/agents/uploads", post(uploads::upload))
        .route(
            "/api/v1/agents/sources",
            post(sources::create).get(sources::list),
        )
        .route(
            "/api/v1/agents/sources/{sourceId}",
            get(sources::get)
                .patch(sources::update)
                .delete(sources::delete),
        )
        .route(
            "/api/v1/agents/sources/{sourceId}/sync",
            post(sources::sync),
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
        .route("/api/v1/agents/inbox", get(inbox::list))
        .route(
            "/api/v1/agents/conversations/{conversationId}/messages",
            post(inbox::reply),
        )
        .route(
            "/api/v1/agents/conversations/{conversationId}/status",
            post(inbox::set_status),
        )
        .route(
            "/api/v1/agents/visitors/{visitorId}",
            get(visitors::export).delete(visitors::erase),
        )
}

/// The streaming route, served by its own Lambda (a Function URL in response-streaming mode: a streaming
/// Lambda answers every route in streaming mode) and by the devserver on the same port as the rest.
pub fn stream_routes() -> Router<KnowledgeState> {
    Router::new()
        .route("/api/v1/agents/customer-service/stream", post(stream))
        .route(STREAM_HEALTH.path, get(studio::http::health))
}

/// Liveness and database reachability of the agents function.
const HEALTH: studio::openapi::HealthRoute = studio::openapi::HealthRoute {
    path: "/api/v1/agents/health",
    operation_id: "agentsHealth",
    tag: "knowledge base",
    summary: "Liveness and database reachability of the agents function.",
};

/// Liveness and database reachability of the streaming function (its own Lambda, on a Function URL).
const STREAM_HEALTH: studio::openapi::HealthRoute = studio::openapi::HealthRoute {
    path: "/api/v1/agents/stream/health",
    operation_id: "agentsStreamHealth",
    tag: "agent",
    summary: "Liveness and database reachability of the streaming function (its own Lambda, on a Function URL).",
};

#[derive(OpenApi)]
#[openapi(
    paths(stream::stream, knowledge::ingest, knowledge::ingestion, knowledge::documents, knowledge::document, knowledge::update_document, knowledge::delete_document, knowledge::search, uploads::upload, sources::create, sources::list, sources::get, sources::update, sources::sync, sources::delete, chat::run, chat::conversations, chat::conversation, chat::rename_conversation, chat::delete_conversation, chat::feedback, chat::list_feedback, chat::escalate, inbox::list, inbox::reply, inbox::set_status, visitors::export, visitors::erase),
    components(schemas(stream::SseEvent, IngestRequest, DocumentInput, SearchRequest, UpdateDocumentRequest, UploadFileRequest, studio::services::uploads::UploadGranted, sources::CreateSourceRequest, sources::UpdateSourceRequest, sources::SourceList, studio::services::sources::SourceView, studio::services::sources::SourceDetail, studio::services::sources::PageView, studio::services::sources::CrawlProgress, studio::services::sources::SourceKind, studio::services::sources::SyncEvery, studio::services::knowledge::FileView, studio::services::knowledge::IngestAccepted, studio::services::knowledge::IngestionStatus, studio::services::knowledge::DocumentView, studio::knowledge::SearchHit, RunRequest, studio::services::chat::ChatReply, studio::services::chat::ConversationSummary, studio::services::chat::ConversationView, RenameRequest, FeedbackRequest, EscalateRequest, studio::services::chat::EscalationView, studio::services::chat::FeedbackView, studio::services::chat::StartedBy, studio::agent::ConversationStatus, inbox::HumanReplyRequest, inbox::StatusRequest, studio::services::chat::inbox::HumanReply, studio::services::chat::MessageView, studio::services::chat::visitors::VisitorExport, studio::services::chat::visitors::VisitorView)),
    tags((name = "knowledge base", description = "Documents the agent answers from"), (name = "agent", description = "The customer-service agent and its conversations")),
    modifiers(&HEALTH, &STREAM_HEALTH)
)]
pub struct ApiDoc;
