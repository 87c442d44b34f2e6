//! Every SQL statement, one module per aggregate, always parameterised. Functions take any
//! [`GenericClient`](deadpool_postgres::GenericClient) so callers decide the transaction.

pub mod admin;
pub mod api_keys;
pub mod audit;
pub mod billing;
pub mod conversations;
pub mod documents;
pub mod email_deliveries;
pub mod erasure;
pub mod exports;
pub mod idempotency;
pub mod identities;
pub mod identity_secrets;
pub mod intakes;
pub mod invitations;
pub mod maintenance;
pub mod members;
pub mod outbox;
pub mod password_resets;
pub mod refresh_tokens;
pub mod reindex;
pub mod sources;
#[cfg(feature = "knowledge")]
pub mod term_stats;
pub mod usage;
pub mod users;
pub mod visitors;
pub mod widget_settings;
pub mod workspaces;

use crate::ids::WorkspaceId;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Error, GenericClient, Row};
use uuid::Uuid;

type Param<'a> = &'a (dyn ToSql + Sync);

/// The parameters of a statement about one row of a tenant's table: `$1` its id, `$2` its workspace
/// (the tenant filter is in every such statement), then `rest` as `$3`….
fn one_row<'a>(workspace: &'a WorkspaceId, id: &'a Uuid, rest: &[Param<'a>]) -> Vec<Param<'a>> {
    let mut params: Vec<Param<'a>> = vec![id, workspace.as_uuid()];
    params.extend_from_slice(rest);
    params
}

/// Runs a statement about one row of a tenant's table (see [`one_row`]); true when it changed that row.
pub(crate) async fn change_one(
    db: &impl GenericClient,
    sql: &str,
    workspace: WorkspaceId,
    id: Uuid,
    rest: &[Param<'_>],
) -> Result<bool, Error> {
    Ok(db.execute(sql, &one_row(&workspace, &id, rest)).await? == 1)
}

/// The row a statement about one row of a tenant's table reads or returns (see [`one_row`]).
pub(crate) async fn read_one(
    db: &impl GenericClient,
    sql: &str,
    workspace: WorkspaceId,
    id: Uuid,
    rest: &[Param<'_>],
) -> Result<Option<Row>, Error> {
    db.query_opt(sql, &one_row(&workspace, &id, rest)).await
}

/// The rows a statement about the children of one row of a tenant's table returns (see [`one_row`]: `$1`
/// is the parent's id).
pub(crate) async fn read_many(
    db: &impl GenericClient,
    sql: &str,
    workspace: WorkspaceId,
    id: Uuid,
    rest: &[Param<'_>],
) -> Result<Vec<Row>, Error> {
    db.query(sql, &one_row(&workspace, &id, rest)).await
}
