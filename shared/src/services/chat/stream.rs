//! A turn streamed as it is written (server-sent events on the stream function).

use super::Source;
use super::turn::{PreparedTurn, save};
use crate::agent::TokenUsage;
use crate::error::ApiError;
use crate::knowledge::llm::{LlmError, Piece};
use crate::state::KnowledgeState;
use serde::Serialize;
use uuid::Uuid;

/// What a streamed turn sends, in order: `sources`, then `delta`s, then `done` — or `error`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum StreamEvent {
    Sources(Vec<Source>),
    Delta {
        text: String,
    },
    Done {
        #[serde(rename = "convId")]
        conv_id: Uuid,
        #[serde(rename = "messageId")]
        message_id: Uuid,
        usage: TokenUsage,
    },
    /// A person has (or was just asked for) the conversation: the visitor's message is kept, and no
    /// answer follows (the public stream only; then `done`).
    Status {
        status: crate::agent::ConversationStatus,
        #[serde(rename = "convId")]
        conv_id: Uuid,
        #[serde(rename = "messageId")]
        message_id: Uuid,
    },
    Error {
        code: crate::ErrorCode,
        message: String,
        /// The request's id, as in every error body: quote it when reporting a problem.
        #[serde(rename = "requestId")]
        request_id: Option<String>,
    },
}

impl StreamEvent {
    pub fn name(&self) -> &'static str {
        match self {
            StreamEvent::Sources(_) => "sources",
            StreamEvent::Delta { .. } => "delta",
            StreamEvent::Done { .. } => "done",
            StreamEvent::Status { .. } => "status",
            StreamEvent::Error { .. } => "error",
        }
    }
}

/// The events of a turn kept for a person: `status`, then `done` (with no tokens used).
pub fn kept(
    status: crate::agent::ConversationStatus,
    conv_id: Uuid,
    message_id: Uuid,
) -> tokio::sync::mpsc::Receiver<StreamEvent> {
    let (tx, rx) = tokio::sync::mpsc::channel(2);
    for event in [
        StreamEvent::Status {
            status,
            conv_id,
            message_id,
        },
        StreamEvent::Done {
            conv_id,
            message_id,
            usage: TokenUsage::default(),
        },
    ] {
        // The channel holds both; the receiver is still here.
        let _ = tx.try_send(event);
    }
    rx
}

/// Streams a prepared turn: the answer is saved only when it is complete; if the model fails midway, or
/// the client goes away, nothing is written.
pub fn stream(
    state: KnowledgeState,
    turn: PreparedTurn,
) -> tokio::sync::mpsc::Receiver<StreamEvent> {
    use futures::StreamExt;
    let (tx, rx) = tokio::sync::mpsc::channel(64);
    tokio::spawn(crate::telemetry::request_id::propagate(async move {
        if tx
            .send(StreamEvent::Sources(turn.sources.clone()))
            .await
            .is_err()
        {
            return;
        }
        // Every error that ends the stream is logged (a server error with its cause chain) and carries the
        // request id to the client, exactly as an error answer would.
        let fail = |e: ApiError| {
            let request_id = crate::telemetry::request_id::current();
            e.log(request_id.as_deref());
            StreamEvent::Error {
                code: e.code,
                message: e.message,
                request_id,
            }
        };
        let mut pieces = match state
            .llm
            .stream(&turn.messages, &turn.context, &turn.language)
            .await
        {
            Ok(p) => p,
            Err(e) => {
                let _ = tx.send(fail(e.into())).await;
                return;
            }
        };
        let mut text = String::new();
        let mut usage = TokenUsage::default();
        while let Some(piece) = pieces.next().await {
            match piece {
                Ok(Piece::Text(t)) => {
                    text.push_str(&t);
                    if tx.send(StreamEvent::Delta { text: t }).await.is_err() {
                        tracing::info!(workspace_id = %turn.workspace, "client left mid-stream; nothing saved");
                        return;
                    }
                }
                Ok(Piece::Usage(used)) => usage = used,
                Err(e) => {
                    let _ = tx.send(fail(e.into())).await;
                    return;
                }
            }
        }
        if text.trim().is_empty() {
            let _ = tx.send(fail(LlmError::NoText.into())).await;
            return;
        }
        let event = match save(&state, &turn, text, usage, None).await {
            Ok(reply) => StreamEvent::Done {
                conv_id: reply.conv_id,
                message_id: reply.message_id,
                usage: reply.usage,
            },
            Err(e) => fail(e),
        };
        let _ = tx.send(event).await;
    }));
    rx
}
