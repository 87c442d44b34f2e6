//! A visitor's turn as server-sent events (served by the streaming function).

use axum::extract::State;
use axum::response::Response;
use studio::ApiError;
use studio::agent::requests::RunRequest;
use studio::error::ErrorBody;
use studio::http::public::VisitorTurn;
use studio::services::chat;
use studio::services::public::chat::{self as public, Turn};
use studio::state::KnowledgeState;

/// The visitor's turn as server-sent events, at the session's `streamUrl`: `sources`, `delta`s, then
/// `done` (`{convId, messageId, usage}`) or `error` — as the member stream. While a person has the
/// conversation: `status` (`{status, convId, messageId}`: the message was kept for the team), then `done`.
#[utoipa::path(operation_id = "streamVisitorMessage", post, path = "/api/v1/public/stream", tag = "public", security(("visitorSession" = [])),
    request_body = RunRequest,
    responses(
        (status = 200, description = "text/event-stream: sources, delta..., done | error; or status, done", content_type = "text/event-stream", body = String),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 402, description = "quota_exceeded", body = ErrorBody),
        (status = 403, description = "origin_not_allowed; agent_disabled", body = ErrorBody),
        (status = 404, description = "not one of this visitor's conversations", body = ErrorBody),
        (status = 429, body = ErrorBody)))]
pub(crate) async fn stream(
    State(state): State<KnowledgeState>,
    turn: VisitorTurn,
) -> Result<Response, ApiError> {
    let rx = match public::begin(&state, &turn.session, &turn.message, turn.conversation).await? {
        Turn::Kept(kept) => chat::kept(kept.status, kept.conv_id, kept.message_id),
        Turn::Agent(turn) => chat::stream(state, *turn),
    };
    Ok(studio::http::sse::events(rx))
}
