//! Row-level security's half in the application: a transaction that runs as the non-owner role
//! `studio_app`, with the workspace (and the user) it may see, set from a checked proof.
//!
//! PostgreSQL holds the other half (migration V20): every tenant-owned table has a policy that lets
//! `studio_app` see and write only the rows of `app.workspace_id`, so a query written without its
//! `workspace_id` filter still returns nothing of another tenant. The cross-tenant paths (cron, the
//! admin API, the workers, sign-in and webhooks) run as the login role, which the migration makes a member
//! of `studio_service`, the named role whose policies span tenants.
//!
//! The settings are transaction-local (`SET LOCAL ROLE`, `set_config(…, true)`): they end with the
//! transaction, so a pooled connection — ours, or RDS Proxy's in transaction pooling — never carries them
//! to the next request. They travel in the same round trip as the first query: the `BEGIN` batch is
//! queued on the connection without waiting for its answer, and the first query follows it. If that
//! batch fails (a role missing), the transaction is aborted and every query after it fails: closed, not
//! open.
//!
//! A scoped transaction that is dropped rolls back (queued on the connection, as tokio-postgres' own
//! transactions do), so a read costs no round trip of its own; writes end with [`Scoped::commit`]. It
//! derefs to the client for the repositories, never mutably: a nested `transaction()` would commit this
//! one and run the rest outside its scope.

use crate::auth::{Access, Caller, MinRole, Tenant};
use crate::ids::WorkspaceId;
use deadpool_postgres::{ClientWrapper, Object, Pool, PoolError};
use futures::FutureExt;
use uuid::Uuid;

/// The role tenant-scoped transactions run as (created by the migrations; not the tables' owner).
pub const APP_ROLE: &str = "studio_app";
/// The named role whose policies span tenants (cron, admin, workers); the login role is a member.
pub const SERVICE_ROLE: &str = "studio_service";

/// What a scoped transaction may see: one workspace's rows, and the user's own (their account, their
/// memberships, the workspaces they belong to).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Scope {
    pub workspace: Option<WorkspaceId>,
    pub user: Option<Uuid>,
}

impl Scope {
    /// The scope of a checked tenant: its workspace, and the member's account when a person acts.
    pub fn of<R: MinRole, A: Access>(tenant: &Tenant<R, A>) -> Self {
        Self::acting(tenant.workspace_id, tenant.actor())
    }

    /// A workspace, and the member's account when the caller is a person (a key or visitor has none).
    pub fn acting(workspace: WorkspaceId, by: Caller) -> Self {
        Self {
            workspace: Some(workspace),
            user: match by {
                Caller::User(id) => Some(id),
                _ => None,
            },
        }
    }

    /// One workspace, for work a trusted message names (a worker's).
    pub fn workspace(workspace: WorkspaceId) -> Self {
        Self {
            workspace: Some(workspace),
            user: None,
        }
    }

    /// A signed-in user's own rows across their workspaces (`/auth/me`, `GET /workspaces`).
    pub fn user(user: Uuid) -> Self {
        Self {
            workspace: None,
            user: Some(user),
        }
    }

    /// The batch that opens the transaction. The values are UUIDs formatted here, never caller text.
    fn begin_sql(&self) -> String {
        let workspace = self.workspace.map(|w| w.to_string()).unwrap_or_default();
        let user = self.user.map(|u| u.to_string()).unwrap_or_default();
        format!(
            "BEGIN; SET LOCAL ROLE {APP_ROLE}; \
             SELECT set_config('app.workspace_id', '{workspace}', true), set_config('app.user_id', '{user}', true)"
        )
    }
}

/// A transaction running as [`APP_ROLE`] within a [`Scope`]. Dropped: rolled back.
pub struct Scoped {
    // Boxed: the pooled object is large, and the transaction is passed around by value.
    client: Option<Box<Object>>,
}

impl Scoped {
    /// Takes a connection and opens the scoped transaction (its opening travels with the first query).
    pub async fn begin(pool: &Pool, scope: Scope) -> Result<Self, PoolError> {
        let client = pool.get().await?;
        send_without_waiting(&client, &scope.begin_sql());
        Ok(Self {
            client: Some(Box::new(client)),
        })
    }

    /// The scoped transaction of a checked tenant.
    pub async fn tenant<R: MinRole, A: Access>(
        pool: &Pool,
        tenant: &Tenant<R, A>,
    ) -> Result<Self, PoolError> {
        Self::begin(pool, Scope::of(tenant)).await
    }

    /// Commits what the transaction wrote.
    pub async fn commit(mut self) -> Result<(), tokio_postgres::Error> {
        let client = self.client.take();
        match client {
            Some(client) => client.batch_execute("COMMIT").await,
            None => Ok(()),
        }
    }
}

/// Queues a simple-query batch on the connection and returns at once: the message is written when the
/// future is first polled, and tokio-postgres drops an answer nobody waits for. Later queries on the same
/// connection queue behind it, in order.
fn send_without_waiting(client: &Object, sql: &str) {
    // The first poll encodes and queues the message, then waits for the answer: never ready at once
    // (a connection that is already closed answers an error, and the next query fails the same way).
    let _ = client.batch_execute(sql).now_or_never();
}

impl std::ops::Deref for Scoped {
    type Target = ClientWrapper;

    fn deref(&self) -> &ClientWrapper {
        // Only `commit` and `drop` take the client, and both consume the transaction.
        self.client
            .as_deref()
            .map(|object| &**object)
            .unwrap_or_else(|| unreachable!("a scoped transaction is used after it ended"))
    }
}

impl Drop for Scoped {
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            // Queued before the connection goes back to the pool: the next user's queries follow it.
            send_without_waiting(&client, "ROLLBACK");
        }
    }
}

impl std::fmt::Debug for Scoped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scoped").finish_non_exhaustive()
    }
}
