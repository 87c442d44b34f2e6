//! One turn: checked, retrieved and prompted ([`prepare`]), answered, and saved with its idempotency
//! record ([`run`]).

use super::{ChatReply, Source};
use crate::agent::prompt::{self, ContextChunk};
use crate::agent::{Message, MessageRole, TokenUsage};
use crate::auth::{Access, Caller, MemberRole, Tenant};
use crate::db::Scoped;
use crate::error::ApiError;
use crate::knowledge::chunking::count_tokens;
use crate::repo::conversations::{self, NewMessage};
use crate::services::agent_config;
use crate::services::idempotency::{self, IdempotencyKey, Recorded, Scope};
use crate::state::KnowledgeState;
use uuid::Uuid;

/// Messages of history read for a turn, at most.
const MAX_HISTORY_MESSAGES: i64 = 50;

/// Everything a turn needs before the model answers: checked, retrieved and prompted.
#[derive(Debug, Clone)]
pub struct PreparedTurn {
    pub(super) workspace: crate::ids::WorkspaceId,
    by: Caller,
    conv_id: Option<Uuid>,
    message: String,
    pub(super) messages: Vec<Message>,
    pub(super) context: Vec<ContextChunk>,
    pub(super) sources: Vec<Source>,
    /// The workspace's first language (the offline answer analyses the question in it).
    pub(super) language: String,
    /// Where the answer's tokens are counted once it is saved (a visitor's turn: the workspace's daily
    /// public token budget).
    meter: Option<crate::services::public::budgets::TokenMeter>,
    /// The id a new conversation gets (when `conv_id` is `None`).
    new_conversation: Uuid,
    /// The retrieval's embedding call, recorded in the workspace's usage with the answer.
    query_embedding: Option<crate::services::knowledge::QueryEmbedding>,
}

impl PreparedTurn {
    pub fn sources(&self) -> &[Source] {
        &self.sources
    }

    /// The same turn, its answer's tokens counted by `meter` once saved.
    pub(crate) fn metered(mut self, meter: crate::services::public::budgets::TokenMeter) -> Self {
        self.meter = Some(meter);
        self
    }

    /// The same turn, a new conversation taking the id `id` (chosen before, to count its budget).
    pub(crate) fn starting(mut self, id: Uuid) -> Self {
        self.new_conversation = id;
        self
    }
}

/// Loads the agent's configuration and the history, retrieves context from the caller's workspace and
/// builds the prompt. Fails with a proper HTTP error (404 conversation, 503 dependency) before any answer.
pub async fn prepare(
    state: &KnowledgeState,
    tenant: &Tenant<MemberRole, impl Access>,
    message: &str,
    conv_id: Option<Uuid>,
) -> Result<PreparedTurn, ApiError> {
    match prepare_for(state, tenant.workspace_id, tenant.actor(), message, conv_id).await? {
        Prepared::Turn(turn) => Ok(turn),
        // Only a visitor's conversation is ever someone else's to answer.
        Prepared::NotTheAgents(row) => Err(ApiError::internal(anyhow::anyhow!(
            "a member's turn found conversation {} held for a person",
            row.id
        ))),
    }
}

/// What preparing a turn found.
#[derive(Debug)]
pub(crate) enum Prepared {
    /// The turn, ready for the model.
    Turn(PreparedTurn),
    /// A visitor's conversation that the agent does not answer as it is (a person has it, one was asked
    /// for, or it was resolved): nothing else was read.
    NotTheAgents(conversations::ConversationRow),
}

/// The conversation `id` as `by` may continue it: a visitor only their own (another's is not found), a
/// member or key only the workspace's own conversations (a visitor's is answered by a person, through
/// the inbox).
pub(crate) fn owned_by(
    row: Option<conversations::ConversationRow>,
    by: Caller,
) -> Result<conversations::ConversationRow, ApiError> {
    let row = row.ok_or_else(|| ApiError::not_found("Conversation"))?;
    match (by.visitor_id(), row.visitor_id) {
        (Some(visitor), owner) if owner != Some(visitor) => {
            Err(ApiError::not_found("Conversation"))
        }
        (None, Some(_)) => Err(ApiError::conflict(format!(
            "This is a visitor's conversation: the agent answers the visitor, and the team replies with POST /api/v1/agents/conversations/{}/messages.",
            row.id
        ))),
        _ => Ok(row),
    }
}

