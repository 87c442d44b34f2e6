//! The streamed turn: the same turn as `/run`, as server-sent events (its own Lambda, in
//! response-streaming mode).

use crate::chat::RunRequest;
use axum::extract::State;
use axum::response::Response;
use studio::ApiError;
use studio::auth::{Chat, MemberRole, Tenant};
use studio::error::ErrorBody;
use studio::http::ValidJson;
use studio::openapi::answers;
use studio::services::chat;
use studio::state::KnowledgeState;
use utoipa::ToSchema;

/// The same turn as `/run`, as server-sent events: `sources` (`[{documentId, title, score}]`) first, then
/// `delta` (`{text}`) events, then `done` (`{convId, messageId, usage}`) — or `error` (`{code, message,
/// requestId}`) if the model fails midway or the turn cannot be saved, in which case nothing is saved.
#[utoipa::path(operation_id = "streamCustomerServiceAgent", post, path = "/api/v1/agents/customer-service/stream", tag = "agent", security(("bearer" = []), ("secretKey" = ["chat"])),
    request_body = RunRequest,
    responses(
        (status = 200, description = "text/event-stream: sources, delta..., done | error", content_type = "text/event-stream", body = SseEvent),
        (status = 402, description = "quota_exceeded: the plan's limit is reached", body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, description = "unknown conversation", body = ErrorBody), answers::SignedInput))]
pub(crate) async fn stream(
    State(state): State<KnowledgeState>,
    tenant: Tenant<MemberRole, Chat>,
    ValidJson(req): ValidJson<RunRequest>,
) -> Result<Response, ApiError> {
    let turn = chat::prepare(&state, &tenant, req.message.trim(), req.conv_id).await?;
    Ok(studio::http::sse::events(chat::stream(state, turn)))
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
