//! Conversations, their messages, and feedback on answers — all scoped by workspace.

use crate::agent::{ConversationStatus, MessageRole, TokenUsage};
use crate::auth::Caller;
use crate::ids::WorkspaceId;
use chrono::{DateTime, Utc};
use tokio_postgres::{Error, GenericClient, Row};
use uuid::Uuid;

#[derive(Debug, Clone)]
pub struct ConversationRow {
    pub id: Uuid,
    pub title: Option<String>,
    pub user_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub escalated_at: Option<DateTime<Utc>>,
    /// The visitor whose conversation it is (public routes); null for a member's or a key's.
    pub visitor_id: Option<Uuid>,
    pub status: ConversationStatus,
    pub status_changed_at: DateTime<Utc>,
    /// Where the visitor asked a person's reply to be mailed.
    pub contact_email: Option<String>,
}

/// The columns [`conversation`] reads, in every statement that returns conversations.
macro_rules! columns {
    () => {
        "id, title, user_id, created_at, updated_at, escalated_at, visitor_id, status, status_changed_at, contact_email"
    };
}

#[derive(Debug, Clone)]
pub struct MessageRow {
    pub id: Uuid,
    pub conversation_id: Uuid,
    pub role: MessageRole,
    pub content: String,
    pub sources: Option<serde_json::Value>,
    pub created_at: DateTime<Utc>,
    /// The rating an assistant message was given (`up`/`down`), where the query reads it.
    pub rating: Option<String>,
}

fn conversation(r: &Row) -> ConversationRow {
    ConversationRow {
        id: r.get("id"),
        title: r.get("title"),
        user_id: r.get("user_id"),
        created_at: r.get("created_at"),
        updated_at: r.get("updated_at"),
        escalated_at: r.get("escalated_at"),
        visitor_id: r.get("visitor_id"),
        status: status(r),
        status_changed_at: r.get("status_changed_at"),
        contact_email: r.get("contact_email"),
    }
}

/// The stored status; the table's CHECK admits only the four the enum has.
fn status(r: &Row) -> ConversationStatus {
    let stored: &str = r.get("status");
    ConversationStatus::parse(stored).unwrap_or_else(|| {
        tracing::error!(
            status = stored,
            "a conversation status this build does not know; read as bot"
        );
        ConversationStatus::Bot
    })
}

/// The stored role; the table's CHECK admits only the three the enum has.
fn role(r: &Row) -> MessageRole {
    let stored: &str = r.get("role");
    MessageRole::parse(stored).unwrap_or_else(|| {
        tracing::error!(
            role = stored,
            "a message with a role this build does not know; read as system (left out of history)"
        );
        MessageRole::System
    })
}

fn message(r: &Row) -> MessageRow {
    MessageRow {
        id: r.get("id"),
        conversation_id: r.get("conversation_id"),
        role: role(r),
        content: r.get("content"),
        sources: r.get("sources"),
        created_at: r.get("created_at"),
        rating: r.get("rating"),
    }
}

pub async fn insert(
    db: &impl GenericClient,
    workspace: WorkspaceId,
    id: Uuid,
    by: Caller,
    title: &str,
) -> Result<(), Error> {
    super::change_one(
        db,
        "INSERT INTO conversations (id, workspace_id, user_id, api_key_id, visitor_id, title)
         VALUES ($1, $2, $3, $4, $5, $6)",
        workspace,
        id,
        &[&by.user_id(), &by.api_key_id(), &by.visitor_id(), &title],
    )
    .await
    .map(drop)
}

pub async fn get(
    db: &impl GenericClient,
    workspace: WorkspaceId,
    id: Uuid,
) -> Result<Option<ConversationRow>, Error> {
    Ok(super::read_one(
        db,
        concat!(
            "SELECT ",
            columns!(),
            " FROM conversations WHERE id = $1 AND workspace_id = $2 AND deleted_at IS NULL"
        ),
        workspace,
        id,
        &[],
    )
    .await?
    .as_ref()
    .map(conversation))
}

