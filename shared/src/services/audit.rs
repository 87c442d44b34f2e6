//! The audit log's one writer: an entry with the request's id, written in the caller's transaction, and
//! traced. Operators' actions go to the platform-wide log ([`write`] with no workspace, through
//! `services::admin::audit`); what an admin changes in a workspace goes to that workspace's ([`record`]).

use crate::auth::{Actor, Admin, Tenant};
use crate::error::ApiError;
use crate::ids::WorkspaceId;
pub use crate::repo::audit::AuditRow as AuditEntryView;
use crate::repo::{self, audit::Entry};
use deadpool_postgres::Pool;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

/// A page of the audit log, newest first.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditPage {
    pub items: Vec<AuditEntryView>,
    /// Pass as `before` to get the next (older) page; null on the last page.
    pub next_before: Option<i64>,
}

/// The filter and page of an audit-log listing.
#[derive(Debug, Deserialize, Validate, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Only this action, e.g. `workspace.suspend`.
    #[validate(length(min = 1, max = 100, message = "must be 1 to 100 characters"))]
    pub action: Option<String>,
    /// The `nextBefore` of the previous page.
    pub before: Option<i64>,
    #[validate(range(min = 1, max = 100, message = "must be between 1 and 100"))]
    pub limit: Option<u32>,
}

/// A page of the log, newest first: the operators' (`workspace` `None`) or one workspace's. Reading it
/// is not itself recorded (it would drown the log).
pub async fn page(
    db: &Pool,
    workspace: Option<WorkspaceId>,
    action: Option<&str>,
    before: Option<i64>,
    limit: u32,
) -> Result<AuditPage, ApiError> {
    let client = db.get().await?;
    let mut rows =
        repo::audit::list(&**client, workspace, action, before, i64::from(limit) + 1).await?;
    let next_before = if rows.len() > limit as usize {
        rows.truncate(limit as usize);
        rows.last().map(|r| r.id)
    } else {
        None
    };
    Ok(AuditPage {
        items: rows,
        next_before,
    })
}

/// A workspace's own log (admin or higher): key creation and revocation, identity-secret rotations,
/// widget settings, visitor erasure — by a member, a key or the platform's operators.
pub async fn workspace_log(
    state: &crate::state::AppState,
    tenant: &Tenant<Admin>,
    q: &AuditQuery,
) -> Result<AuditPage, ApiError> {
    page(
        &state.db,
        Some(tenant.workspace_id),
        q.action.as_deref(),
        q.before,
        q.limit.unwrap_or(50).clamp(1, 100),
    )
    .await
}

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