/// [`prepare`] for whoever acts: a member, a key, or a visitor (the public routes).
pub(crate) async fn prepare_for(
    state: &KnowledgeState,
    ws: crate::ids::WorkspaceId,
    by: Caller,
    message: &str,
    conv_id: Option<Uuid>,
) -> Result<Prepared, ApiError> {
    let cfg = &state.app.config.knowledge;
    let client = Scoped::begin(&state.app.db, crate::db::Scope::workspace(ws)).await?;
    // The conversation first: one the agent does not answer now needs no quota, configuration or search.
    if let Some(id) = conv_id {
        let row = owned_by(conversations::get(&**client, ws, id).await?, by)?;
        if by.visitor_id().is_some() && row.status != crate::agent::ConversationStatus::Bot {
            return Ok(Prepared::NotTheAgents(row));
        }
    }
    crate::billing::check_quota(&**client, ws, crate::billing::Consumption::ChatTurn).await?;
    crate::services::usage::check_cost_cap(&**client, &state.app.config.usage, ws).await?;
    let agent = agent_config::load(&**client, ws).await?.config;
    if !agent.subsystems.customer_service {
        return Err(ApiError::new(
            crate::ErrorCode::AgentDisabled,
            "The customer-service agent is turned off for this workspace: an admin can turn on subsystems.customerService in the intake.",
        ));
    }
    let history: Vec<Message> = match conv_id {
        Some(id) => {
            // The budget trims further; this bounds what is read for a very long conversation.
            conversations::recent_messages(&**client, ws, id, MAX_HISTORY_MESSAGES)
                .await?
                .into_iter()
                .filter(|m| m.role.is_history())
                .map(|m| Message::new(m.role.in_prompt(), m.content))
                .collect()
        }
        None => Vec::new(),
    };
    drop(client);

    let (hits, query_embedding) = crate::services::knowledge::retrieve_metered(
        state,
        ws,
        crate::services::knowledge::Retrieval {
            query: message,
            limit: cfg.chat_top_k,
            score_threshold: cfg.chat_score_threshold,
            mode: None,
        },
    )
    .await?;
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
                url: None,
                section: h.section.clone(),
                page: h.page,
            });
        }
    }
    link_sources(state, ws, &mut sources).await?;
    let mut messages = vec![Message::new(
        MessageRole::System,
        prompt::system_prompt(&agent, &context),
    )];
    messages.extend_from_slice(prompt::trim_history(
        &history,
        cfg.chat_history_tokens,
        count_tokens,
    ));
    messages.push(Message::new(MessageRole::User, message));
    Ok(Prepared::Turn(PreparedTurn {
        workspace: ws,
        by,
        conv_id,
        message: message.to_owned(),
        messages,
        context,
        sources,
        language: agent
            .languages
            .first()
            .cloned()
            .unwrap_or_else(|| "en".to_owned()),
        meter: None,
        new_conversation: Uuid::now_v7(),
        query_embedding,
    }))
}

/// Fills in each source's `url` from its document's `source_url`, in one query, when that is an `http` or
/// `https` URL: the widget shows it as a link, so nothing else (`javascript:`, `data:`, …) is passed on.
async fn link_sources(
    state: &KnowledgeState,
    ws: crate::ids::WorkspaceId,
    sources: &mut [Source],
) -> Result<(), ApiError> {
    let ids: Vec<Uuid> = sources.iter().map(|s| s.document_id).collect();
    let mut links = crate::services::knowledge::web_links(state, ws, &ids).await?;
    for source in sources.iter_mut() {
        source.url = links.remove(&source.document_id);
    }
    Ok(())
}

