//! The operators' views across tenants: platform counts and the workspace directory. Only the admin API
//! (behind `adminAuth`) calls these; they are the one place queries are not scoped to one workspace.

use super::usage::{PRICE_CTE, ROW_COST};
use chrono::{DateTime, Utc};
use tokio_postgres::{Error, GenericClient, Row};
use uuid::Uuid;

#[derive(Debug, Clone, Copy)]
pub struct PlatformCounts {
    pub users: i64,
    pub workspaces: i64,
    pub suspended_workspaces: i64,
    pub documents: i64,
    pub messages: i64,
    pub pending_outbox: i64,
}

pub async fn counts(db: &impl GenericClient) -> Result<PlatformCounts, Error> {
    let r = db
        .query_one(
            "SELECT (SELECT count(*) FROM users WHERE deleted_at IS NULL) AS users,
                    (SELECT count(*) FROM workspaces WHERE deleted_at IS NULL) AS workspaces,
                    (SELECT count(*) FROM workspaces WHERE deleted_at IS NULL AND suspended_at IS NOT NULL) AS suspended,
                    (SELECT count(*) FROM kb_documents WHERE deleted_at IS NULL) AS documents,
                    (SELECT count(*) FROM messages) AS messages,
                    (SELECT count(*) FROM outbox WHERE sent_at IS NULL) AS pending_outbox",
            &[],
        )
        .await?;
    Ok(PlatformCounts {
        users: r.get("users"),
        workspaces: r.get("workspaces"),
        suspended_workspaces: r.get("suspended"),
        documents: r.get("documents"),
        messages: r.get("messages"),
        pending_outbox: r.get("pending_outbox"),
    })
}

// A workspace in the operators' directory, as the admin API shows it (its doc is the API's).
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = AdminWorkspaceView)]
pub struct AdminWorkspaceRow {
    pub id: Uuid,
    pub name: String,
    pub slug: String,
    pub plan: String,
    pub billing_status: String,
    pub suspended_at: Option<DateTime<Utc>>,
    pub suspended_reason: Option<String>,
    pub members: i64,
    pub created_at: DateTime<Utc>,
    /// When its owner deleted it; null for a live workspace.
    pub deleted_at: Option<DateTime<Utc>>,
    /// A deleted workspace can be restored until then; the `purge-deleted` job hard-deletes it on its
    /// first run after (`deletedAt` + `SOFT_DELETE_RETENTION_DAYS`). Null for a live workspace.
    // A policy, not a column: the admin service sets it from the retention.
    pub purge_after: Option<DateTime<Utc>>,
    /// Listed by cost (`sort=cost`): what its model calls are estimated to have cost in the period.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub estimated_cost: Option<crate::config::usage::Cost>,
    /// Listed by cost: its model calls' tokens in the period.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tokens: Option<i64>,
}

const WORKSPACE_COLUMNS: &str = "w.id, w.name, w.slug, w.plan, w.billing_status, w.suspended_at, w.suspended_reason, w.created_at, w.deleted_at,
    (SELECT count(*) FROM workspace_members m WHERE m.workspace_id = w.id) AS members";

fn workspace_row(r: &Row) -> AdminWorkspaceRow {
    AdminWorkspaceRow {
        id: r.get("id"),
        name: r.get("name"),
        slug: r.get("slug"),
        plan: r.get("plan"),
        billing_status: r.get("billing_status"),
        suspended_at: r.get("suspended_at"),
        suspended_reason: r.get("suspended_reason"),
        members: r.get("members"),
        created_at: r.get("created_at"),
        deleted_at: r.get("deleted_at"),
        purge_after: None,
        estimated_cost: None,
        tokens: None,
    }
}

/// The live workspaces that cost most in `from..=to` (UTC days), by their recorded usage priced with
/// the table `prices` (models, input and output prices per million tokens; unpriced models cost 0),
/// matching the search and suspension filters as [`search_workspaces`]. Workspaces without usage in
/// the period are not listed.
#[allow(clippy::too_many_arguments)]
pub async fn workspaces_by_cost(
    db: &impl GenericClient,
    search: Option<&str>,
    suspended_only: bool,
    from: chrono::NaiveDate,
    to: chrono::NaiveDate,
    prices: &(Vec<String>, Vec<f64>, Vec<f64>),
    limit: i64,
) -> Result<Vec<AdminWorkspaceRow>, Error> {
    let pattern = search.map(like_pattern);
    let sql = format!(
        "WITH {PRICE_CTE},
              c AS (SELECT u.workspace_id,
                           sum({ROW_COST}) AS cost,
                           sum(u.prompt_tokens + u.completion_tokens)::bigint AS tokens
                      FROM usage_daily u LEFT JOIN price p ON p.model = u.model
                     WHERE u.day BETWEEN $4 AND $5
                     GROUP BY 1)
         SELECT {WORKSPACE_COLUMNS}, c.cost::float8 AS cost, c.tokens
           FROM c JOIN workspaces w ON w.id = c.workspace_id
          WHERE w.deleted_at IS NULL
            AND ($6::text IS NULL OR w.name ILIKE $6 OR w.slug ILIKE $6)
            AND (NOT $7 OR w.suspended_at IS NOT NULL)
          ORDER BY c.cost DESC, c.tokens DESC, w.id
          LIMIT $8"
    );
    Ok(db
        .query(
            &sql,
            &[
                &prices.0,
                &prices.1,
                &prices.2,
                &from,
                &to,
                &pattern,
                &suspended_only,
                &limit,
            ],
        )
        .await?
        .iter()
        .map(|r| {
            let mut row = workspace_row(r);
            row.estimated_cost = Some(crate::config::usage::Cost::of(r.get("cost")));
            row.tokens = Some(r.get("tokens"));
            row
        })
        .collect())
}

