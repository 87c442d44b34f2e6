//! What a visitor does in a session: a turn with the agent (or, while a person has the conversation, a
//! message kept for them), their conversations and the messages after a cursor, feedback on answers, a
//! CSAT rating once resolved, and asking for a person.

use crate::agent::handoff::Event;
use crate::agent::{ConversationStatus, MessageRole};
use crate::auth::visitor::VisitorSession;
use crate::error::ApiError;
use crate::paging::{Cursor, Page, PageParams};
use crate::repo::conversations::{self, ConversationRow, NewMessage};
use crate::services::chat::{self, MessageView, Prepared, PreparedTurn, Source};
pub use crate::services::public::Conversation;
use crate::services::public::budgets::TokenMeter;
use crate::state::KnowledgeState;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

/// Messages of a conversation one read returns, at most (poll again with the last one as `after`).
pub const MAX_MESSAGES_PER_READ: i64 = 200;

/// A visitor's turn: the agent's answer, or — while a person has the conversation — `reply: null`.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PublicReply {
    /// The agent's answer; null when the message was kept for a person (see `status`).
    pub reply: Option<String>,
    pub conv_id: Uuid,
    /// The agent's answer's id, or the visitor's message's when there is no answer.
    pub message_id: Uuid,
    pub sources: Vec<Source>,
    pub status: ConversationStatus,
}

/// A visitor's conversation, as the widget lists it.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PublicConversation {
    pub id: Uuid,
    pub title: Option<String>,
    pub status: ConversationStatus,
    /// True while the visitor has waited for a person longer than the workspace's `humanWaitMinutes`
    /// and left no email: the widget offers to leave one (`POST …/handoff {email}`).
    pub offer_email: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A conversation's messages after a cursor (all of them without one).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PublicConversationView {
    #[serde(flatten)]
    pub conversation: PublicConversation,
    /// Oldest first: `user` (the visitor), `assistant` (the agent), `human` (a person of the team);
    /// at most 200 — poll again with the last one's id as `after`.
    pub messages: Vec<MessageView>,
}

fn view(row: &ConversationRow, wait_minutes: u32) -> PublicConversation {
    let waited = Utc::now() - row.status_changed_at;
    PublicConversation {
        id: row.id,
        title: row.title.clone(),
        status: row.status,
        offer_email: row.status == ConversationStatus::WaitingForHuman
            && row.contact_email.is_none()
            && waited >= chrono::Duration::minutes(i64::from(wait_minutes)),
        created_at: row.created_at,
        updated_at: row.updated_at,
    }
}

/// A visitor's turn, once checked: answered by the agent, or already kept for a person.
#[derive(Debug)]
pub enum Turn {
    /// The agent answers: prepared, the model not called yet.
    Agent(Box<PreparedTurn>),
    /// A person has (or was just asked for) the conversation: the message is stored, nothing to answer.
    Kept(PublicReply),
}

/// The visitor's conversation `id`, locked, or not found.
async fn own_locked(
    db: &impl tokio_postgres::GenericClient,
    s: &VisitorSession,
    id: Uuid,
) -> Result<ConversationRow, ApiError> {
    chat::owned_by(
        conversations::lock(db, s.workspace_id, id).await?,
        s.caller(),
    )
}

/// Stores the visitor's message for a person (in a new conversation when `conversation` is `None`).
async fn keep(
    db: &impl tokio_postgres::GenericClient,
    s: &VisitorSession,
    conversation: Conversation,
    message: &str,
) -> Result<(Uuid, Uuid), ApiError> {
    let conv = match conversation {
        Conversation::Existing(id) => id,
        Conversation::New(id) => {
            conversations::insert(
                db,
                s.workspace_id,
                id,
                s.caller(),
                &crate::agent::prompt::title_from(message),
            )
            .await?;
            id
        }
    };
    let id = Uuid::now_v7();
    conversations::insert_message(
        db,
        s.workspace_id,
        &NewMessage {
            id,
            conversation: conv,
            role: MessageRole::User,
            content: message,
            sources: None,
            usage: None,
            author: None,
        },
    )
    .await?;
    conversations::touch(db, s.workspace_id, conv).await?;
    Ok((conv, id))
}

