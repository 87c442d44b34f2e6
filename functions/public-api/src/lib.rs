//! `/api/v1/public/*`: the tenant's customers (visitors) chatting with its agent from the tenant's own
//! site — through the embeddable widget or the tenant's own front end. Every route answers only pages on
//! the key's allowed origins (CORS per key, see `studio::http::public`).
//!
//! [`sessions`] opens a visitor session with the publishable key; [`messages`] is a turn and feedback on
//! an answer; [`conversations`] lists the visitor's conversations, reads one after a cursor, asks for a
//! person and rates a resolved one. The streamed turn ([`stream`]) is served by the streaming function,
//! from [`stream_routes`]. The embeddable widget's script files (`/widget/v1/*`, [`widget`]) are served here
//! too: the loader a tenant's page includes and the bundle it loads.

mod conversations;
mod messages;
mod sessions;
mod stream;
pub mod widget;

pub use conversations::{HandoffRequest, RatingRequest};
pub use sessions::SessionRequest;

use axum::Router;
use axum::routing::{get, post};
use studio::state::KnowledgeState;
use utoipa::OpenApi;

pub fn routes() -> Router<KnowledgeState> {
    Router::new()
        .route(HEALTH.path, get(studio::http::health))
        .route("/api/v1/public/sessions", post(sessions::open))
        .route("/api/v1/public/messages", post(messages::message))
        .route(
            "/api/v1/public/messages/{messageId}/feedback",
            post(messages::feedback),
        )
        .route("/api/v1/public/conversations", get(conversations::list))
        .route(
            "/api/v1/public/conversations/{conversationId}",
            get(conversations::get),
        )
        .route(
            "/api/v1/public/conversations/{conversationId}/handoff",
            post(conversations::handoff),
        )
        .route(
            "/api/v1/public/conversations/{conversationId}/rating",
            post(conversations::rating),
        )
        .merge(widget_routes())
}

/// The embeddable widget's loader and bundle (`/widget/v1/*`, see [`widget`]), without state.
fn widget_routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route(widget::LOADER_PATH, get(widget::loader))
        .route("/widget/v1/{file}", get(widget::bundle))
}

/// The public streamed turn, served by the streaming function (a Function URL in response-streaming
/// mode) beside the member stream, and by the devserver on the same port as the rest.
pub fn stream_routes() -> Router<KnowledgeState> {
    Router::new().route("/api/v1/public/stream", post(stream::stream))
}

/// Liveness and database reachability of the public function.
const HEALTH: studio::openapi::HealthRoute = studio::openapi::HealthRoute {
    path: "/api/v1/public/health",
    operation_id: "publicHealth",
    tag: "public",
    summary: "Liveness and database reachability of the public function.",
};

#[derive(OpenApi)]
#[openapi(
    paths(sessions::open, messages::message, stream::stream, messages::feedback, conversations::list, conversations::get, conversations::handoff, conversations::rating, widget::loader, widget::bundle),
    components(schemas(SessionRequest, studio::services::public::sessions::OpenedSession, studio::services::public::sessions::SessionAgent, studio::services::public::chat::PublicReply, studio::services::public::chat::PublicConversation, studio::services::public::chat::PublicConversationView, HandoffRequest, RatingRequest)),
    tags((name = "public", description = "A tenant's customers on the tenant's own site: visitor sessions, the chat, a person when needed"),
        (name = "widget", description = "The embeddable chat widget: the loader a tenant's page includes and the content-hashed bundle it loads")),
    modifiers(&HEALTH)
)]
pub struct ApiDoc;
