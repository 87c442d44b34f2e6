//! A workspace's conversations: listed, read with their messages, renamed, deleted, and the ratings of
//! their answers.

use super::Source;
use crate::agent::{ConversationStatus, MessageRole};
use crate::auth::{Access, MemberRole, Tenant, Viewer};
use crate::db::Scoped;
use crate::error::ApiError;
use crate::paging::{Cursor, Page, PageParams};
use crate::repo::conversations;
use crate::state::KnowledgeState;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

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
    /// Who has it: bot, waiting_for_human, human or resolved.
    pub status: ConversationStatus,
}

/// Who started a conversation.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StartedBy {
    /// The member who started it (null once that account is deleted, or when a visitor did).
    pub user_id: Option<Uuid>,
    /// The visitor on the workspace's site who started it (null when a member or a key did).
    pub visitor_id: Option<Uuid>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MessageView {
    pub id: Uuid,
    /// user, assistant, or human (a member's reply)
    #[schema(value_type = String)]
    pub role: MessageRole,
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

/// A stored message as the API shows it.
pub(crate) fn message_view(m: conversations::MessageRow) -> MessageView {
    MessageView {
        id: m.id,
        sources: m.sources.and_then(|s| serde_json::from_value(s).ok()),
        role: m.role,
        content: m.content,
        created_at: m.created_at,
        rating: m.rating,
    }
}

pub(crate) fn summary(r: conversations::ConversationRow) -> ConversationSummary {
    ConversationSummary {
        id: r.id,
        title: r.title,
        created_at: r.created_at,
        updated_at: r.updated_at,
        escalated_at: r.escalated_at,
        started_by: StartedBy {
            user_id: r.user_id,
            visitor_id: r.visitor_id,
        },
        status: r.status,
    }
}

pub async fn list(
    state: &KnowledgeState,
    tenant: &Tenant<Viewer, impl Access>,
    page: &PageParams,
) -> Result<Page<ConversationSummary>, ApiError> {
    let limit = page.limit();
    let before = page.cursor()?.map(|c| (c.at, c.id));
    let client = Scoped::tenant(&state.app.db, tenant).await?;
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
    tenant: &Tenant<Viewer, impl Access>,
    id: Uuid,
) -> Result<ConversationView, ApiError> {
    let client = Scoped::tenant(&state.app.db, tenant).await?;
    let conversation = conversations::get(&**client, tenant.workspace_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("Conversation"))?;
    let messages = conversations::messages(&**client, tenant.workspace_id, id)
        .await?
        .into_iter()
        .map(message_view)
        .collect();
    Ok(ConversationView {
        conversation: summary(conversation),
        messages,
    })
}

pub async fn rename(
    state: &KnowledgeState,
    tenant: &Tenant<MemberRole, impl Access>,
    id: Uuid,
    title: &str,
) -> Result<ConversationSummary, ApiError> {
    let client = Scoped::tenant(&state.app.db, tenant).await?;
    let renamed = conversations::rename(&**client, tenant.workspace_id, id, title)
        .await?
        .map(summary)
        .ok_or_else(|| ApiError::not_found("Conversation"))?;
    client.commit().await?;
    Ok(renamed)
}

pub async fn delete(
    state: &KnowledgeState,
    tenant: &Tenant<MemberRole, impl Access>,
    id: Uuid,
) -> Result<(), ApiError> {
    let client = Scoped::tenant(&state.app.db, tenant).await?;
    if !conversations::soft_delete(&**client, tenant.workspace_id, id).await? {
        return Err(ApiError::not_found("Conversation"));
    }
    client.commit().await?;
    Ok(())
}

pub async fn feedback(
    state: &KnowledgeState,
    tenant: &Tenant<MemberRole, impl Access>,
    message: Uuid,
    rating: &str,
    comment: Option<&str>,
) -> Result<(), ApiError> {
    let client = Scoped::tenant(&state.app.db, tenant).await?;
    conversations::assistant_message(&**client, tenant.workspace_id, message)
        .await?
        .ok_or_else(|| ApiError::not_found("Assistant message"))?;
    conversations::upsert_feedback(
        &**client,
        tenant.workspace_id,
        message,
        tenant.actor(),
        rating,
        comment,
    )
    .await?;
    client.commit().await?;
    tracing::info!(workspace_id = %tenant.workspace_id, message_id = %message, rating, "feedback recorded");
    Ok(())
}

/// A rating of an answer, with the question and the answer it rates.
pub use conversations::FeedbackRow as FeedbackView;

/// The workspace's ratings of answers, newest first, optionally only `up` or `down`.
pub async fn list_feedback(
    state: &KnowledgeState,
    tenant: &Tenant<Viewer, impl Access>,
    rating: Option<&str>,
    page: &PageParams,
) -> Result<Page<FeedbackView>, ApiError> {
    let limit = page.limit();
    let before = page.cursor()?.map(|c| (c.at, c.id));
    let client = Scoped::tenant(&state.app.db, tenant).await?;
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
