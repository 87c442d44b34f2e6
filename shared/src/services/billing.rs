//! Stripe webhooks: the signature checked over the raw body, each event applied at most once (its id
//! recorded in the same transaction as its effect), out-of-order subscription events converging to the
//! latest state, unknown types acknowledged and ignored. And each workspace's billing view.

use crate::config::BillingConfig;
use crate::error::{ApiError, ErrorCode};
use crate::http::{Admin, Tenant};
use crate::ids::WorkspaceId;
use crate::state::AppState;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::Sha256;
use utoipa::ToSchema;
use uuid::Uuid;

/// How old a signed timestamp may be (Stripe's own default).
pub const TOLERANCE_SECS: i64 = 300;

fn bad_signature(why: &str) -> ApiError {
    ApiError::new(
        ErrorCode::InvalidSignature,
        format!("The Stripe-Signature header does not verify: {why}."),
    )
}

/// Checks `Stripe-Signature: t=…,v1=…[,v1=…]` over the raw body: HMAC-SHA256 of `{t}.{body}` with any of
/// the configured secrets matching any `v1`, compared in constant time, `t` within the tolerance of `now`.
pub fn verify_signature(
    header: &str,
    body: &[u8],
    secrets: &[secrecy::SecretString],
    now: i64,
) -> Result<(), ApiError> {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => timestamp = t.parse::<i64>().ok(),
            Some(("v1", v)) => {
                if let Ok(bytes) = hex::decode(v) {
                    signatures.push(bytes);
                }
            }
            _ => {}
        }
    }
    let t = timestamp.ok_or_else(|| bad_signature("no timestamp"))?;
    if signatures.is_empty() {
        return Err(bad_signature("no v1 signature"));
    }
    if (now - t).abs() > TOLERANCE_SECS {
        return Err(bad_signature(
            "the timestamp is outside the 300 second tolerance",
        ));
    }
    for secret in secrets {
        for signature in &signatures {
            let mut mac = Hmac::<Sha256>::new_from_slice(secret.expose_secret().as_bytes())
                .map_err(ApiError::internal)?;
            mac.update(t.to_string().as_bytes());
            mac.update(b".");
            mac.update(body);
            // verify_slice compares in constant time.
            if mac.verify_slice(signature).is_ok() {
                return Ok(());
            }
        }
    }
    Err(bad_signature("no signature matches"))
}

#[derive(Debug, Deserialize)]
struct Event {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    created: i64,
    data: EventData,
}

#[derive(Debug, Deserialize)]
struct EventData {
    object: Value,
}

/// What the webhook did with an event.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookOutcome {
    pub received: bool,
    /// applied, duplicate, stale (older than the state applied), ignored (unknown type or workspace)
    pub outcome: String,
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut cur = v;
    for p in path {
        cur = cur.get(p)?;
    }
    cur.as_str()
}

async fn workspace_for(
    db: &tokio_postgres::Transaction<'_>,
    object: &Value,
) -> Result<Option<WorkspaceId>, ApiError> {
    let by_metadata = str_at(object, &["metadata", "workspaceId"])
        .or_else(|| str_at(object, &["client_reference_id"]))
        .and_then(|s| Uuid::parse_str(s).ok());
    if let Some(id) = by_metadata
        && let Some(row) = db
            .query_opt("SELECT id FROM workspaces WHERE id = $1", &[&id])
            .await?
    {
        return Ok(Some(WorkspaceId::from_trusted_source(row.get(0))));
    }
    if let Some(customer) = str_at(object, &["customer"]) {
        let row = db
            .query_opt(
                "SELECT id FROM workspaces WHERE stripe_customer_id = $1",
                &[&customer],
            )
            .await?;
        return Ok(row.map(|r| WorkspaceId::from_trusted_source(r.get(0))));
    }
    Ok(None)
}

