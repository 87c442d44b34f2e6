//! A visitor's turn, and their feedback on an answer.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use studio::ApiError;
use studio::agent::requests::{FeedbackRequest, RunRequest};
use studio::auth::visitor::VisitorSession;
use studio::error::ErrorBody;
use studio::http::public::VisitorTurn;
use studio::http::{Path, ValidJson};
use studio::services::public::chat::{self, PublicReply};
use studio::state::KnowledgeState;
use uuid::Uuid;

#[derive(Deserialize)]
pub(crate) struct MessagePath {
    #[serde(rename = "messageId")]
    message_id: Uuid,
}

/// A visitor's turn: the same turn as the member `/run` (retrieval, the agent's answer with its sources),
/// in a new conversation or one of the visitor's own. While a person has the conversation (`status`
/// `waiting_for_human` or `human`) the agent is not asked: the message is kept for the team and `reply`
/// is null.
#[utoipa::path(operation_id = "sendVisitorMessage", post, path = "/api/v1/public/messages", tag = "public", security(("visitorSession" = [])),
    request_body = RunRequest,
    responses(
        (status = 200, body = PublicReply),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 402, description = "quota_exceeded: the workspace's plan limit is reached", body = ErrorBody),
        (status = 403, description = "origin_not_allowed; agent_disabled; workspace_suspended", body = ErrorBody),
        (status = 404, description = "not one of this visitor's conversations", body = ErrorBody),
        (status = 429, body = ErrorBody),
        (status = 503, description = "llm_unavailable or service_unavailable; nothing was saved", body = ErrorBody)))]
pub(crate) async fn message(
    State(state): State<KnowledgeState>,
    turn: VisitorTurn,
) -> Result<Json<PublicReply>, ApiError> {
    Ok(Json(
        chat::message(&state, &turn.session, &turn.message, turn.conversation).await?,
    ))
}

/// The visitor rates one of the agent's answers in their own conversation (rating again replaces it).
#[utoipa::path(operation_id = "visitorFeedback", post, path = "/api/v1/public/messages/{messageId}/feedback", tag = "public", security(("visitorSession" = [])),
    params(("messageId" = Uuid, Path)), request_body = FeedbackRequest,
    responses((status = 204),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, description = "not an answer in this visitor's conversations", body = ErrorBody)))]
pub(crate) async fn feedback(
    State(state): State<KnowledgeState>,
    session: VisitorSession,
    Path(path): Path<MessagePath>,
    ValidJson(req): ValidJson<FeedbackRequest>,
) -> Result<StatusCode, ApiError> {
    chat::feedback(
        &state,
        &session,
        path.message_id,
        &req.rating,
        req.comment.as_deref(),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
