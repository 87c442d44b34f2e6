//! A chat turn with the customer-service agent (RAG), and the conversations it builds.
//!
//! The question is embedded and searched in the workspace's vectors; the prompt is the old system's
//! (company, context, instructions, history trimmed to a token budget); the LLM answers; then the user's
//! and the assistant's messages are saved in one transaction. If the LLM fails, nothing is written.
//!
//! [`turn`] prepares, answers and saves a turn; [`stream`] sends one as it is written; [`conversations`]
//! lists, reads, renames and deletes them and takes feedback; [`escalation`] hands one to a person.

mod conversations;
mod escalation;
pub mod inbox;
mod stream;
mod turn;
pub mod visitors;

pub use crate::agent::TokenUsage;
pub use conversations::{
    ConversationSummary, ConversationView, FeedbackView, MessageView, StartedBy, delete, feedback,
    get, list, list_feedback, rename,
};
pub(crate) use conversations::{message_view, summary};
pub(crate) use escalation::hand_over;
pub use escalation::{EscalationView, escalate};
pub use stream::{StreamEvent, kept, stream};
pub(crate) use turn::{Prepared, answer, owned_by, prepare_for};
pub use turn::{PreparedTurn, prepare, run};

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Source {
    pub document_id: Uuid,
    pub title: String,
    pub score: f32,
    /// The document's `sourceUrl`, when it has one and it is an `http` or `https` URL (left out
    /// otherwise): where a reader can see the source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Where in the document the best of its passages is: the headings it sits under
    /// (`Returns › Refunds`), when the document has them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub section: Option<String>,
    /// The page the best of its passages is on, when the document is a PDF.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page: Option<u32>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChatReply {
    pub reply: String,
    pub conv_id: Uuid,
    pub message_id: Uuid,
    pub sources: Vec<Source>,
    pub usage: TokenUsage,
}