/// Newest activity first, before the cursor `(updated_at, id)`.
pub async fn list(
    db: &impl GenericClient,
    workspace: WorkspaceId,
    before: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<ConversationRow>, Error> {
    let (at, id) = before.map_or((None, None), |(a, i)| (Some(a), Some(i)));
    Ok(db
        .query(
            concat!(
                "SELECT ",
                columns!(),
                " FROM conversations WHERE workspace_id = $1 AND deleted_at IS NULL
                    AND ($2::timestamptz IS NULL OR (updated_at, id) < ($2, $3))
                  ORDER BY updated_at DESC, id DESC LIMIT $4"
            ),
            &[workspace.as_uuid(), &at, &id, &limit],
        )
        .await?
        .iter()
        .map(conversation)
        .collect())
}

pub async fn rename(
    db: &impl GenericClient,
    workspace: WorkspaceId,
    id: Uuid,
    title: &str,
) -> Result<Option<ConversationRow>, Error> {
    Ok(super::read_one(
        db,
        concat!(
            "UPDATE conversations SET title = $3, updated_at = now() WHERE id = $1 AND workspace_id = $2 AND deleted_at IS NULL RETURNING ",
            columns!()
        ),
        workspace,
        id,
        &[&title],
    )
    .await?
    .as_ref()
    .map(conversation))
}

pub async fn soft_delete(
    db: &impl GenericClient,
    workspace: WorkspaceId,
    id: Uuid,
) -> Result<bool, Error> {
    super::change_one(
        db,
        "UPDATE conversations SET deleted_at = now() WHERE id = $1 AND workspace_id = $2 AND deleted_at IS NULL",
        workspace,
        id,
        &[],
    )
    .await
}

pub async fn touch(db: &impl GenericClient, workspace: WorkspaceId, id: Uuid) -> Result<(), Error> {
    db.execute(
        "UPDATE conversations SET updated_at = now() WHERE id = $1 AND workspace_id = $2",
        &[&id, workspace.as_uuid()],
    )
    .await
    .map(drop)
}

/// A message to store.
#[derive(Debug, Clone, Copy)]
pub struct NewMessage<'a> {
    pub id: Uuid,
    pub conversation: Uuid,
    pub role: MessageRole,
    pub content: &'a str,
    /// The knowledge-base sources of an answer.
    pub sources: Option<&'a serde_json::Value>,
    /// The tokens the answer used.
    pub usage: Option<TokenUsage>,
    /// The member who wrote a person's reply.
    pub author: Option<Uuid>,
}

pub async fn insert_message(
    db: &impl GenericClient,
    workspace: WorkspaceId,
    m: &NewMessage<'_>,
) -> Result<(), Error> {
    let tokens = |f: fn(&TokenUsage) -> u32| m.usage.and_then(|u| i32::try_from(f(&u)).ok());
    db.execute(
        "INSERT INTO messages (id, workspace_id, conversation_id, role, content, sources, prompt_tokens, completion_tokens, author_user_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        &[
            &m.id,
            workspace.as_uuid(),
            &m.conversation,
            &m.role.as_str(),
            &m.content,
            &m.sources,
            &tokens(|u| u.prompt_tokens),
            &tokens(|u| u.completion_tokens),
            &m.author,
        ],
    )
    .await
    .map(drop)
}

/// A conversation's messages, oldest first.
pub async fn messages(
    db: &impl GenericClient,
    workspace: WorkspaceId,
    conversation: Uuid,
) -> Result<Vec<MessageRow>, Error> {
    Ok(db
        .query(
            "SELECT m.id, m.conversation_id, m.role, m.content, m.sources, m.created_at, f.rating
               FROM messages m LEFT JOIN message_feedback f ON f.message_id = m.id
              WHERE m.conversation_id = $1 AND m.workspace_id = $2 ORDER BY m.created_at, m.id",
            &[&conversation, workspace.as_uuid()],
        )
        .await?
        .iter()
        .map(message)
        .collect())
}

/// The newest `limit` messages of a conversation, oldest first (a prompt never needs more).
pub async fn recent_messages(
    db: &impl GenericClient,
    workspace: WorkspaceId,
    conversation: Uuid,
    limit: i64,
) -> Result<Vec<MessageRow>, Error> {
    let mut rows: Vec<MessageRow> = db
        .query(
            "SELECT id, conversation_id, role, content, sources, created_at, NULL::text AS rating FROM messages
              WHERE conversation_id = $1 AND workspace_id = $2 ORDER BY created_at DESC, id DESC LIMIT $3",
            &[&conversation, workspace.as_uuid(), &limit],
        )
        .await?
        .iter()
        .map(message)
        .collect();
    rows.reverse();
    Ok(rows)
}

/// A message of this workspace, by id.
pub async fn message_by_id(
    db: &impl GenericClient,
    workspace: WorkspaceId,
    id: Uuid,
) -> Result<Option<MessageRow>, Error> {
    Ok(super::read_one(
        db,
        "SELECT m.id, m.conversation_id, m.role, m.content, m.sources, m.created_at, f.rating
               FROM messages m LEFT JOIN message_feedback f ON f.message_id = m.id
              WHERE m.id = $1 AND m.workspace_id = $2",
        workspace,
        id,
        &[],
    )
    .await?
    .as_ref()
    .map(message))
}

