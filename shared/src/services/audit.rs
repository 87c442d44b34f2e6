//! What an admin changes in a workspace, recorded in its audit log (with the request id) and traced.

use crate::auth::{Admin, Tenant};
use crate::error::ApiError;
use crate::repo::{self, audit::Entry};

/// Records `action` on `target_type` (`target_id`, when the target has an id of its own) by the admin.
pub(crate) async fn record(
    db: &impl tokio_postgres::GenericClient,
    tenant: &Tenant<Admin>,
    action: &str,
    target_type: &str,
    target_id: Option<String>,
    details: serde_json::Value,
) -> Result<(), ApiError> {
    let request_id = crate::telemetry::request_id::current();
    repo::audit::record(
        db,
        &Entry {
            actor: tenant.audit_actor(),
            workspace: Some(tenant.workspace_id),
            action,
            target_type: Some(target_type),
            target_id: target_id.clone(),
            details,
            request_id: request_id.as_deref(),
        },
    )
    .await?;
    tracing::info!(workspace_id = %tenant.workspace_id, action, target_type,
                   target_id = target_id.as_deref(), "workspace audit entry");
    Ok(())
}