/// `%search%` for ILIKE, with `%`, `_` and `\` in the search taken literally.
fn like_pattern(s: &str) -> String {
    let escaped = s
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

/// Live workspaces (or, with `deleted`, soft-deleted ones not yet purged) whose name or slug contains
/// `search` (case-insensitive), newest first, before the cursor (created_at, id). `%` and `_` in the
/// search are literal.
pub async fn search_workspaces(
    db: &impl GenericClient,
    search: Option<&str>,
    suspended_only: bool,
    deleted: bool,
    before: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<AdminWorkspaceRow>, Error> {
    let pattern = search.map(like_pattern);
    let (at, id) = before.unzip();
    let sql = format!(
        "SELECT {WORKSPACE_COLUMNS} FROM workspaces w
          WHERE (w.deleted_at IS NOT NULL) = $6
            AND ($1::text IS NULL OR w.name ILIKE $1 OR w.slug ILIKE $1)
            AND (NOT $2 OR w.suspended_at IS NOT NULL)
            AND ($3::timestamptz IS NULL OR (w.created_at, w.id) < ($3, $4))
          ORDER BY w.created_at DESC, w.id DESC LIMIT $5"
    );
    Ok(db
        .query(
            &sql,
            &[&pattern, &suspended_only, &at, &id, &limit, &deleted],
        )
        .await?
        .iter()
        .map(workspace_row)
        .collect())
}

pub async fn workspace(
    db: &impl GenericClient,
    id: Uuid,
) -> Result<Option<AdminWorkspaceRow>, Error> {
    let sql = format!(
        "SELECT {WORKSPACE_COLUMNS} FROM workspaces w WHERE w.id = $1 AND w.deleted_at IS NULL"
    );
    Ok(db
        .query_opt(&sql, &[&id])
        .await?
        .as_ref()
        .map(workspace_row))
}

/// Suspends (with a reason) or restores an active workspace; false when there is no such workspace.
pub async fn set_suspended(
    db: &impl GenericClient,
    id: Uuid,
    reason: Option<&str>,
    suspended: bool,
) -> Result<bool, Error> {
    db.execute(
        "UPDATE workspaces
            SET suspended_at = CASE WHEN $3 THEN COALESCE(suspended_at, now()) END,
                suspended_reason = CASE WHEN $3 THEN $2 END,
                updated_at = now()
          WHERE id = $1 AND deleted_at IS NULL",
        &[&id, &reason, &suspended],
    )
    .await
    .map(|n| n == 1)
}

/// Where a workspace stands for a restore, read under a row lock (so the purge job, which skips locked
/// rows, cannot take it meanwhile).
#[derive(Debug, Clone, Copy)]
pub struct Deletion {
    /// Null when the workspace is live.
    pub deleted_at: Option<DateTime<Utc>>,
    /// Still inside the retention window: exactly the rows the purge job does not claim
    /// (`maintenance::claim_expired_workspaces`).
    pub within_retention: bool,
}

/// Locks a workspace, deleted or not, and says where it stands; None when there is no such row (never
/// created, or purged).
pub async fn lock_for_restore(
    db: &impl GenericClient,
    id: Uuid,
    retention_days: i32,
) -> Result<Option<Deletion>, Error> {
    let past = super::maintenance::PAST_RETENTION;
    Ok(db
        .query_opt(
            &format!(
                "SELECT deleted_at, NOT COALESCE({past}, false) AS within
                   FROM workspaces WHERE id = $2 FOR UPDATE"
            ),
            &[&retention_days, &id],
        )
        .await?
        .map(|r| Deletion {
            deleted_at: r.get("deleted_at"),
            within_retention: r.get("within"),
        }))
}

/// Undoes a soft delete; false when the workspace was not deleted.
pub async fn restore(db: &impl GenericClient, id: Uuid) -> Result<bool, Error> {
    db.execute(
        "UPDATE workspaces SET deleted_at = NULL, updated_at = now() WHERE id = $1 AND deleted_at IS NOT NULL",
        &[&id],
    )
    .await
    .map(|n| n == 1)
}