/// An assistant message of a live conversation in this workspace.
pub async fn assistant_message(
    db: &impl GenericClient,
    workspace: WorkspaceId,
    id: Uuid,
) -> Result<Option<MessageRow>, Error> {
    Ok(super::read_one(
        db,
        "SELECT m.id, m.conversation_id, m.role, m.content, m.sources, m.created_at, NULL::text AS rating
               FROM messages m JOIN conversations c ON c.id = m.conversation_id
              WHERE m.id = $1 AND m.workspace_id = $2 AND m.role = 'assistant' AND c.deleted_at IS NULL",
        workspace,
        id,
        &[],
    )
    .await?
    .as_ref()
    .map(message))
}

pub async fn upsert_feedback(
    db: &impl GenericClient,
    workspace: WorkspaceId,
    message: Uuid,
    by: Caller,
    rating: &str,
    comment: Option<&str>,
) -> Result<(), Error> {
    db.execute(
        "INSERT INTO message_feedback (message_id, workspace_id, user_id, api_key_id, visitor_id, rating, comment)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (message_id) DO UPDATE SET user_id = EXCLUDED.user_id, api_key_id = EXCLUDED.api_key_id,
             visitor_id = EXCLUDED.visitor_id, rating = EXCLUDED.rating, comment = EXCLUDED.comment, updated_at = now()",
        &[&message, workspace.as_uuid(), &by.user_id(), &by.api_key_id(), &by.visitor_id(), &rating, &comment],
    )
    .await
    .map(drop)
}

pub async fn mark_escalated(
    db: &impl GenericClient,
    workspace: WorkspaceId,
    id: Uuid,
    by: Caller,
) -> Result<DateTime<Utc>, Error> {
    Ok(db
        .query_one(
            "UPDATE conversations SET escalated_at = now(), escalated_by = $3, escalated_by_api_key_id = $4,
                    updated_at = now()
              WHERE id = $1 AND workspace_id = $2 RETURNING escalated_at",
            &[&id, workspace.as_uuid(), &by.user_id(), &by.api_key_id()],
        )
        .await?
        .get(0))
}

// Read in the shape the API shows (`GET /api/v1/agents/feedback`), so there is no second copy of these fields.
/// A rating of an answer, with the question and the answer it rates.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = FeedbackView)]
pub struct FeedbackRow {
    pub message_id: Uuid,
    pub conv_id: Uuid,
    /// up or down
    pub rating: String,
    pub comment: Option<String>,
    pub created_at: DateTime<Utc>,
    /// The visitor's or member's message the answer replied to.
    pub question: Option<String>,
    pub answer: String,
}