/// Applies one verified event, at most once.
pub async fn handle_event(state: &AppState, body: &[u8]) -> Result<WebhookOutcome, ApiError> {
    let event: Event = serde_json::from_slice(body)
        .map_err(|e| ApiError::new(ErrorCode::MalformedJson, format!("Not a Stripe event: {e}")))?;
    let created = DateTime::<Utc>::from_timestamp(event.created, 0)
        .ok_or_else(|| ApiError::field("created", "not a timestamp"))?;
    let cfg = &state.config.billing;
    let mut client = state.db.get().await?;
    let tx = client.transaction().await?;
    let object = &event.data.object;
    let workspace = workspace_for(&tx, object).await?;
    let outcome = match workspace {
        None => "ignored",
        Some(ws) => apply(&tx, cfg, ws, &event.kind, created, object).await?,
    };
    let recorded = tx
        .execute(
            "INSERT INTO stripe_events (id, type, created, workspace_id, outcome) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING",
            &[&event.id, &event.kind, &created, &workspace.map(|w| *w.as_uuid()), &outcome],
        )
        .await?;
    if recorded == 0 {
        tx.rollback().await?;
        tracing::info!(event_id = %event.id, "duplicate Stripe event acknowledged; nothing changed");
        return Ok(WebhookOutcome {
            received: true,
            outcome: "duplicate".into(),
        });
    }
    tx.commit().await?;
    tracing::info!(event_id = %event.id, event_type = %event.kind, outcome, "Stripe event processed");
    Ok(WebhookOutcome {
        received: true,
        outcome: outcome.into(),
    })
}

async fn apply(
    tx: &tokio_postgres::Transaction<'_>,
    cfg: &BillingConfig,
    ws: WorkspaceId,
    kind: &str,
    created: DateTime<Utc>,
    object: &Value,
) -> Result<&'static str, ApiError> {
    let id = ws.as_uuid();
    match kind {
        "checkout.session.completed" => {
            tx.execute(
                "UPDATE workspaces SET stripe_customer_id = COALESCE($2, stripe_customer_id),
                        stripe_subscription_id = COALESCE($3, stripe_subscription_id), updated_at = now() WHERE id = $1",
                &[id, &str_at(object, &["customer"]), &str_at(object, &["subscription"])],
            )
            .await?;
            Ok("applied")
        }
        "customer.subscription.created"
        | "customer.subscription.updated"
        | "customer.subscription.deleted" => {
            let deleted = kind.ends_with("deleted");
            let status = if deleted {
                "canceled"
            } else {
                str_at(object, &["status"]).unwrap_or("incomplete")
            };
            let price = object
                .pointer("/items/data/0/price/id")
                .and_then(Value::as_str);
            let plan = if deleted || !matches!(status, "active" | "trialing" | "past_due") {
                "free"
            } else {
                price.and_then(|p| cfg.plan_for_price(p)).unwrap_or("free")
            };
            let period_end = object
                .get("current_period_end")
                .and_then(Value::as_i64)
                .and_then(|t| DateTime::<Utc>::from_timestamp(t, 0));
            let changed = tx
                .execute(
                    "UPDATE workspaces SET plan = $2, billing_status = $3, stripe_subscription_id = $4,
                            stripe_customer_id = COALESCE($5, stripe_customer_id), current_period_end = $6,
                            billing_event_at = $7, updated_at = now()
                      WHERE id = $1 AND (billing_event_at IS NULL OR billing_event_at <= $7)",
                    &[id, &plan, &status, &str_at(object, &["id"]), &str_at(object, &["customer"]), &period_end, &created],
                )
                .await?;
            Ok(if changed == 1 { "applied" } else { "stale" })
        }
        "invoice.paid" | "invoice.payment_failed" => {
            let status = if kind == "invoice.paid" {
                "active"
            } else {
                "past_due"
            };
            let changed = tx
                .execute(
                    "UPDATE workspaces SET billing_status = $2, billing_event_at = $3, updated_at = now()
                      WHERE id = $1 AND (billing_event_at IS NULL OR billing_event_at <= $3)",
                    &[id, &status, &created],
                )
                .await?;
            Ok(if changed == 1 { "applied" } else { "stale" })
        }
        _ => Ok("ignored"),
    }
}

