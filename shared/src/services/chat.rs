//! A chat turn with the customer-service agent (RAG), and the conversations it builds.
//!
//! The question is embedded and searched in the workspace's vectors; the prompt is the old system's
//! (company, context, instructions, history trimmed to a token budget); the LLM answers; then the user's
//! and the assistant's messages are saved in one transaction. If the LLM fails, nothing is written.

use crate::agent::prompt::{self, ContextChunk, Turn};
use crate::error::ApiError;
use crate::http::paging::{Cursor, Page, PageParams};
use crate::http::{MemberRole, Tenant, Viewer};
use crate::knowledge::KnowledgeState;
use crate::knowledge::chunking::count_tokens;
use crate::knowledge::llm::PromptMessage;
use crate::repo::{conversations, idempotency};
use crate::services::agent_config;
use crate::services::knowledge::IdempotencyKey;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

pub const RUN_SCOPE: &str = "POST /api/v1/agents/customer-service/run";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Source {
    pub document_id: Uuid,
    pub title: String,
    pub score: f32,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
#[serde(rename_all = "camelCase")]
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
    }
}

async fn stored_reply(
    db: &tokio_postgres::Client,
    tenant: &Tenant<MemberRole>,
    key: &IdempotencyKey,
) -> Result<Option<ChatReply>, ApiError> {
    let Some(stored) =
        idempotency::get(db, *tenant.workspace_id.as_uuid(), RUN_SCOPE, &key.key).await?
    else {
        return Ok(None);
    };
    if stored.request_hash != key.request_hash {
        return Err(ApiError::conflict(
            "This Idempotency-Key was already used with a different message; use a new key for a new message.",
        ));
    }
    Ok(Some(
        serde_json::from_value(stored.response).map_err(ApiError::internal)?,
    ))
}

/// One turn of the conversation (a new one when `conv_id` is `None`).
pub async fn run(
    state: &KnowledgeState,
    tenant: &Tenant<MemberRole>,
    message: &str,
    conv_id: Option<Uuid>,
    idempotency_key: Option<IdempotencyKey>,
) -> Result<ChatReply, ApiError> {
    let ws = tenant.workspace_id;
    let cfg = &state.app.config.knowledge;
    let mut client = state.app.db.get().await?;
    if let Some(key) = &idempotency_key
        && let Some(reply) = stored_reply(&client, tenant, key).await?
    {
        tracing::info!(workspace_id = %ws, "idempotent replay of a chat turn; no LLM call");
        return Ok(reply);
    }
    let agent = agent_config::load(&client, ws).await?.config;
    let history: Vec<Turn> = match conv_id {
        Some(id) => {
            conversations::get(&**client, ws, id)
                .await?
                .ok_or_else(|| ApiError::not_found("Conversation"))?;
            conversations::messages(&**client, ws, id)
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

    let completion = state.llm.complete(&messages, &context).await?;

    // Both messages share the transaction's timestamp; v7 ids, made in order, keep the user's first.
    let user_message_id = Uuid::now_v7();
    let reply = ChatReply {
        reply: completion.text,
        conv_id: conv_id.unwrap_or_else(Uuid::now_v7),
        message_id: Uuid::now_v7(),
        sources,
        usage: Usage {
            prompt_tokens: completion.prompt_tokens,
            completion_tokens: completion.completion_tokens,
        },
    };
    let tx = client.transaction().await?;
    if conv_id.is_none() {
        conversations::insert(
            &*tx,
            ws,
            reply.conv_id,
            tenant.user_id,
            &prompt::title_from(message),
        )
        .await?;
    }
    conversations::insert_message(
        &*tx,
        ws,
        user_message_id,
        reply.conv_id,
        "user",
        message,
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
    if let Some(key) = &idempotency_key {
        let body = serde_json::to_value(&reply).map_err(ApiError::internal)?;
        if !idempotency::record(
            &*tx,
            *ws.as_uuid(),
            RUN_SCOPE,
            &key.key,
            &key.request_hash,
            200,
            &body,
        )
        .await?
        {
            // A concurrent retry with the same key committed first: answer with its reply, keep nothing of ours.
            tx.rollback().await?;
            return stored_reply(&client, tenant, key)
                .await?
                .ok_or_else(|| ApiError::internal(anyhow::anyhow!("idempotency key vanished")));
        }
    }
    tx.commit().await?;
    tracing::info!(workspace_id = %ws, conversation_id = %reply.conv_id, message_id = %reply.message_id, sources = reply.sources.len(), "chat turn answered");
    Ok(reply)
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
