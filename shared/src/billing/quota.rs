//! Plan quotas, checked before a request consumes, and each workspace's billing view: plan, status,
//! limits and usage, counted from the rows themselves.

use super::plan::{BillingStatus, Limits, Plan, Usage};
use crate::auth::{Admin, Tenant};
use crate::error::{ApiError, ErrorCode};
use crate::ids::WorkspaceId;
use crate::repo::billing::{self as repo, Account};
use crate::state::AppState;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

/// What a request is about to consume.
#[derive(Debug, Clone, Copy)]
pub enum Consumption {
    /// One chat turn (a message and its tokens).
    ChatTurn,
    /// This many new documents.
    Documents(u64),
    /// One uploaded file of this many bytes (a new document, and a file within the plan's size).
    Upload(u64),
    /// A new website source that may crawl this many pages (each page a document).
    Source { pages: u64 },
    /// This many new pending invitations: members and pending invitations together must fit the limit.
    Invitations(u64),
    /// This many new members taking the seats their invitations held (an acceptance): the members alone
    /// must fit the limit, which only a downgrade since the invitation can break.
    Members(u64),
}

/// `1 member`, `2 members`.
fn count_of(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// `use all 3`, or `make 5, more than 3` after a downgrade.
fn against(used: u64, max: u64) -> String {
    if used > max {
        format!("make {used}, more than {max}")
    } else {
        format!("use all {max}")
    }
}

/// Refuses with 402 `quota_exceeded`, naming the limit, when the workspace's plan does not allow what the
/// request is about to consume. Usage is counted from the rows themselves, so it is always current. The
/// message says what is counted, and `details` (`{limit, max, used, plan}`, plus `members` and
/// `pendingInvitations` for the members limit) carries the same numbers.
pub async fn check_quota(
    db: &impl tokio_postgres::GenericClient,
    workspace: WorkspaceId,
    what: Consumption,
) -> Result<(), ApiError> {
    check(&account(db, workspace).await?, what)
}

/// [`check_quota`] against an account already read (for a request that needs the plan as well).
pub fn check(current: &Account, what: Consumption) -> Result<(), ApiError> {
    let plan = current.plan;
    let limit = plan.limits();
    let u = &current.usage;
    let exceeded = |name: &str, what: &str, used: u64, max: u64| {
        ApiError::new(
            ErrorCode::QuotaExceeded,
            format!("The {plan} plan allows {max} {what}; {used} are used. Upgrade the plan to continue."),
        )
        .with_details(serde_json::json!({"limit": name, "max": max, "used": used, "plan": plan}))
    };
    match what {
        Consumption::ChatTurn => {
            // A turn needs room in both monthly limits; the chat turns are checked first.
            for (name, what, used, max) in [
                (
                    "chatTurnsPerMonth",
                    "chat turns a month",
                    u.chat_turns_this_month,
                    limit.chat_turns_per_month,
                ),
                (
                    "llmTokensPerMonth",
                    "LLM tokens a month",
                    u.llm_tokens_this_month,
                    limit.llm_tokens_per_month,
                ),
            ] {
                if used >= max {
                    return Err(exceeded(name, what, used, max));
                }
            }
        }
        Consumption::Upload(bytes) => {
            if bytes > limit.upload_bytes {
                let max = limit.upload_bytes;
                return Err(ApiError::new(
                    ErrorCode::PayloadTooLarge,
                    format!(
                        "The {plan} plan allows files of up to {} MB; this one has {bytes} bytes. Split it, or upgrade the plan.",
                        max / (1024 * 1024)
                    ),
                )
                .with_details(serde_json::json!({"limit": "uploadBytes", "max": max, "size": bytes, "plan": plan})));
            }
            if u.documents + 1 > limit.documents {
                let (used, max) = (u.documents, limit.documents);
                return Err(exceeded("documents", "documents", used, max));
            }
        }
        Consumption::Source { pages } => {
            if u.sources + 1 > limit.sources {
                return Err(exceeded(
                    "sources",
                    "website sources",
                    u.sources,
                    limit.sources,
                ));
            }
            if pages > limit.pages_per_source {
                let max = limit.pages_per_source;
                return Err(ApiError::new(
                    ErrorCode::QuotaExceeded,
                    format!("The {plan} plan crawls up to {max} pages a source; maxPages is {pages}. Lower it, or upgrade the plan."),
                )
                .with_details(serde_json::json!({"limit": "pagesPerSource", "max": max, "used": pages, "plan": plan})));
            }
        }
        Consumption::Documents(n) => {
            if u.documents + n > limit.documents {
                let (used, max) = (u.documents, limit.documents);
                return Err(exceeded("documents", "documents", used, max));
            }
        }
        Consumption::Invitations(n) => {
            let (max, used) = (limit.members, u.members + u.pending_invitations);
            if used + n > max {
                let counted = if u.pending_invitations == 0 {
                    count_of(u.members, "member", "members")
                } else {
                    format!(
                        "{} and {}",
                        count_of(u.members, "member", "members"),
                        count_of(
                            u.pending_invitations,
                            "pending invitation",
                            "pending invitations"
                        )
                    )
                };
                let remedy = if u.pending_invitations == 0 {
                    "Remove a member or upgrade the plan to continue."
                } else {
                    "Revoke a pending invitation, remove a member or upgrade the plan to continue."
                };
                return Err(ApiError::new(
                    ErrorCode::QuotaExceeded,
                    format!(
                        "The {plan} plan allows {max} members, counting pending invitations; {counted} {}. {remedy}",
                        against(used, max)
                    ),
                )
                .with_details(serde_json::json!({
                    "limit": "members", "max": max, "used": used, "plan": plan,
                    "members": u.members, "pendingInvitations": u.pending_invitations,
                })));
            }
        }
        Consumption::Members(n) => {
            let (max, used) = (limit.members, u.members);
            if used + n > max {
                return Err(ApiError::new(
                    ErrorCode::QuotaExceeded,
                    format!(
                        "The {plan} plan allows {max} members; {} {}. Remove a member or upgrade the plan to continue.",
                        count_of(used, "member", "members"),
                        against(used, max)
                    ),
                )
                .with_details(serde_json::json!({
                    "limit": "members", "max": max, "used": used, "plan": plan, "members": u.members,
                })));
            }
        }
    }
    Ok(())
}

/// The workspace's plan, status and usage, counted now.
pub async fn account(
    db: &impl tokio_postgres::GenericClient,
    workspace: WorkspaceId,
) -> Result<Account, ApiError> {
    repo::account(db, workspace)
        .await?
        .ok_or_else(|| ApiError::not_found("Workspace"))
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BillingView {
    /// free, pro or business
    #[schema(value_type = String)]
    pub plan: Plan,
    /// Stripe's subscription status, or none
    #[schema(value_type = String)]
    pub status: BillingStatus,
    pub current_period_end: Option<DateTime<Utc>>,
    pub limits: Limits,
    pub usage: Usage,
}

pub async fn view(state: &AppState, tenant: &Tenant<Admin>) -> Result<BillingView, ApiError> {
    let client = crate::db::Scoped::tenant(&state.db, tenant).await?;
    let current = account(&**client, tenant.workspace_id).await?;
    Ok(BillingView {
        limits: current.plan.limits(),
        plan: current.plan,
        status: current.status,
        current_period_end: current.current_period_end,
        usage: current.usage,
    })
}