/// Ratings of live conversations' answers, newest first, before the cursor `(created_at, message_id)`,
/// optionally of one rating.
pub async fn list_feedback(
    db: &impl GenericClient,
    workspace: WorkspaceId,
    rating: Option<&str>,
    before: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<FeedbackRow>, Error> {
    let (at, id) = before.map_or((None, None), |(a, i)| (Some(a), Some(i)));
    Ok(db
        .query(
            "SELECT f.message_id, m.conversation_id, f.rating, f.comment, f.created_at, m.content AS answer,
                    (SELECT q.content FROM messages q
                      WHERE q.conversation_id = m.conversation_id AND q.workspace_id = m.workspace_id
                        AND q.role = 'user' AND (q.created_at, q.id) < (m.created_at, m.id)
                      ORDER BY q.created_at DESC, q.id DESC LIMIT 1) AS question
               FROM message_feedback f
               JOIN messages m ON m.id = f.message_id AND m.workspace_id = f.workspace_id
               JOIN conversations c ON c.id = m.conversation_id AND c.deleted_at IS NULL
              WHERE f.workspace_id = $1
                AND ($2::text IS NULL OR f.rating = $2)
                AND ($3::timestamptz IS NULL OR (f.created_at, f.message_id) < ($3, $4))
              ORDER BY f.created_at DESC, f.message_id DESC LIMIT $5",
            &[workspace.as_uuid(), &rating, &at, &id, &limit],
        )
        .await?
        .iter()
        .map(|r| FeedbackRow {
            message_id: r.get("message_id"),
            conv_id: r.get("conversation_id"),
            rating: r.get("rating"),
            comment: r.get("comment"),
            created_at: r.get("created_at"),
            question: r.get("question"),
            answer: r.get("answer"),
        })
        .collect())
}

/// Locks a live conversation (its status changes under this lock only).
pub async fn lock(
    db: &impl GenericClient,
    workspace: WorkspaceId,
    id: Uuid,
) -> Result<Option<ConversationRow>, Error> {
    Ok(super::read_one(
        db,
        concat!(
            "SELECT ",
            columns!(),
            " FROM conversations WHERE id = $1 AND workspace_id = $2 AND deleted_at IS NULL FOR UPDATE"
        ),
        workspace,
        id,
        &[],
    )
    .await?
    .as_ref()
    .map(conversation))
}

/// Sets the status (its change time only when it changes) and notes the activity.
pub async fn set_status(
    db: &impl GenericClient,
    workspace: WorkspaceId,
    id: Uuid,
    status: ConversationStatus,
) -> Result<(), Error> {
    db.execute(
        "UPDATE conversations
            SET status_changed_at = CASE WHEN status = $3 THEN status_changed_at ELSE now() END,
                status = $3, updated_at = now()
          WHERE id = $1 AND workspace_id = $2",
        &[&id, workspace.as_uuid(), &status.as_str()],
    )
    .await
    .map(drop)
}

/// Where the visitor wants a person's reply mailed.
pub async fn set_contact_email(
    db: &impl GenericClient,
    workspace: WorkspaceId,
    id: Uuid,
    email: &str,
) -> Result<(), Error> {
    db.execute(
        "UPDATE conversations SET contact_email = $3 WHERE id = $1 AND workspace_id = $2",
        &[&id, workspace.as_uuid(), &email],
    )
    .await
    .map(drop)
}

/// A visitor's live conversations, newest activity first, before the cursor `(updated_at, id)`.
pub async fn list_for_visitor(
    db: &impl GenericClient,
    workspace: WorkspaceId,
    visitor: Uuid,
    before: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<ConversationRow>, Error> {
    let (at, id) = before.map_or((None, None), |(a, i)| (Some(a), Some(i)));
    Ok(db
        .query(
            concat!(
                "SELECT ",
                columns!(),
                " FROM conversations WHERE workspace_id = $1 AND visitor_id = $2 AND deleted_at IS NULL
                    AND ($3::timestamptz IS NULL OR (updated_at, id) < ($3, $4))
                  ORDER BY updated_at DESC, id DESC LIMIT $5"
            ),
            &[workspace.as_uuid(), &visitor, &at, &id, &limit],
        )
        .await?
        .iter()
        .map(conversation)
        .collect())
}

/// The messages of a conversation after the message `after` (all when `None`), oldest first, at most
/// `limit`. `None` when `after` is not a message of this conversation.
pub async fn messages_after(
    db: &impl GenericClient,
    workspace: WorkspaceId,
    conversation: Uuid,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Option<Vec<MessageRow>>, Error> {
    let cursor: Option<(DateTime<Utc>, Uuid)> = match after {
        None => None,
        Some(id) => match db
            .query_opt(
                "SELECT created_at, id FROM messages WHERE id = $1 AND conversation_id = $2 AND workspace_id = $3",
                &[&id, &conversation, workspace.as_uuid()],
            )
            .await?
        {
            Some(r) => Some((r.get(0), r.get(1))),
            None => return Ok(None),
        },
    };
    let (at, id) = cursor.map_or((None, None), |(a, i)| (Some(a), Some(i)));
    Ok(Some(
        db.query(
            "SELECT m.id, m.conversation_id, m.role, m.content, m.sources, m.created_at, f.rating
               FROM messages m LEFT JOIN message_feedback f ON f.message_id = m.id
              WHERE m.conversation_id = $1 AND m.workspace_id = $2
                AND ($3::timestamptz IS NULL OR (m.created_at, m.id) > ($3, $4))
              ORDER BY m.created_at, m.id LIMIT $5",
            &[&conversation, workspace.as_uuid(), &at, &id, &limit],
        )
        .await?
        .iter()
        .map(message)
        .collect(),
    ))
}

/// The inbox: a workspace's live visitor conversations in `status`, the longest unchanged first, after
/// the cursor `(status_changed_at, id)`.
pub async fn inbox(
    db: &impl GenericClient,
    workspace: WorkspaceId,
    status: ConversationStatus,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<ConversationRow>, Error> {
    let (at, id) = after.map_or((None, None), |(a, i)| (Some(a), Some(i)));
    Ok(db
        .query(
            concat!(
                "SELECT ",
                columns!(),
                " FROM conversations
                  WHERE workspace_id = $1 AND status = $2 AND visitor_id IS NOT NULL AND deleted_at IS NULL
                    AND ($3::timestamptz IS NULL OR (status_changed_at, id) > ($3, $4))
                  ORDER BY status_changed_at, id LIMIT $5"
            ),
            &[workspace.as_uuid(), &status.as_str(), &at, &id, &limit],
        )
        .await?
        .iter()
        .map(conversation)
        .collect())
}

/// The visitor's CSAT rating of a conversation (replacing an earlier one).
pub async fn rate(
    db: &impl GenericClient,
    workspace: WorkspaceId,
    id: Uuid,
    score: i16,
    comment: Option<&str>,
) -> Result<(), Error> {
    db.execute(
        "UPDATE conversations SET csat_score = $3, csat_comment = $4, csat_at = now()
          WHERE id = $1 AND workspace_id = $2",
        &[&id, workspace.as_uuid(), &score, &comment],
    )
    .await
    .map(drop)
}
