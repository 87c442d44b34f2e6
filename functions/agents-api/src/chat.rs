//! The agent's routes: a turn (`/run`), the workspace's conversations, feedback on answers, and handing a
//! conversation to a person.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use studio::ApiError;
pub use studio::agent::requests::{FeedbackRequest, RunRequest};
use studio::auth::{Chat, MemberRole, OrRead, Tenant, Viewer};
use studio::error::ErrorBody;
use studio::http::{OptionalJson, Path, Query, ValidJson};
use studio::openapi::answers;
use studio::paging::{Page, PageParams};
use studio::services::chat::{self, ChatReply, ConversationSummary, ConversationView};
use studio::services::idempotency::IdempotencyKey;
use studio::state::KnowledgeState;
use studio::text::{free_text, single_line};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use validator::Validate;

#[derive(Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RenameRequest {
    #[validate(
        length(min = 1, max = 200, message = "must be 1 to 200 characters"),
        custom(function = "single_line")
    )]
    pub title: String,
}

#[derive(Deserialize, Validate, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct FeedbackQuery {
    /// Only ratings of this kind: up or down.
    #[validate(custom(function = "studio::agent::requests::known_rating"))]
    pub rating: Option<String>,
    /// Items per page, 1–100 (default 20).
    #[validate(range(min = 1, max = 100, message = "must be between 1 and 100"))]
    pub limit: Option<u32>,
    /// The `nextCursor` of the previous page.
    pub cursor: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct ConversationPath {
    #[serde(rename = "conversationId")]
    pub(crate) conversation_id: Uuid,
}

#[derive(Deserialize)]
pub(crate) struct MessagePath {
    #[serde(rename = "messageId")]
    pub(crate) message_id: Uuid,
}

/// One turn with the customer-service agent (member or higher): retrieval from the workspace's knowledge
/// base, the LLM's answer with its sources, both messages saved. An `Idempotency-Key` makes a retry return
/// the first answer without a second LLM call.
#[utoipa::path(operation_id = "runCustomerServiceAgent", post, path = "/api/v1/agents/customer-service/run", tag = "agent", security(("bearer" = []), ("secretKey" = ["chat"])),
    request_body = RunRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Retries with the same key return the first answer")),
    responses(
        (status = 200, body = ChatReply),
        (status = 402, description = "quota_exceeded: the plan's limit is reached", body = ErrorBody),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, description = "unknown conversation", body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 503, description = "llm_unavailable or service_unavailable; nothing was saved", body = ErrorBody)))]
pub(crate) async fn run(
    State(state): State<KnowledgeState>,
    tenant: Tenant<MemberRole, Chat>,
    headers: HeaderMap,
    ValidJson(req): ValidJson<RunRequest>,
) -> Result<Json<ChatReply>, ApiError> {
    let key = IdempotencyKey::from_request(&headers, &req)?;
    Ok(Json(
        chat::run(&state, &tenant, req.message.trim(), req.conv_id, key).await?,
    ))
}

/// The workspace's conversations, most recent activity first.
#[utoipa::path(operation_id = "listConversations", get, path = "/api/v1/agents/conversations", tag = "agent", security(("bearer" = []), ("secretKey" = ["chat", "read"])),
    params(PageParams),
    responses((status = 200, body = Page<ConversationSummary>), answers::SignedInput))]
pub(crate) async fn conversations(
    State(state): State<KnowledgeState>,
    tenant: Tenant<Viewer, OrRead<Chat>>,
    Query(page): Query<PageParams>,
) -> Result<Json<Page<ConversationSummary>>, ApiError> {
    Ok(Json(chat::list(&state, &tenant, &page).await?))
}

/// A conversation with its messages.
#[utoipa::path(operation_id = "getConversation", get, path = "/api/v1/agents/conversations/{conversationId}", tag = "agent", security(("bearer" = []), ("secretKey" = ["chat", "read"])),
    params(("conversationId" = Uuid, Path)),
    responses((status = 200, body = ConversationView), (status = 404, body = ErrorBody), answers::SignedInput))]
