//! Billing's SQL: the workspace a Stripe event is about, the record of each event (applied at most once),
//! the subscription state it writes, and the plan with the usage counted against it.

use crate::billing::plan::{BillingStatus, Plan, Usage};
use crate::ids::WorkspaceId;
use chrono::{DateTime, Utc};
use tokio_postgres::{Error, GenericClient};
use uuid::Uuid;

/// The workspace with this id, if it exists (deleted or not: its events still apply).
pub async fn workspace(db: &impl GenericClient, id: Uuid) -> Result<Option<WorkspaceId>, Error> {
    Ok(db
        .query_opt("SELECT id FROM workspaces WHERE id = $1", &[&id])
        .await?
        .map(|r| WorkspaceId::from_trusted_source(r.get(0))))
}

/// The workspace whose Stripe customer this is.
pub async fn workspace_of_customer(
    db: &impl GenericClient,
    customer: &str,
) -> Result<Option<WorkspaceId>, Error> {
    Ok(db
        .query_opt(
            "SELECT id FROM workspaces WHERE stripe_customer_id = $1",
            &[&customer],
        )
        .await?
        .map(|r| WorkspaceId::from_trusted_source(r.get(0))))
}

/// The workspace's Stripe customer, once a checkout has created one.
pub async fn customer_of(
    db: &impl GenericClient,
    workspace: WorkspaceId,
) -> Result<Option<String>, Error> {
    Ok(db
        .query_opt(
            "SELECT stripe_customer_id FROM workspaces WHERE id = $1",
            &[workspace.as_uuid()],
        )
        .await?
        .and_then(|r| r.get(0)))
}

/// One Stripe event as recorded (its id is the key that makes it apply at most once).
#[derive(Debug, Clone, Copy)]
pub struct EventRecord<'a> {
    pub id: &'a str,
    pub kind: &'a str,
    pub created: DateTime<Utc>,
    pub workspace: Option<WorkspaceId>,
    pub outcome: &'a str,
}

/// Records the event; `false` when it was recorded before (a duplicate delivery).
pub async fn record_event(db: &impl GenericClient, event: EventRecord<'_>) -> Result<bool, Error> {
    let inserted = db
        .execute(
            "INSERT INTO stripe_events (id, type, created, workspace_id, outcome) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING",
            &[
                &event.id,
                &event.kind,
                &event.created,
                &event.workspace.map(|w| *w.as_uuid()),
                &event.outcome,
            ],
        )
        .await?;
    Ok(inserted == 1)
}

/// A completed checkout: the customer and subscription it created, where present.
pub async fn link_checkout(
    db: &impl GenericClient,
    workspace: WorkspaceId,
    customer: Option<&str>,
    subscription: Option<&str>,
) -> Result<(), Error> {
    db.execute(
        "UPDATE workspaces SET stripe_customer_id = COALESCE($2, stripe_customer_id),
                stripe_subscription_id = COALESCE($3, stripe_subscription_id), updated_at = now() WHERE id = $1",
        &[workspace.as_uuid(), &customer, &subscription],
    )
    .await
    .map(drop)
}

/// A subscription's state as one event carries it.
#[derive(Debug, Clone, Copy)]
pub struct Subscription<'a> {
    pub plan: Plan,
    pub status: BillingStatus,
    pub id: Option<&'a str>,
    pub customer: Option<&'a str>,
    pub current_period_end: Option<DateTime<Utc>>,
}

/// Writes the subscription's state unless a later event already did; `false` when this one is stale.
pub async fn set_subscription(
    db: &impl GenericClient,
    workspace: WorkspaceId,
    sub: Subscription<'_>,
    event_at: DateTime<Utc>,
) -> Result<bool, Error> {
    let changed = db
        .execute(
            "UPDATE workspaces SET plan = $2, billing_status = $3, stripe_subscription_id = $4,
                    stripe_customer_id = COALESCE($5, stripe_customer_id), current_period_end = $6,
                    billing_event_at = $7, updated_at = now()
              WHERE id = $1 AND (billing_event_at IS NULL OR billing_event_at <= $7)",
            &[
                workspace.as_uuid(),
                &sub.plan.as_str(),
                &sub.status.as_str(),
                &sub.id,
                &sub.customer,
                &sub.current_period_end,
                &event_at,
            ],
        )
        .await?;
    Ok(changed == 1)
}

/// Writes the billing status an invoice event sets unless a later event already did; `false` when stale.
pub async fn set_billing_status(
    db: &impl GenericClient,
    workspace: WorkspaceId,
    status: BillingStatus,
    event_at: DateTime<Utc>,
) -> Result<bool, Error> {
    let changed = db
        .execute(
            "UPDATE workspaces SET billing_status = $2, billing_event_at = $3, updated_at = now()
              WHERE id = $1 AND (billing_event_at IS NULL OR billing_event_at <= $3)",
            &[workspace.as_uuid(), &status.as_str(), &event_at],
        )
        .await?;
    Ok(changed == 1)
}

/// A workspace's plan, billing state and current usage, counted from the rows themselves.
#[derive(Debug, Clone)]
pub struct Account {
    pub plan: Plan,
    pub status: BillingStatus,
    pub current_period_end: Option<DateTime<Utc>>,
    pub usage: Usage,
}

pub async fn account(
    db: &impl GenericClient,
    workspace: WorkspaceId,
) -> Result<Option<Account>, Error> {
    let pending = crate::repo::invitations::PENDING;
    let Some(row) = db
        .query_opt(
            &format!(
                "SELECT w.plan, w.billing_status, w.current_period_end,
                    (SELECT count(*) FROM messages m WHERE m.workspace_id = w.id AND m.role = 'assistant'
                        AND m.created_at >= date_trunc('month', now())) AS chat,
                    (SELECT COALESCE(sum(COALESCE(m.prompt_tokens, 0) + COALESCE(m.completion_tokens, 0)), 0) FROM messages m
                      WHERE m.workspace_id = w.id AND m.created_at >= date_trunc('month', now()))::bigint AS tokens,
                    (SELECT count(*) FROM kb_documents d WHERE d.workspace_id = w.id AND d.deleted_at IS NULL) AS documents,
                    (SELECT count(*) FROM workspace_members wm WHERE wm.workspace_id = w.id) AS members,
                    (SELECT count(*) FROM invitations i WHERE i.workspace_id = w.id AND {pending}) AS pending_invitations,
                    (SELECT count(*) FROM kb_sources s WHERE s.workspace_id = w.id) AS sources
               FROM workspaces w WHERE w.id = $1"
            ),
            &[workspace.as_uuid()],
        )
        .await?
    else {
        return Ok(None);
    };
    let count = |name: &str| u64::try_from(row.get::<_, i64>(name)).unwrap_or(0);
    Ok(Some(Account {
        usage: Usage {
            chat_turns_this_month: count("chat"),
            llm_tokens_this_month: count("tokens"),
            documents: count("documents"),
            members: count("members"),
            pending_invitations: count("pending_invitations"),
            sources: count("sources"),
        },
        plan: Plan::from_db(row.get("plan")),
        // The column's CHECK admits exactly the statuses the enum has.
        status: BillingStatus::parse(row.get("billing_status")).unwrap_or(BillingStatus::None),
        current_period_end: row.get("current_period_end"),
    }))
}