/// Checks a visitor's message and decides who answers: while a person has the conversation the message
/// is stored and the LLM is never called; a resolved conversation reopens with the agent; with nothing
/// in the knowledge base to answer from and `autoEscalateWithoutContext` on, it goes to a person.
pub async fn begin(
    state: &KnowledgeState,
    s: &VisitorSession,
    message: &str,
    conversation: Conversation,
) -> Result<Turn, ApiError> {
    let ws = s.workspace_id;
    let conv_id = conversation.existing();
    let mut prepared = chat::prepare_for(state, ws, s.caller(), message, conv_id).await?;
    if let (Prepared::NotTheAgents(_), Some(id)) = (&prepared, conv_id) {
        // Decided again under the conversation's lock: kept for a person, or reopened with the agent.
        let mut client = state.app.db.get().await?;
        let tx = client.transaction().await?;
        let row = own_locked(&*tx, s, id).await?;
        let status = row
            .status
            .after(Event::VisitorWrites)
            .map_err(|e| ApiError::conflict(e.to_string()))?;
        if !status.agent_answers() {
            let (conv, message_id) = keep(&*tx, s, conversation, message).await?;
            tx.commit().await?;
            return Ok(Turn::Kept(PublicReply {
                reply: None,
                conv_id: conv,
                message_id,
                sources: Vec::new(),
                status,
            }));
        }
        if status != row.status {
            conversations::set_status(&*tx, ws, id, status).await?;
        }
        tx.commit().await?;
        prepared = chat::prepare_for(state, ws, s.caller(), message, conv_id).await?;
    }
    let Prepared::Turn(turn) = prepared else {
        return Err(ApiError::conflict(
            "The conversation changed hands while the message was sent: send it again.",
        ));
    };
    let turn = turn
        .metered(TokenMeter::for_workspace(&state.app, ws))
        .starting(conversation.id());
    if turn.sources().is_empty() {
        let mut client = state.app.db.get().await?;
        let widget = crate::services::widget::load(&**client, ws).await?.settings;
        if widget.auto_escalate_without_context {
            let tx = client.transaction().await?;
            let (conv, message_id) = keep(&*tx, s, conversation, message).await?;
            let row = own_locked(&*tx, s, conv).await?;
            let (status, mail) = chat::hand_over(
                &*tx,
                state,
                &row,
                ws,
                s.caller(),
                Some("the agent found nothing in the knowledge base to answer from"),
            )
            .await?;
            tx.commit().await?;
            if let Some(mail) = mail {
                mail.send(&**client, state.app.email_queue.as_ref()).await;
            }
            return Ok(Turn::Kept(PublicReply {
                reply: None,
                conv_id: conv,
                message_id,
                sources: Vec::new(),
                status,
            }));
        }
    }
    Ok(Turn::Agent(Box::new(turn)))
}

/// One visitor turn, answered (see [`begin`]).
pub async fn message(
    state: &KnowledgeState,
    s: &VisitorSession,
    message: &str,
    conversation: Conversation,
) -> Result<PublicReply, ApiError> {
    let turn = match begin(state, s, message, conversation).await? {
        Turn::Kept(reply) => return Ok(reply),
        Turn::Agent(turn) => turn,
    };
    let reply = chat::answer(state, &turn, None).await?;
    Ok(PublicReply {
        reply: Some(reply.reply),
        conv_id: reply.conv_id,
        message_id: reply.message_id,
        sources: reply.sources,
        status: ConversationStatus::Bot,
    })
}

/// The visitor's conversations, newest activity first.
pub async fn conversations(
    state: &KnowledgeState,
    s: &VisitorSession,
    page: &PageParams,
) -> Result<Page<PublicConversation>, ApiError> {
    let limit = page.limit();
    let before = page.cursor()?.map(|c| (c.at, c.id));
    let client = state.app.db.get().await?;
    let wait = crate::services::widget::load(&**client, s.workspace_id)
        .await?
        .settings
        .human_wait_minutes;
    let rows = conversations::list_for_visitor(
        &**client,
        s.workspace_id,
        s.visitor_id,
        before,
        i64::from(limit) + 1,
    )
    .await?;
    Page::from_rows(rows, limit, |r| Cursor {
        at: r.updated_at,
        id: r.id,
    })
    .try_map(|r| Ok::<_, ApiError>(view(&r, wait)))
}

