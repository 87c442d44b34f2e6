//! Handing a conversation to a person: a member (or key) escalating one of the workspace's
//! conversations, or a visitor asking for a person in theirs (see [`crate::agent::handoff`]).

use crate::agent::handoff::Event;
use crate::agent::{AgentConfig, ConversationStatus};
use crate::auth::{Access, Caller, MemberRole, Tenant};
use crate::db::Scoped;
use crate::email::QueuedMail;
use crate::error::ApiError;
use crate::ids::WorkspaceId;
use crate::repo::conversations::{self, ConversationRow};
use crate::services::agent_config;
use crate::state::KnowledgeState;
use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio_postgres::GenericClient;
use utoipa::ToSchema;
use uuid::Uuid;

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
    tenant: &Tenant<MemberRole, impl Access>,
    id: Uuid,
    reason: Option<&str>,
) -> Result<EscalationView, ApiError> {
    let ws = tenant.workspace_id;
    let tx = Scoped::tenant(&state.app.db, tenant).await?;
    let row = conversations::lock(&**tx, ws, id)
        .await?
        .ok_or_else(|| ApiError::not_found("Conversation"))?;
    if let Some(at) = row.escalated_at {
        return Ok(EscalationView {
            conversation_id: id,
            escalated_at: at,
            already_escalated: true,
        });
    }
    let agent = agent_config::load(&**tx, ws).await?.config;
    if !agent.subsystems.escalation {
        return Err(ApiError::conflict(
            "Escalation is turned off for this workspace: turn on subsystems.escalation in the intake.",
        ));
    }
    let Some(mail) = mail_team(&**tx, state, ws, &row, &agent, tenant.actor(), reason).await?
    else {
        return Err(ApiError::conflict(
            "This workspace has no escalation contact: set escalationEmail in its intake (PUT /api/v1/workspaces/{workspaceId}/intake).",
        ));
    };
    let at = conversations::mark_escalated(&**tx, ws, id, tenant.actor()).await?;
    if row.status != ConversationStatus::Human {
        conversations::set_status(&**tx, ws, id, ConversationStatus::WaitingForHuman).await?;
    }
    tx.commit().await?;
    tracing::info!(workspace_id = %ws, conversation_id = %id, "conversation escalated");
    mail.send(&**state.app.db.get().await?, state.app.email_queue.as_ref())
        .await;
    Ok(EscalationView {
        conversation_id: id,
        escalated_at: at,
        already_escalated: false,
    })
}

/// Puts a locked visitor conversation in a person's hands (a visitor asked, or the agent had nothing to
/// answer from): the status moves to `waiting_for_human` (unless a person has it already), and the
/// escalation contact, if the workspace has one, is mailed the first time. Refused (409) when the
/// workspace turned escalation off. The caller commits, then sends the returned mail.
pub(crate) async fn hand_over(
    db: &impl GenericClient,
    state: &KnowledgeState,
    row: &ConversationRow,
    ws: WorkspaceId,
    by: Caller,
    reason: Option<&str>,
) -> Result<(ConversationStatus, Option<QueuedMail>), ApiError> {
    let agent = agent_config::load(db, ws).await?.config;
    if !agent.subsystems.escalation {
        return Err(ApiError::conflict(
            "This chat does not hand conversations to people: the workspace turned escalation off.",
        ));
    }
    let status = row
        .status
        .after(Event::HandoffAsked)
        .map_err(|e| ApiError::conflict(e.to_string()))?;
    if status != row.status {
        conversations::set_status(db, ws, row.id, status).await?;
    }
    let mut mail = None;
    if row.escalated_at.is_none() {
        mail = mail_team(db, state, ws, row, &agent, by, reason).await?;
        if mail.is_some() {
            conversations::mark_escalated(db, ws, row.id, by).await?;
        }
    }
    tracing::info!(workspace_id = %ws, conversation_id = %row.id, %status, "conversation handed to a person");
    Ok((status, mail))
}

/// Queues the transcript to the workspace's escalation contact (in the caller's transaction); `None`
/// when the workspace has no contact.
async fn mail_team(
    db: &impl GenericClient,
    state: &KnowledgeState,
    ws: WorkspaceId,
    row: &ConversationRow,
    agent: &AgentConfig,
    by: Caller,
    reason: Option<&str>,
) -> Result<Option<QueuedMail>, ApiError> {
    let Some(contact) = &agent.escalation_email else {
        return Ok(None);
    };
    let messages = conversations::messages(db, ws, row.id).await?;
    let transcript: Vec<_> = messages
        .iter()
        .map(|m| crate::email::templates::Line {
            role: m.role.as_str(),
            content: &m.content,
        })
        .collect();
    let by = match by {
        Caller::User(user) => crate::repo::users::find_active(db, user)
            .await?
            .map_or_else(
                || "a member".to_owned(),
                |u| match u.email {
                    Some(email) => format!("{} <{email}>", u.name),
                    None => u.name,
                },
            ),
        Caller::Key(key) => format!("the workspace's API key {key}"),
        Caller::Platform => "the platform".to_owned(),
        Caller::Visitor(_) => row.contact_email.as_deref().map_or_else(
            || "the visitor".to_owned(),
            |email| format!("the visitor <{email}>"),
        ),
    };
    let title = row.title.as_deref().unwrap_or("Untitled conversation");
    let message = crate::email::templates::escalation(
        contact,
        &agent.company_name,
        title,
        row.id,
        &by,
        reason,
        &transcript,
        state.app.config.app_url(),
    );
    Ok(Some(crate::email::queue(db, Some(ws), &message).await?))
}
