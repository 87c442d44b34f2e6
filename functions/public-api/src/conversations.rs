//! A visitor's conversations: listed, read after a cursor (so the widget can poll for a person's
//! replies cheaply), handed to a person, rated once resolved.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use studio::ApiError;
use studio::auth::visitor::VisitorSession;
use studio::error::ErrorBody;
use studio::http::{OptionalJson, Path, Query, ValidJson};
use studio::paging::{Page, PageParams};
use studio::services::public::chat::{self, PublicConversation, PublicConversationView};
use studio::state::KnowledgeState;
use studio::text::free_text;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use validator::Validate;

#[derive(Deserialize)]
pub(crate) struct ConversationPath {
    #[serde(rename = "conversationId")]
    conversation_id: Uuid,
}

#[derive(Deserialize, Validate, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AfterQuery {
    /// Only the messages after this one (the last the widget has): poll with it for new replies.
    pub after: Option<Uuid>,
}

#[derive(Deserialize, Validate, ToSchema, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HandoffRequest {
    /// Where a person's reply should be mailed if the visitor is gone by then.
    #[validate(custom(function = "studio::text::email::new_address"))]
    pub email: Option<String>,
}

#[derive(Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RatingRequest {
    /// 1 (very unhappy) to 5 (very happy).
    #[validate(range(min = 1, max = 5, message = "must be from 1 to 5"))]
    pub score: u8,
    #[validate(
        length(max = 2000, message = "must be at most 2000 characters"),
        custom(function = "free_text")
    )]
    pub comment: Option<String>,
}

/// The visitor's conversations, most recent activity first.
#[utoipa::path(operation_id = "listVisitorConversations", get, path = "/api/v1/public/conversations", tag = "public", security(("visitorSession" = [])),
    params(PageParams),
    responses((status = 200, body = Page<PublicConversation>),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub(crate) async fn list(
    State(state): State<KnowledgeState>,
    session: VisitorSession,
    Query(page): Query<PageParams>,
) -> Result<Json<Page<PublicConversation>>, ApiError> {
    Ok(Json(chat::conversations(&state, &session, &page).await?))
}

/// One of the visitor's conversations, its status, and its messages (the visitor's, the agent's and the
/// team's) after `after` — all of them without it, 200 at most per read.
#[utoipa::path(operation_id = "getVisitorConversation", get, path = "/api/v1/public/conversations/{conversationId}", tag = "public", security(("visitorSession" = [])),
    params(("conversationId" = Uuid, Path), AfterQuery),
    responses((status = 200, body = PublicConversationView),
        (status = 400, description = "after is not a message of this conversation", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, description = "not one of this visitor's conversations", body = ErrorBody)))]
pub(crate) async fn get(
    State(state): State<KnowledgeState>,
    session: VisitorSession,
    Path(path): Path<ConversationPath>,
    Query(q): Query<AfterQuery>,
) -> Result<Json<PublicConversationView>, ApiError> {
    Ok(Json(
        chat::conversation(&state, &session, path.conversation_id, q.after).await?,
    ))
}

/// The visitor asks for a person: the conversation waits for the team (the agent stops answering), and
/// the workspace's escalation contact is mailed once. With `email`, a person's reply is also mailed
/// there (ask again with it when `offerEmail` says the wait is long).
#[utoipa::path(operation_id = "visitorHandoff", post, path = "/api/v1/public/conversations/{conversationId}/handoff", tag = "public", security(("visitorSession" = [])),
    params(("conversationId" = Uuid, Path)), request_body(content = Option<HandoffRequest>, description = "Optional: the body may be left out"),
    responses((status = 200, body = PublicConversation),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, description = "not one of this visitor's conversations", body = ErrorBody),
        (status = 409, description = "the workspace does not hand conversations to people", body = ErrorBody)))]
pub(crate) async fn handoff(
    State(state): State<KnowledgeState>,
    session: VisitorSession,
    Path(path): Path<ConversationPath>,
    OptionalJson(req): OptionalJson<HandoffRequest>,
) -> Result<Json<PublicConversation>, ApiError> {
    Ok(Json(
        chat::handoff(
            &state,
            &session,
            path.conversation_id,
            req.email.as_deref().map(str::trim),
        )
        .await?,
    ))
}

/// The visitor's CSAT rating (1–5) of a resolved conversation; rating again replaces it.
#[utoipa::path(operation_id = "rateVisitorConversation", post, path = "/api/v1/public/conversations/{conversationId}/rating", tag = "public", security(("visitorSession" = [])),
    params(("conversationId" = Uuid, Path)), request_body = RatingRequest,
    responses((status = 204),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, description = "not one of this visitor's conversations", body = ErrorBody),
        (status = 409, description = "the conversation is not resolved", body = ErrorBody)))]
pub(crate) async fn rating(
    State(state): State<KnowledgeState>,
    session: VisitorSession,
    Path(path): Path<ConversationPath>,
    ValidJson(req): ValidJson<RatingRequest>,
) -> Result<StatusCode, ApiError> {
    chat::rate(
        &state,
        &session,
        path.conversation_id,
        req.score,
        req.comment.as_deref(),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
