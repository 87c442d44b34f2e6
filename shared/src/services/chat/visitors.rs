//! A visitor's data, as the workspace owes it to them: exported (who they are, every conversation with its
//! messages) and erased (the visitor, their conversations, ratings and sessions; the audit log records
//! the erasure without any personal data). Admin or higher.

use super::{ConversationView, message_view, summary};
use crate::auth::{Admin, Tenant};
use crate::db::Scoped;
use crate::error::ApiError;
use crate::repo::{conversations, visitors};
use crate::state::KnowledgeState;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

/// Conversations one export holds, at most.
const MAX_EXPORTED_CONVERSATIONS: i64 = 1000;

/// A visitor as the export shows it.
pub use crate::repo::visitors::VisitorRow as VisitorView;

/// Everything stored about a visitor.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VisitorExport {
    pub visitor: VisitorView,
    /// Newest activity first, each with its messages (at most 1000 conversations).
    pub conversations: Vec<ConversationView>,
    pub exported_at: DateTime<Utc>,
}

/// Exports a visitor of the workspace (another workspace's is not found).
pub async fn export(
    state: &KnowledgeState,
    tenant: &Tenant<Admin>,
    id: Uuid,
) -> Result<VisitorExport, ApiError> {
    let ws = tenant.workspace_id;
    let client = Scoped::tenant(&state.app.db, tenant).await?;
    let v = visitors::get(&**client, ws, id)
        .await?
        .ok_or_else(|| ApiError::not_found("Visitor"))?;
    let rows = conversations::list_for_visitor(&**client, ws, id, None, MAX_EXPORTED_CONVERSATIONS)
        .await?;
    let mut exported = Vec::with_capacity(rows.len());
    for row in rows {
        let messages = conversations::messages(&**client, ws, row.id).await?;
        exported.push(ConversationView {
            conversation: summary(row),
            messages: messages.into_iter().map(message_view).collect(),
        });
    }
    tracing::info!(workspace_id = %ws, visitor_id = %id, conversations = exported.len(), "visitor exported");
    Ok(VisitorExport {
        visitor: v,
        conversations: exported,
        exported_at: Utc::now(),
    })
}

/// Erases a visitor of the workspace with everything of theirs, and records it (without personal data).
pub async fn erase(
    state: &KnowledgeState,
    tenant: &Tenant<Admin>,
    id: Uuid,
) -> Result<(), ApiError> {
    let ws = tenant.workspace_id;
    let tx = Scoped::tenant(&state.app.db, tenant).await?;
    let held = conversations::list_for_visitor(&**tx, ws, id, None, i64::MAX)
        .await?
        .len();
    if !visitors::delete(&**tx, ws, id).await? {
        return Err(ApiError::not_found("Visitor"));
    }
    crate::services::audit::record(
        &**tx,
        tenant,
        "visitor.erase",
        "visitor",
        Some(id.to_string()),
        json!({"conversations": held}),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(workspace_id = %ws, visitor_id = %id, conversations = held, "visitor erased");
    Ok(())
}
