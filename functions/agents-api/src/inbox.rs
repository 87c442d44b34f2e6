//! The team's inbox of visitors' conversations: listed by status, answered by a person, moved along the
//! handoff state machine (bot → waiting_for_human → human → resolved, and back to bot).

use crate::chat::ConversationPath;
use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use studio::ApiError;
use studio::agent::ConversationStatus;
use studio::auth::{Chat, MemberRole, OrRead, Tenant, Viewer};
use studio::error::ErrorBody;
use studio::http::{Path, Query, ValidJson};
use studio::openapi::answers;
use studio::paging::{Page, PageParams};
use studio::services::chat::ConversationSummary;
use studio::services::chat::inbox::{self, HumanReply};
use studio::state::KnowledgeState;
use studio::text::free_text_not_blank;
use utoipa::{IntoParams, ToSchema};
use validator::{Validate, ValidationError};

fn known_status(value: &str) -> Result<(), ValidationError> {
    if ConversationStatus::parse(value).is_some() {
        Ok(())
    } else {
        Err(ValidationError::new("status")
            .with_message("must be one of bot, waiting_for_human, human, resolved".into()))
    }
}

#[derive(Deserialize, Validate, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct InboxQuery {
    /// Conversations in this status: bot, waiting_for_human (the default), human or resolved.
    #[validate(custom(function = "known_status"))]
    pub status: Option<String>,
    /// Items per page, 1–100 (default 20).
    #[validate(range(min = 1, max = 100, message = "must be between 1 and 100"))]
    pub limit: Option<u32>,
    /// The `nextCursor` of the previous page.
    pub cursor: Option<String>,
}

#[derive(Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HumanReplyRequest {
    #[validate(
        length(min = 1, max = 4000, message = "must be 1 to 4000 characters"),
        custom(function = "free_text_not_blank")
    )]
    pub message: String,
}

#[derive(Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct StatusRequest {
    /// bot (hand it back to the agent), human (take it), waiting_for_human, or resolved
    #[validate(custom(function = "known_status"))]
    pub status: String,
}

/// The inbox (viewer or higher): the workspace's visitor conversations in one status, the longest
/// unchanged first — by default those waiting for a person, oldest waiting first.
#[utoipa::path(operation_id = "listInbox", get, path = "/api/v1/agents/inbox", tag = "agent", security(("bearer" = []), ("secretKey" = ["chat", "read"])),
    params(InboxQuery),
    responses((status = 200, body = Page<ConversationSummary>), answers::SignedInput))]
pub(crate) async fn list(
    State(state): State<KnowledgeState>,
    tenant: Tenant<Viewer, OrRead<Chat>>,
    Query(q): Query<InboxQuery>,
) -> Result<Json<Page<ConversationSummary>>, ApiError> {
    let status = q
        .status
        .as_deref()
        .and_then(ConversationStatus::parse)
        .unwrap_or(ConversationStatus::WaitingForHuman);
    let page = PageParams {
        limit: q.limit,
        cursor: q.cursor,
    };
    Ok(Json(inbox::inbox(&state, &tenant, status, &page).await?))
}

/// A person's reply in a visitor's conversation (member or higher, signed in): the conversation becomes
/// `human` — the agent stays silent until it is handed back — the visitor sees the reply after their
/// cursor, and gets it by mail when they left an address.
#[utoipa::path(operation_id = "replyAsPerson", post, path = "/api/v1/agents/conversations/{conversationId}/messages", tag = "agent", security(("bearer" = [])),
    params(("conversationId" = uuid::Uuid, Path)), request_body = HumanReplyRequest,
    responses((status = 201, body = HumanReply),
        (status = 409, description = "a member's own conversation, not a visitor's", body = ErrorBody),
        answers::WorkspaceInput))]
pub(crate) async fn reply(
    State(state): State<KnowledgeState>,
    tenant: Tenant<MemberRole>,
    Path(path): Path<ConversationPath>,
    ValidJson(req): ValidJson<HumanReplyRequest>,
) -> Result<(axum::http::StatusCode, Json<HumanReply>), ApiError> {
    let out = inbox::reply(&state, &tenant, path.conversation_id, req.message.trim()).await?;
    Ok((axum::http::StatusCode::CREATED, Json(out)))
}

/// Moves a visitor's conversation (member or higher): `human` takes it, `bot` hands it back to the agent,
/// `resolved` closes it (the visitor may then rate it). A move the handoff state machine does not have
/// (e.g. resolved → waiting_for_human) is a 409.
#[utoipa::path(operation_id = "setConversationStatus", post, path = "/api/v1/agents/conversations/{conversationId}/status", tag = "agent", security(("bearer" = []), ("secretKey" = ["chat"])),
    params(("conversationId" = uuid::Uuid, Path)), request_body = StatusRequest,
    responses((status = 200, body = ConversationSummary),
        (status = 409, description = "not a visitor's conversation, or a move the state machine does not have", body = ErrorBody),
        answers::WorkspaceInput))]
pub(crate) async fn set_status(
    State(state): State<KnowledgeState>,
    tenant: Tenant<MemberRole, Chat>,
    Path(path): Path<ConversationPath>,
    ValidJson(req): ValidJson<StatusRequest>,
) -> Result<Json<ConversationSummary>, ApiError> {
    let to = ConversationStatus::parse(&req.status).ok_or_else(|| {
        ApiError::field(
            "status",
            "must be one of bot, waiting_for_human, human, resolved",
        )
    })?;
    Ok(Json(
        inbox::set_status(&state, &tenant, path.conversation_id, to).await?,
    ))
}
