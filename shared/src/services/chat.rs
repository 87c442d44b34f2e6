//! A chat turn with the customer-service agent (RAG), and the conversations it builds.
//!
//! The question is embedded and searched in the workspace's vectors; the prompt is the old system's
//! (company, context, instructions, history trimmed to a token budget); the LLM answers; then the user's
//! and the assistant's messages are saved in one transaction. If the LLM fails, nothing is written.

use crate::agent::prompt::{self, ContextChunk, Turn};
use crate::auth::{MemberRole, Tenant, Viewer};
use crate::error::ApiError;
use crate::knowledge::chunking::count_tokens;
use crate::knowledge::llm::PromptMessage;
use crate::paging::{Cursor, Page, PageParams};
use crate::repo::conversations;
use crate::services::agent_config;
use crate::services::idempotency::{self, IdempotencyKey, Recorded, Scope};
use crate::state::KnowledgeState;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// Messages of history read for a turn, at most.
const MAX_HISTORY_MESSAGES: i64 = 50;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Source {
    pub document_id: Uuid,
    pub title: String,
    pub score: f32,
}

/// The tokens one chat turn used (named `TokenUsage` in the API document: `Usage` is the billing view's).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = TokenUsage)]
pub struct Usage {
    pub prompt_tokens: u32,
    pub completion_tokens: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChatReply {
    pub reply: String,
    pub conv_id: Uuid,
    pub message_id: Uuid,
    pub sources: Vec<Source>,
    pub usage: Usage,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConversationSummary {
    pub id: Uuid,
    pub title: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// When the conversation was handed to a person; null when never.
    pub escalated_at: Option<DateTime<Utc>>,
    pub started_by: StartedBy,
}

/// Who started a conversation.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StartedBy {
    /// The member who started it (null once that account is deleted).
    pub user_id: Option<Uuid>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MessageView {
    pub id: Uuid,
    /// user or assistant
    pub role: String,
    pub content: String,
    pub created_at: DateTime<Utc>,
    /// The knowledge-base sources of an assistant message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sources: Option<Vec<Source>>,
    /// The rating an assistant message was given: up, down, or null.
    pub rating: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConversationView {
    #[serde(flatten)]
    pub conversation: ConversationSummary,
    pub messages: Vec<MessageView>,
}

fn summary(r: conversations::ConversationRow) -> ConversationSummary {
    ConversationSummary {
        id: r.id,
        title: r.title,
        created_at: r.created_at,
        updated_at: r.updated_at,
        escalated_at: r.escalated_at,
        started_by: StartedBy { user_id: r.user_id },
    }
}

/// Everything a turn needs before the model answers: checked, retrieved and prompted.
#[derive(Debug, Clone)]
pub struct PreparedTurn {
    workspace: crate::ids::WorkspaceId,
    user_id: Uuid,
    conv_id: Option<Uuid>,
    message: String,
    messages: Vec<PromptMessage>,
    context: Vec<ContextChunk>,
    sources: Vec<Source>,
}

impl PreparedTurn {
    pub fn sources(&self) -> &[Source] {
        &self.sources
    }
}

/// Loads the agent's configuration and the history, retrieves context from the caller's workspace and
/// builds the prompt. Fails with a proper HTTP error (404 conversation, 503 dependency) before any answer.
pub async fn prepare(
    state: &KnowledgeState,
    tenant: &Tenant<MemberRole>,
    message: &str,
    conv_id: Option<Uuid>,
) -> Result<PreparedTurn, ApiError> {
    let ws = tenant.workspace_id;
    let cfg = &state.app.config.knowledge;
    let client = state.app.db.get().await?;
    crate::billing::check_quota(&**client, ws, crate::billing::Consumption::ChatTurn).await?;
    let agent = agent_config::load(&**client, ws).await?.config;
    if !agent.subsystems.customer_service {
        return Err(ApiError::new(
            crate::ErrorCode::AgentDisabled,
            "The customer-service agent is turned off for this workspace: an admin can turn on subsystems.customerService in the intake.",
        ));
    }
    let history: Vec<Turn> = match conv_id {
        Some(id) => {
            conversations::get(&**client, ws, id)
                .await?
                .ok_or_else(|| ApiError::not_found("Conversation"))?;
            // The budget trims further; this bounds what is read for a very long conversation.
            conversations::recent_messages(&**client, ws, id, MAX_HISTORY_MESSAGES)
                .await?
                .into_iter()
                .filter(|m| m.role == "user" || m.role == "assistant")
                .map(|m| Turn {
                    role: m.role,
                    content: m.content,
                })
                .collect()
        }
        None => Vec::new(),
    };
    drop(client);

    let query = state
        .embedder
        .embed(&[message.to_owned()])
        .await?
        .pop()
        .unwrap_or_default();
    let hits = state
        .vectors
        .search(ws, query, cfg.chat_top_k, cfg.chat_score_threshold)
        .await
        .map_err(|e| ApiError::unavailable("vector store", e))?;
    let context: Vec<ContextChunk> = hits
        .iter()
        .map(|h| ContextChunk {
            title: h.title.clone(),
            text: h.text.clone(),
        })
        .collect();
    let mut sources: Vec<Source> = Vec::new();
    for h in &hits {
        if !sources.iter().any(|s| s.document_id == h.document_id) {
            sources.push(Source {
                document_id: h.document_id,
                title: h.title.clone(),
                score: h.score,
            });
        }
    }
    let mut messages = vec![PromptMessage {
        role: "system".into(),
        content: prompt::system_prompt(&agent, &context),
    }];
    for turn in prompt::trim_history(&history, cfg.chat_history_tokens, count_tokens) {
        messages.push(PromptMessage {
            role: turn.role.clone(),
            content: turn.content.clone(),
        });
    }
    messages.push(PromptMessage {
        role: "user".into(),
        content: message.to_owned(),
    });
    Ok(PreparedTurn {
        workspace: ws,
        user_id: tenant.user_id,
        conv_id,
        message: message.to_owned(),
        messages,
        context,
        sources,
    })
}

/// Saves the question and the answer in one transaction (and the idempotency record, when given).
async fn save(
    state: &KnowledgeState,
    turn: &PreparedTurn,
    text: String,
    usage: Usage,
    key: Option<&IdempotencyKey>,
) -> Result<ChatReply, ApiError> {
    let ws = turn.workspace;
    // Both messages share the transaction's timestamp; v7 ids, made in order, keep the user's first.
    let user_message_id = Uuid::now_v7();
    let reply = ChatReply {
        reply: text,
        conv_id: turn.conv_id.unwrap_or_else(Uuid::now_v7),
        message_id: Uuid::now_v7(),
        sources: turn.sources.clone(),
        usage,
    };
    let mut client = state.app.db.get().await?;
    let tx = client.transaction().await?;
    if turn.conv_id.is_none() {
        conversations::insert(
            &*tx,
            ws,
            reply.conv_id,
            turn.user_id,
            &prompt::title_from(&turn.message),
        )
        .await?;
    }
    conversations::insert_message(
        &*tx,
        ws,
        user_message_id,
        reply.conv_id,
        "user",
        &turn.message,
        None,
        (None, None),
    )
    .await?;
    let sources_json = serde_json::to_value(&reply.sources).map_err(ApiError::internal)?;
    let tokens = (
        i32::try_from(reply.usage.prompt_tokens).ok(),
        i32::try_from(reply.usage.completion_tokens).ok(),
    );
    conversations::insert_message(
        &*tx,
        ws,
        reply.message_id,
        reply.conv_id,
        "assistant",
        &reply.reply,
        Some(&sources_json),
        tokens,
    )
    .await?;
    conversations::touch(&*tx, ws, reply.conv_id).await?;
    // A concurrent retry with the same key that committed first wins: its reply, nothing of ours kept.
    let tx = match idempotency::record(tx, ws, Scope::ChatRun, key, &reply).await? {
        Recorded::New(tx) => tx,
        Recorded::Replay(first) => return Ok(first),
    };
    tx.commit().await?;
    tracing::info!(workspace_id = %ws, conversation_id = %reply.conv_id, message_id = %reply.message_id, sources = reply.sources.len(), "chat turn answered");
    Ok(reply)
}

/// One turn of the conversation (a new one when `conv_id` is `None`).
pub async fn run(
    state: &KnowledgeState,
    tenant: &Tenant<MemberRole>,
    message: &str,
    conv_id: Option<Uuid>,
    idempotency_key: Option<IdempotencyKey>,
) -> Result<ChatReply, ApiError> {
    if let Some(key) = &idempotency_key {
        let client = state.app.db.get().await?;
        if let Some(reply) =
            idempotency::replay(&**client, tenant.workspace_id, Scope::ChatRun, key).await?
        {
            return Ok(reply); // no LLM call
        }
    }
    let turn = prepare(state, tenant, message, conv_id).await?;
    let completion = state.llm.complete(&turn.messages, &turn.context).await?;
    let usage = Usage {
        prompt_tokens: completion.prompt_tokens,
        completion_tokens: completion.completion_tokens,
    };
    save(
        state,
        &turn,
        completion.text,
        usage,
        idempotency_key.as_ref(),
    )
    .await
}

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
        usage: Usage,
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
            StreamEvent::Error { .. } => "error",
        }
    }
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
        let mut pieces = match state.llm.stream(&turn.messages, &turn.context).await {
            Ok(p) => p,
            Err(e) => {
                let _ = tx.send(fail(e.into())).await;
                return;
            }
        };
        let mut text = String::new();
        let mut usage = Usage {
            prompt_tokens: 0,
            completion_tokens: 0,
        };
        while let Some(piece) = pieces.next().await {
            match piece {
                Ok(crate::knowledge::llm::Piece::Text(t)) => {
                    text.push_str(&t);
                    if tx.send(StreamEvent::Delta { text: t }).await.is_err() {
                        tracing::info!(workspace_id = %turn.workspace, "client left mid-stream; nothing saved");
                        return;
                    }
                }
                Ok(crate::knowledge::llm::Piece::Usage {
                    prompt_tokens,
                    completion_tokens,
                }) => {
                    usage = Usage {
                        prompt_tokens,
                        completion_tokens,
                    };
                }
                Err(e) => {
                    let _ = tx.send(fail(e.into())).await;
                    return;
                }
            }
        }
        if text.trim().is_empty() {
            let _ = tx
                .send(fail(
                    crate::knowledge::llm::LlmError("the model returned no text".into()).into(),
                ))
                .await;
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

pub async fn list(
    state: &KnowledgeState,
    tenant: &Tenant<Viewer>,
    page: &PageParams,
) -> Result<Page<ConversationSummary>, ApiError> {
    let limit = page.limit();
    let before = page.cursor()?.map(|c| (c.at, c.id));
    let client = state.app.db.get().await?;
    let rows =
        conversations::list(&**client, tenant.workspace_id, before, i64::from(limit) + 1).await?;
    Page::from_rows(rows, limit, |r| Cursor {
        at: r.updated_at,
        id: r.id,
    })
    .try_map(|r| Ok::<_, ApiError>(summary(r)))
}

pub async fn get(
    state: &KnowledgeState,
    tenant: &Tenant<Viewer>,
    id: Uuid,
) -> Result<ConversationView, ApiError> {
    let client = state.app.db.get().await?;
    let conversation = conversations::get(&**client, tenant.workspace_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("Conversation"))?;
    let messages = conversations::messages(&**client, tenant.workspace_id, id)
        .await?
        .into_iter()
        .map(|m| MessageView {
            id: m.id,
            sources: m.sources.and_then(|s| serde_json::from_value(s).ok()),
            role: m.role,
            content: m.content,
            created_at: m.created_at,
            rating: m.rating,
        })
        .collect();
    Ok(ConversationView {
        conversation: summary(conversation),
        messages,
    })
}

pub async fn rename(
    state: &KnowledgeState,
    tenant: &Tenant<MemberRole>,
    id: Uuid,
    title: &str,
) -> Result<ConversationSummary, ApiError> {
    let client = state.app.db.get().await?;
    conversations::rename(&**client, tenant.workspace_id, id, title)
        .await?
        .map(summary)
        .ok_or_else(|| ApiError::not_found("Conversation"))
}

pub async fn delete(
    state: &KnowledgeState,
    tenant: &Tenant<MemberRole>,
    id: Uuid,
) -> Result<(), ApiError> {
    let client = state.app.db.get().await?;
    if !conversations::soft_delete(&**client, tenant.workspace_id, id).await? {
        return Err(ApiError::not_found("Conversation"));
    }
    Ok(())
}

pub async fn feedback(
    state: &KnowledgeState,
    tenant: &Tenant<MemberRole>,
    message: Uuid,
    rating: &str,
    comment: Option<&str>,
) -> Result<(), ApiError> {
    let client = state.app.db.get().await?;
    conversations::assistant_message(&**client, tenant.workspace_id, message)
        .await?
        .ok_or_else(|| ApiError::not_found("Assistant message"))?;
    conversations::upsert_feedback(
        &**client,
        tenant.workspace_id,
        message,
        tenant.user_id,
        rating,
        comment,
    )
    .await?;
    tracing::info!(workspace_id = %tenant.workspace_id, message_id = %message, rating, "feedback recorded");
    Ok(())
}

/// A rating of an answer, with the question and the answer it rates.
pub use conversations::FeedbackRow as FeedbackView;

/// The workspace's ratings of answers, newest first, optionally only `up` or `down`.
pub async fn list_feedback(
    state: &KnowledgeState,
    tenant: &Tenant<Viewer>,
    rating: Option<&str>,
    page: &PageParams,
) -> Result<Page<FeedbackView>, ApiError> {
    let limit = page.limit();
    let before = page.cursor()?.map(|c| (c.at, c.id));
    let client = state.app.db.get().await?;
    let rows = conversations::list_feedback(
        &**client,
        tenant.workspace_id,
        rating,
        before,
        i64::from(limit) + 1,
    )
    .await?;
    Ok(Page::from_rows(rows, limit, |r| Cursor {
        at: r.created_at,
        id: r.message_id,
    }))
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EscalationView {
    pub conversation_id: Uuid,
    pub escalated_at: DateTime<Utc>,
    /// True when it was escalated before: nothing was sent again.
    pub already_escalated: bool,
}

/// Hands a conversation to a person: mails the workspace's escalation contact (the intake's
/// `escalationEmail`) the transcript and marks the conversation escalated. Escalating again sends nothing.
pub async fn escalate(
    state: &KnowledgeState,
    tenant: &Tenant<MemberRole>,
    id: Uuid,
    reason: Option<&str>,
) -> Result<EscalationView, ApiError> {
    let ws = tenant.workspace_id;
    let mut client = state.app.db.get().await?;
    let tx = client.transaction().await?;
    let (title, escalated_at) = conversations::lock_for_escalation(&*tx, ws, id)
        .await?
        .ok_or_else(|| ApiError::not_found("Conversation"))?;
    if let Some(at) = escalated_at {
        return Ok(EscalationView {
            conversation_id: id,
            escalated_at: at,
            already_escalated: true,
        });
    }
    let agent = agent_config::load(&*tx, ws).await?.config;
    if !agent.subsystems.escalation {
        return Err(ApiError::conflict(
            "Escalation is turned off for this workspace: turn on subsystems.escalation in the intake.",
        ));
    }
    let Some(contact) = agent.escalation_email else {
        return Err(ApiError::conflict(
            "This workspace has no escalation contact: set escalationEmail in its intake (PUT /api/v1/workspaces/{workspaceId}/intake).",
        ));
    };
    let messages = conversations::messages(&*tx, ws, id).await?;
    let transcript: Vec<_> = messages
        .iter()
        .map(|m| crate::email::templates::Line {
            role: &m.role,
            content: &m.content,
        })
        .collect();
    let by = crate::repo::users::find_active(&*tx, tenant.user_id)
        .await?
        .map_or_else(
            || "a member".to_owned(),
            |u| format!("{} <{}>", u.name, u.email),
        );
    let title = title.unwrap_or_else(|| "Untitled conversation".to_owned());
    let message = crate::email::templates::escalation(
        &contact,
        &agent.company_name,
        &title,
        id,
        &by,
        reason,
        &transcript,
        state.app.config.app_url(),
    );
    let at = conversations::mark_escalated(&*tx, ws, id, tenant.user_id).await?;
    let mail = crate::email::queue(&*tx, Some(ws), &message).await?;
    tx.commit().await?;
    tracing::info!(workspace_id = %ws, conversation_id = %id, "conversation escalated");
    mail.send(&**client, state.app.email_queue.as_ref()).await;
    Ok(EscalationView {
        conversation_id: id,
        escalated_at: at,
        already_escalated: false,
    })
}
