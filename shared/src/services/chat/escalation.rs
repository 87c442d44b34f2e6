//! Handing a conversation to a person.

use crate::auth::{Access, Caller, MemberRole, Tenant};
use crate::error::ApiError;
use crate::repo::conversations;
use crate::services::agent_config;
use crate::state::KnowledgeState;
use chrono::{DateTime, Utc};
use serde::Serialize;
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
            role: m.role.as_str(),
            content: &m.content,
        })
        .collect();
    let by = match tenant.actor() {
        Caller::User(user) => crate::repo::users::find_active(&*tx, user)
            .await?
            .map_or_else(
                || "a member".to_owned(),
                |u| format!("{} <{}>", u.name, u.email),
            ),
        Caller::Key(key) => format!("the workspace's API key {key}"),
    };
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
    let at = conversations::mark_escalated(&*tx, ws, id, tenant.actor()).await?;
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