/// A plan's limits.
#[derive(Debug, Clone, Copy, Serialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Limits {
    /// Chat turns (a question and the agent's answer) a calendar month (UTC).
    pub chat_turns_per_month: u64,
    pub llm_tokens_per_month: u64,
    pub documents: u64,
    /// Members plus pending invitations.
    pub members: u64,
}

pub const fn limits(plan: &str) -> Limits {
    match plan.as_bytes() {
        b"pro" => Limits {
            chat_turns_per_month: 5_000,
            llm_tokens_per_month: 2_000_000,
            documents: 10_000,
            members: 10,
        },
        b"business" => Limits {
            chat_turns_per_month: 50_000,
            llm_tokens_per_month: 20_000_000,
            documents: 100_000,
            members: 50,
        },
        _ => Limits {
            chat_turns_per_month: 200,
            llm_tokens_per_month: 100_000,
            documents: 1_000,
            members: 3,
        },
    }
}

/// What a request is about to consume.
#[derive(Debug, Clone, Copy)]
pub enum Consumption {
    /// One chat turn (a message and its tokens).
    ChatTurn,
    /// This many new documents.
    Documents(u64),
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
    let current = usage(db, workspace).await?;
    let plan = current.plan;
    let limit = limits(&plan);
    let u = current.usage;
    let exceeded = |name: &str, what: &str, used: u64, max: u64| {
        ApiError::new(
            ErrorCode::QuotaExceeded,
            format!("The {plan} plan allows {max} {what}; {used} are used. Upgrade the plan to continue."),
        )
        .with_details(serde_json::json!({"limit": name, "max": max, "used": used, "plan": plan}))
    };
    match what {
        Consumption::ChatTurn => {
            if u.chat_turns_this_month >= limit.chat_turns_per_month {
                return Err(exceeded(
                    "chatTurnsPerMonth",
                    "chat turns a month",
                    u.chat_turns_this_month,
                    limit.chat_turns_per_month,
                ));
            }
            if u.llm_tokens_this_month >= limit.llm_tokens_per_month {
                return Err(exceeded(
                    "llmTokensPerMonth",
                    "LLM tokens a month",
                    u.llm_tokens_this_month,
                    limit.llm_tokens_per_month,
                ));
            }
        }
        Consumption::Documents(n) => {
            if u.documents + n > limit.documents {
                return Err(exceeded(
                    "documents",
                    "documents",
                    u.documents,
                    limit.documents,
                ));
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

/// A workspace's plan, billing state and current usage, counted from the rows themselves.
struct CurrentUsage {
    plan: String,
    status: String,
    current_period_end: Option<DateTime<Utc>>,
    usage: Usage,
}

async fn usage(
    db: &impl tokio_postgres::GenericClient,
    workspace: WorkspaceId,
) -> Result<CurrentUsage, ApiError> {
    let pending = crate::repo::invitations::PENDING;
    let row = db
        .query_opt(
            &format!(
                "SELECT w.plan, w.billing_status, w.current_period_end,
                    (SELECT count(*) FROM messages m WHERE m.workspace_id = w.id AND m.role = 'assistant'
                        AND m.created_at >= date_trunc('month', now())) AS chat,
                    (SELECT COALESCE(sum(COALESCE(m.prompt_tokens, 0) + COALESCE(m.completion_tokens, 0)), 0) FROM messages m
                      WHERE m.workspace_id = w.id AND m.created_at >= date_trunc('month', now()))::bigint AS tokens,
                    (SELECT count(*) FROM kb_documents d WHERE d.workspace_id = w.id AND d.deleted_at IS NULL) AS documents,
                    (SELECT count(*) FROM workspace_members wm WHERE wm.workspace_id = w.id) AS members,
                    (SELECT count(*) FROM invitations i WHERE i.workspace_id = w.id AND {pending}) AS pending_invitations
               FROM workspaces w WHERE w.id = $1"
            ),
            &[workspace.as_uuid()],
        )
        .await?
        .ok_or_else(|| ApiError::not_found("Workspace"))?;
    let count = |name: &str| u64::try_from(row.get::<_, i64>(name)).unwrap_or(0);
    Ok(CurrentUsage {
        usage: Usage {
            chat_turns_this_month: count("chat"),
            llm_tokens_this_month: count("tokens"),
            documents: count("documents"),
            members: count("members"),
            pending_invitations: count("pending_invitations"),
        },
        plan: row.get("plan"),
        status: row.get("billing_status"),
        current_period_end: row.get("current_period_end"),
    })
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Usage {
    /// Chat turns answered this calendar month (UTC).
    pub chat_turns_this_month: u64,
    pub llm_tokens_this_month: u64,
    pub documents: u64,
    pub members: u64,
    /// Pending invitations, which count against the members limit with the members.
    pub pending_invitations: u64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BillingView {
    /// free, pro or business
    pub plan: String,
    /// Stripe's subscription status, or none
    pub status: String,
    pub current_period_end: Option<DateTime<Utc>>,
    pub limits: Limits,
    pub usage: Usage,
}

pub async fn view(state: &AppState, tenant: &Tenant<Admin>) -> Result<BillingView, ApiError> {
    let client = state.db.get().await?;
    let current = usage(&**client, tenant.workspace_id).await?;
    Ok(BillingView {
        limits: limits(&current.plan),
        plan: current.plan,
        status: current.status,
        current_period_end: current.current_period_end,
        usage: current.usage,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::SecretString;

    fn sign(secret: &str, t: i64, body: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("key");
        mac.update(format!("{t}.").as_bytes());
        mac.update(body);
        hex::encode(mac.finalize().into_bytes())
    }

    #[test]
    fn when_the_signature_is_checked_every_forgery_is_refused() {
        let body = br#"{"id":"evt_1"}"#;
        let secrets = vec![SecretString::from("whsec_test")];
        let now = 1_795_577_400;
        let good = sign("whsec_test", now, body);
        assert!(verify_signature(&format!("t={now},v1={good}"), body, &secrets, now).is_ok());
        // Several v1 values (Stripe sends one per active secret): any match will do.
        let other = sign("whsec_old", now, body);
        assert!(
            verify_signature(
                &format!("t={now},v1={other},v1={good}"),
                body,
                &secrets,
                now
            )
            .is_ok()
        );
        // Rotation on our side: either configured secret verifies.
        let rotated = vec![
            SecretString::from("whsec_new"),
            SecretString::from("whsec_test"),
        ];
        assert!(verify_signature(&format!("t={now},v1={good}"), body, &rotated, now).is_ok());
        for (name, header, b, at) in [
            (
                "tampered body",
                format!("t={now},v1={good}"),
                &br#"{"id":"evt_2"}"#[..],
                now,
            ),
            (
                "wrong secret",
                format!("t={now},v1={}", sign("whsec_wrong", now, body)),
                &body[..],
                now,
            ),
            (
                "too old",
                format!("t={},v1={}", now - 301, sign("whsec_test", now - 301, body)),
                &body[..],
                now,
            ),
            ("no v1", format!("t={now},v0={good}"), &body[..], now),
            ("no timestamp", format!("v1={good}"), &body[..], now),
            ("garbage", "nonsense".to_owned(), &body[..], now),
        ] {
            let err = verify_signature(&header, b, &secrets, at).expect_err(name);
            assert_eq!(err.code, ErrorCode::InvalidSignature, "{name}");
        }
    }

    #[test]
    fn when_plans_are_compared_higher_plans_allow_more() {
        assert!(limits("pro").documents > limits("free").documents);
        assert!(limits("business").members > limits("pro").members);
        assert_eq!(limits("unknown"), limits("free"));
    }
}
