//! The audit log's one writer: an entry with the request's id, written in the caller's transaction, and
//! traced. Operators' actions go to the platform-wide log ([`write`] with no workspace, through
//! `services::admin::audit`); what an admin changes in a workspace goes to that workspace's ([`record`]).

use crate::auth::{Actor, Admin, Tenant};
use crate::error::ApiError;
use crate::ids::WorkspaceId;
use crate::repo::{self, audit::Entry};

/// Records `action` by `actor`, in `workspace`'s log or (`None`) the platform's, on `target`
/// (its type, and its id when it has one of its own).
pub(crate) async fn write(
    db: &impl tokio_postgres::GenericClient,
    actor: Actor,
    workspace: Option<WorkspaceId>,
    action: &str,
    target: Option<(&str, Option<String>)>,
    details: serde_json::Value,
) -> Result<(), ApiError> {
    let request_id = crate::telemetry::request_id::current();
    let (target_type, target_id) = target.map_or((None, None), |(t, id)| (Some(t), id));
    repo::audit::record(
        db,
        &Entry {
            actor,
            workspace,
            action,
            target_type,
            target_id: target_id.clone(),
            details,
            request_id: request_id.as_deref(),
        },
    )
    .await?;
    tracing::info!(
        workspace_id = workspace.map(tracing::field::display),
        action,
        actor = actor.kind(),
        target_type,
        target_id = target_id.as_deref(),
        "audit entry"
    );
    Ok(())
}

/// Records `action` on `target_type` (`target_id`, when the target has an id of its own) by the admin.
pub(crate) async fn record(
    db: &impl tokio_postgres::GenericClient,
    tenant: &Tenant<Admin>,
    action: &str,
    target_type: &str,
    target_id: Option<String>,
    details: serde_json::Value,
) -> Result<(), ApiError> {
    write(
        db,
        tenant.audit_actor(),
        Some(tenant.workspace_id),
        action,
        Some((target_type, target_id)),
        details,
    )
    .await
}