/// Saves the question and the answer in one transaction (and the idempotency record, when given).
pub(super) async fn save(
    state: &KnowledgeState,
    turn: &PreparedTurn,
    text: String,
    usage: TokenUsage,
    key: Option<&IdempotencyKey>,
) -> Result<ChatReply, ApiError> {
    // The model's tokens are spent whether or not the save succeeds: they are counted against a metered
    // turn's budget at the same time as the save, not after it (the limiter's round trip hides behind the
    // commit's).
    let count = async {
        if let Some(meter) = &turn.meter {
            let used = u64::from(usage.prompt_tokens) + u64::from(usage.completion_tokens);
            meter.add(&state.app, used).await;
        }
    };
    let (saved, ()) = tokio::join!(save_rows(state, turn, text, usage, key), count);
    saved
}

async fn save_rows(
    state: &KnowledgeState,
    turn: &PreparedTurn,
    text: String,
    usage: TokenUsage,
    key: Option<&IdempotencyKey>,
) -> Result<ChatReply, ApiError> {
    let ws = turn.workspace;
    // Both messages share the transaction's timestamp; v7 ids, made in order, keep the user's first.
    let user_message_id = Uuid::now_v7();
    let reply = ChatReply {
        reply: text,
        conv_id: turn.conv_id.unwrap_or(turn.new_conversation),
        message_id: Uuid::now_v7(),
        sources: turn.sources.clone(),
        usage,
    };
    // The member's account in the scope too: the idempotency record names whose turn it is.
    let tx = Scoped::begin(&state.app.db, crate::db::Scope::acting(ws, turn.by)).await?;
    if turn.conv_id.is_none() {
        conversations::insert(
            &**tx,
            ws,
            reply.conv_id,
            turn.by,
            &prompt::title_from(&turn.message),
        )
        .await?;
    }
    let question = NewMessage {
        id: user_message_id,
        conversation: reply.conv_id,
        role: MessageRole::User,
        content: &turn.message,
        sources: None,
        usage: None,
        author: None,
    };
    conversations::insert_message(&**tx, ws, &question).await?;
    let sources_json = serde_json::to_value(&reply.sources).map_err(ApiError::internal)?;
    let answer = NewMessage {
        id: reply.message_id,
        conversation: reply.conv_id,
        role: MessageRole::Assistant,
        content: &reply.reply,
        sources: Some(&sources_json),
        usage: Some(reply.usage),
        author: None,
    };
    conversations::insert_message(&**tx, ws, &answer).await?;
    conversations::touch(&**tx, ws, reply.conv_id).await?;
    // The turn's model calls, in the workspace's usage: the answer, and the question's embedding.
    crate::repo::usage::record(
        &**tx,
        *ws.as_uuid(),
        crate::repo::usage::CallKind::Chat,
        state.llm.model(),
        1,
        i64::from(reply.usage.prompt_tokens),
        i64::from(reply.usage.completion_tokens),
    )
    .await?;
    if let Some(embedding) = &turn.query_embedding {
        embedding.record(&**tx, ws).await?;
    }
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
    tenant: &Tenant<MemberRole, impl Access>,
    message: &str,
    conv_id: Option<Uuid>,
    idempotency_key: Option<IdempotencyKey>,
) -> Result<ChatReply, ApiError> {
    if let Some(key) = &idempotency_key {
        let client = Scoped::tenant(&state.app.db, tenant).await?;
        if let Some(reply) =
            idempotency::replay(&**client, tenant.workspace_id, Scope::ChatRun, key).await?
        {
            return Ok(reply); // no LLM call
        }
    }
    let turn = prepare(state, tenant, message, conv_id).await?;
    answer(state, &turn, idempotency_key.as_ref()).await
}

/// The model's answer to a prepared turn, saved with the question (and the idempotency record).
pub(crate) async fn answer(
    state: &KnowledgeState,
    turn: &PreparedTurn,
    key: Option<&IdempotencyKey>,
) -> Result<ChatReply, ApiError> {
    let completion = state
        .llm
        .complete(&turn.messages, &turn.context, &turn.language)
        .await?;
    save(state, turn, completion.text, completion.usage, key).await
}