pub(crate) async fn conversation(
    State(state): State<KnowledgeState>,
    tenant: Tenant<Viewer, OrRead<Chat>>,
    Path(path): Path<ConversationPath>,
) -> Result<Json<ConversationView>, ApiError> {
    Ok(Json(
        chat::get(&state, &tenant, path.conversation_id).await?,
    ))
}

/// Renames a conversation (member or higher).
#[utoipa::path(operation_id = "renameConversation", patch, path = "/api/v1/agents/conversations/{conversationId}", tag = "agent", security(("bearer" = []), ("secretKey" = ["chat"])),
    params(("conversationId" = Uuid, Path)), request_body = RenameRequest,
    responses((status = 200, body = ConversationSummary), answers::WorkspaceInput))]
pub(crate) async fn rename_conversation(
    State(state): State<KnowledgeState>,
    tenant: Tenant<MemberRole, Chat>,
    Path(path): Path<ConversationPath>,
    ValidJson(req): ValidJson<RenameRequest>,
) -> Result<Json<ConversationSummary>, ApiError> {
    Ok(Json(
        chat::rename(&state, &tenant, path.conversation_id, req.title.trim()).await?,
    ))
}

/// Deletes a conversation (soft; member or higher).
#[utoipa::path(operation_id = "deleteConversation", delete, path = "/api/v1/agents/conversations/{conversationId}", tag = "agent", security(("bearer" = []), ("secretKey" = ["chat"])),
    params(("conversationId" = Uuid, Path)),
    responses((status = 204), answers::WorkspaceInput))]
pub(crate) async fn delete_conversation(
    State(state): State<KnowledgeState>,
    tenant: Tenant<MemberRole, Chat>,
    Path(path): Path<ConversationPath>,
) -> Result<StatusCode, ApiError> {
    chat::delete(&state, &tenant, path.conversation_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Rates an assistant message (member or higher); rating again replaces the earlier rating.
#[utoipa::path(operation_id = "messageFeedback", post, path = "/api/v1/agents/messages/{messageId}/feedback", tag = "agent", security(("bearer" = []), ("secretKey" = ["chat"])),
    params(("messageId" = Uuid, Path)), request_body = FeedbackRequest,
    responses((status = 204), answers::WorkspaceInput))]
pub(crate) async fn feedback(
    State(state): State<KnowledgeState>,
    tenant: Tenant<MemberRole, Chat>,
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
#[utoipa::path(operation_id = "listFeedback", get, path = "/api/v1/agents/feedback", tag = "agent", security(("bearer" = []), ("secretKey" = ["chat", "read"])),
    params(FeedbackQuery),
    responses((status = 200, body = Page<studio::services::chat::FeedbackView>), answers::SignedInput))]
pub(crate) async fn list_feedback(
    State(state): State<KnowledgeState>,
    tenant: Tenant<Viewer, OrRead<Chat>>,
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
#[utoipa::path(operation_id = "escalateConversation", post, path = "/api/v1/agents/conversations/{conversationId}/escalate", tag = "agent", security(("bearer" = []), ("secretKey" = ["chat"])),
    params(("conversationId" = Uuid, Path)), request_body(content = Option<EscalateRequest>, description = "Optional: the body may be left out"),
    responses((status = 202, description = "escalated; the mail is on its way", body = studio::services::chat::EscalationView),
        (status = 200, description = "escalated before; nothing sent", body = studio::services::chat::EscalationView),
        (status = 409, description = "no escalation contact, or escalation turned off", body = ErrorBody),
        (status = 429, body = ErrorBody), answers::WorkspaceInput))]
pub(crate) async fn escalate(
    State(state): State<KnowledgeState>,
    tenant: Tenant<MemberRole, Chat>,
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
