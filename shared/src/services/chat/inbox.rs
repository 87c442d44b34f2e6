//! The team's side of a handoff: the inbox of visitors' conversations by status, a person's reply
//! (which takes the conversation: `human`; mailed to the visitor when they left an address), and moving
//! a conversation along the state machine of [`crate::agent::handoff`].

use super::{ConversationSummary, MessageView, message_view, summary};
use crate::agent::handoff::Event;
use crate::agent::{ConversationStatus, MessageRole};
use crate::auth::{Access, MemberRole, Tenant, Viewer};
use crate::db::Scoped;
use crate::error::ApiError;
use crate::paging::{Cursor, Page, PageParams};
use crate::repo::conversations::{self, ConversationRow, NewMessage};
use crate::state::KnowledgeState;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

/// A person's reply, as stored, and the conversation's status after it.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HumanReply {
    pub message: MessageView,
    pub status: ConversationStatus,
    /// Whether the reply was also mailed to the address the visitor left.
    pub mailed: bool,
}

/// The workspace's visitor conversations in `status`, the longest unchanged first (oldest waiting first).
pub async fn inbox(
    state: &KnowledgeState,
    tenant: &Tenant<Viewer, impl Access>,
    status: ConversationStatus,
    page: &PageParams,
) -> Result<Page<ConversationSummary>, ApiError> {
    let limit = page.limit();
    let after = page.cursor()?.map(|c| (c.at, c.id));
    let client = Scoped::tenant(&state.app.db, tenant).await?;
    let rows = conversations::inbox(
        &**client,
        tenant.workspace_id,
        status,
        after,
        i64::from(limit) + 1,
    )
    .await?;
    Page::from_rows(rows, limit, |r| Cursor {
        at: r.status_changed_at,
        id: r.id,
    })
    .try_map(|r| Ok::<_, ApiError>(summary(r)))
}

/// A visitor's conversation, locked; a member's own conversation has no one to hand over to.
async fn visitors_locked(
    db: &impl tokio_postgres::GenericClient,
    tenant_ws: crate::ids::WorkspaceId,
    id: Uuid,
) -> Result<ConversationRow, ApiError> {
    let row = conversations::lock(db, tenant_ws, id)
        .await?
        .ok_or_else(|| ApiError::not_found("Conversation"))?;
    if row.visitor_id.is_none() {
        return Err(ApiError::conflict(
            "This conversation is a member's, not a visitor's: only visitors' conversations are handed to people.",
        ));
    }
    Ok(row)
}

/// A member's reply in a visitor's conversation: the conversation becomes `human` (the agent stays
/// silent), and the reply is mailed to the visitor when they left an address.
pub async fn reply(
    state: &KnowledgeState,
    tenant: &Tenant<MemberRole>,
    id: Uuid,
    message: &str,
) -> Result<HumanReply, ApiError> {
    let ws = tenant.workspace_id;
    let tx = Scoped::tenant(&state.app.db, tenant).await?;
    let row = visitors_locked(&**tx, ws, id).await?;
    let status = row
        .status
        .after(Event::MemberReplies)
        .map_err(|e| ApiError::conflict(e.to_string()))?;
    let message_id = Uuid::now_v7();
    conversations::insert_message(
        &**tx,
        ws,
        &NewMessage {
            id: message_id,
            conversation: id,
            role: MessageRole::Human,
            content: message,
            sources: None,
            usage: None,
            author: Some(tenant.user_id()),
        },
    )
    .await?;
    conversations::set_status(&**tx, ws, id, status).await?;
    let mail = match &row.contact_email {
        Some(to) => {
            let company = crate::services::agent_config::load(&**tx, ws)
                .await?
                .config
                .company_name;
            let title = row.title.as_deref().unwrap_or("your question");
            let mail = crate::email::templates::team_reply(to, &company, title, message);
            Some(crate::email::queue(&**tx, Some(ws), &mail).await?)
        }
        None => None,
    };
    let stored = conversations::message_by_id(&**tx, ws, message_id)
        .await?
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("the reply just stored is missing")))?;
    tx.commit().await?;
    let mailed = mail.is_some();
    if let Some(mail) = mail {
        mail.send(&**state.app.db.get().await?, state.app.email_queue.as_ref())
            .await;
    }
    tracing::info!(workspace_id = %ws, conversation_id = %id, %status, mailed, "a person replied");
    Ok(HumanReply {
        message: message_view(stored),
        status,
        mailed,
    })
}

/// Moves a visitor's conversation to `to` (member or higher): take it (`human`), hand it back to the
/// agent (`bot`), or resolve it; a move the state machine does not have is a 409.
pub async fn set_status(
    state: &KnowledgeState,
    tenant: &Tenant<MemberRole, impl Access>,
    id: Uuid,
    to: ConversationStatus,
) -> Result<ConversationSummary, ApiError> {
    let ws = tenant.workspace_id;
    let tx = Scoped::tenant(&state.app.db, tenant).await?;
    let row = visitors_locked(&**tx, ws, id).await?;
    let status = row
        .status
        .after(Event::MemberSets(to))
        .map_err(|e| ApiError::conflict(format!("{e}.")))?;
    conversations::set_status(&**tx, ws, id, status).await?;
    let row = conversations::get(&**tx, ws, id)
        .await?
        .ok_or_else(|| ApiError::not_found("Conversation"))?;
    tx.commit().await?;
    tracing::info!(workspace_id = %ws, conversation_id = %id, %status, "conversation status set");
    Ok(summary(row))
}
