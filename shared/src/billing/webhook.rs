//! Stripe webhooks: the signature checked over the raw body, each event applied at most once (its id
//! recorded in the same transaction as its effect), out-of-order subscription events converging to the
//! latest state, unknown types acknowledged and ignored.

use super::plan::{BillingStatus, Plan};
use crate::config::BillingConfig;
use crate::error::{ApiError, ErrorCode};
use crate::ids::WorkspaceId;
use crate::repo::billing::{self as repo, EventRecord, Subscription};
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

/// What the webhook did with one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Its effect is written.
    Applied,
    /// The event was recorded before; nothing changed.
    Duplicate,
    /// Older than the state already applied; nothing changed.
    Stale,
    /// An unknown type or workspace; acknowledged.
    Ignored,
}

impl Outcome {
    pub const fn as_str(self) -> &'static str {
        match self {
            Outcome::Applied => "applied",
            Outcome::Duplicate => "duplicate",
            Outcome::Stale => "stale",
            Outcome::Ignored => "ignored",
        }
    }

    /// `applied` when the conditional write changed the row, else `stale`.
    const fn applied_unless_stale(changed: bool) -> Self {
        if changed {
            Outcome::Applied
        } else {
            Outcome::Stale
        }
    }
}

/// What the webhook did with an event.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookOutcome {
    pub received: bool,
    /// applied, duplicate, stale (older than the state applied), ignored (unknown type or workspace)
    #[schema(value_type = String)]
    pub outcome: Outcome,
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut cur = v;
    for p in path {
        cur = cur.get(p)?;
    }
    cur.as_str()
}

/// The workspace an event is about: its metadata's (or checkout's reference) id, else its customer's.
async fn workspace_for(
    db: &tokio_postgres::Transaction<'_>,
    object: &Value,
) -> Result<Option<WorkspaceId>, ApiError> {
    let by_metadata = str_at(object, &["metadata", "workspaceId"])
        .or_else(|| str_at(object, &["client_reference_id"]))
        .and_then(|s| Uuid::parse_str(s).ok());
    if let Some(id) = by_metadata
        && let Some(ws) = repo::workspace(db, id).await?
    {
        return Ok(Some(ws));
    }
    if let Some(customer) = str_at(object, &["customer"]) {
        return Ok(repo::workspace_of_customer(db, customer).await?);
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
        None => Outcome::Ignored,
        Some(ws) => apply(&tx, cfg, ws, &event.kind, created, object).await?,
    };
    let record = EventRecord {
        id: &event.id,
        kind: &event.kind,
        created,
        workspace,
        outcome: outcome.as_str(),
    };
    if !repo::record_event(&*tx, record).await? {
        tx.rollback().await?;
        tracing::info!(event_id = %event.id, "duplicate Stripe event acknowledged; nothing changed");
        return Ok(WebhookOutcome {
            received: true,
            outcome: Outcome::Duplicate,
        });
    }
    tx.commit().await?;
    tracing::info!(event_id = %event.id, event_type = %event.kind, outcome = outcome.as_str(), "Stripe event processed");
    Ok(WebhookOutcome {
        received: true,
        outcome,
    })
}

async fn apply(
    tx: &tokio_postgres::Transaction<'_>,
    cfg: &BillingConfig,
    ws: WorkspaceId,
    kind: &str,
    created: DateTime<Utc>,
    object: &Value,
) -> Result<Outcome, ApiError> {
    match kind {
        "checkout.session.completed" => {
            let (customer, subscription) = (
                str_at(object, &["customer"]),
                str_at(object, &["subscription"]),
            );
            repo::link_checkout(tx, ws, customer, subscription).await?;
            Ok(Outcome::Applied)
        }
        "customer.subscription.created"
        | "customer.subscription.updated"
        | "customer.subscription.deleted" => {
            let deleted = kind.ends_with("deleted");
            let status = if deleted {
                BillingStatus::Canceled
            } else {
                let stripe = str_at(object, &["status"]).unwrap_or("incomplete");
                BillingStatus::parse(stripe).ok_or_else(|| {
                    ApiError::internal(anyhow::anyhow!(
                        "Stripe sent the subscription status {stripe:?}, which this build does not know"
                    ))
                })?
            };
            let price = object
                .pointer("/items/data/0/price/id")
                .and_then(Value::as_str);
            let plan = if deleted || !status.keeps_plan() {
                Plan::Free
            } else {
                price
                    .and_then(|p| Plan::for_price(cfg, p))
                    .unwrap_or(Plan::Free)
            };
            let current_period_end = object
                .get("current_period_end")
                .and_then(Value::as_i64)
                .and_then(|t| DateTime::<Utc>::from_timestamp(t, 0));
            let subscription = Subscription {
                plan,
                status,
                id: str_at(object, &["id"]),
                customer: str_at(object, &["customer"]),
                current_period_end,
            };
            let changed = repo::set_subscription(tx, ws, subscription, created).await?;
            Ok(Outcome::applied_unless_stale(changed))
        }
        "invoice.paid" | "invoice.payment_failed" => {
            let status = if kind == "invoice.paid" {
                BillingStatus::Active
            } else {
                BillingStatus::PastDue
            };
            let changed = repo::set_billing_status(tx, ws, status, created).await?;
            Ok(Outcome::applied_unless_stale(changed))
        }
        _ => Ok(Outcome::Ignored),
    }
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
    fn an_outcome_is_written_as_its_lowercase_name() {
        for outcome in [
            Outcome::Applied,
            Outcome::Duplicate,
            Outcome::Stale,
            Outcome::Ignored,
        ] {
            assert_eq!(
                serde_json::to_value(outcome).expect("json"),
                serde_json::json!(outcome.as_str())
            );
        }
    }
}