/// One of the visitor's conversations with its messages after `after` (all without it).
pub async fn conversation(
    state: &KnowledgeState,
    s: &VisitorSession,
    id: Uuid,
    after: Option<Uuid>,
) -> Result<PublicConversationView, ApiError> {
    let client = state.app.db.get().await?;
    let row = chat::owned_by(
        conversations::get(&**client, s.workspace_id, id).await?,
        s.caller(),
    )?;
    let wait = crate::services::widget::load(&**client, s.workspace_id)
        .await?
        .settings
        .human_wait_minutes;
    let messages =
        conversations::messages_after(&**client, s.workspace_id, id, after, MAX_MESSAGES_PER_READ)
            .await?
            .ok_or_else(|| ApiError::field("after", "is not a message of this conversation"))?
            .into_iter()
            .map(chat::message_view)
            .collect();
    Ok(PublicConversationView {
        conversation: view(&row, wait),
        messages,
    })
}

/// The visitor rates one of the agent's answers in their conversation (again: replaces it).
pub async fn feedback(
    state: &KnowledgeState,
    s: &VisitorSession,
    message: Uuid,
    rating: &str,
    comment: Option<&str>,
) -> Result<(), ApiError> {
    let client = state.app.db.get().await?;
    let answer = conversations::assistant_message(&**client, s.workspace_id, message)
        .await?
        .ok_or_else(|| ApiError::not_found("Assistant message"))?;
    chat::owned_by(
        conversations::get(&**client, s.workspace_id, answer.conversation_id).await?,
        s.caller(),
    )
    .map_err(|_| ApiError::not_found("Assistant message"))?;
    conversations::upsert_feedback(
        &**client,
        s.workspace_id,
        message,
        s.caller(),
        rating,
        comment,
    )
    .await?;
    tracing::info!(workspace_id = %s.workspace_id, message_id = %message, rating, "visitor feedback recorded");
    Ok(())
}

/// The visitor's CSAT rating (1–5) of a resolved conversation (again: replaces it).
pub async fn rate(
    state: &KnowledgeState,
    s: &VisitorSession,
    id: Uuid,
    score: u8,
    comment: Option<&str>,
) -> Result<(), ApiError> {
    let mut client = state.app.db.get().await?;
    let tx = client.transaction().await?;
    let row = own_locked(&*tx, s, id).await?;
    if row.status != ConversationStatus::Resolved {
        return Err(ApiError::conflict(format!(
            "Only a resolved conversation can be rated; this one is {}.",
            row.status
        )));
    }
    conversations::rate(&*tx, s.workspace_id, id, i16::from(score), comment).await?;
    tx.commit().await?;
    tracing::info!(workspace_id = %s.workspace_id, conversation_id = %id, score, "conversation rated");
    Ok(())
}

/// The visitor asks for a person (and may leave an email for the reply): the conversation waits for the
/// team, whose escalation contact is mailed the first time.
pub async fn handoff(
    state: &KnowledgeState,
    s: &VisitorSession,
    id: Uuid,
    email: Option<&str>,
) -> Result<PublicConversation, ApiError> {
    let ws = s.workspace_id;
    let mut client = state.app.db.get().await?;
    let tx = client.transaction().await?;
    let mut row = own_locked(&*tx, s, id).await?;
    if let Some(email) = email {
        conversations::set_contact_email(&*tx, ws, id, email).await?;
        row.contact_email = Some(email.to_owned());
    }
    let (status, mail) = chat::hand_over(&*tx, state, &row, ws, s.caller(), None).await?;
    let row = conversations::get(&*tx, ws, id)
        .await?
        .ok_or_else(|| ApiError::not_found("Conversation"))?;
    let wait = crate::services::widget::load(&*tx, ws)
        .await?
        .settings
        .human_wait_minutes;
    tx.commit().await?;
    if let Some(mail) = mail {
        mail.send(&**client, state.app.email_queue.as_ref()).await;
    }
    debug_assert_eq!(row.status, status);
    Ok(view(&row, wait))
}
