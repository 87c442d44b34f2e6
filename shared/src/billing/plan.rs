//! The plan table: the plans, what each allows ([`Limits`]) and the usage counted against them
//! ([`Usage`]), and which Stripe price stands for which plan. Plain values that depend on nothing above
//! the ground floor (configuration), so `repo` can read and write a plan.

use crate::config::BillingConfig;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A workspace's plan, stored in `workspaces.plan` under its serde name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Plan {
    #[default]
    Free,
    Pro,
    Business,
}

impl Plan {
    /// The plans sold through Stripe Checkout.
    pub const PAID: [Plan; 2] = [Plan::Pro, Plan::Business];

    pub const fn as_str(self) -> &'static str {
        match self {
            Plan::Free => "free",
            Plan::Pro => "pro",
            Plan::Business => "business",
        }
    }

    /// A plan by its name, or `None` for any other string.
    pub fn parse(name: &str) -> Option<Self> {
        [Plan::Free, Plan::Pro, Plan::Business]
            .into_iter()
            .find(|p| p.as_str() == name)
    }

    /// The plan stored in a workspace row. The column's check allows only the three names; anything else
    /// counts as the free plan (its limits are the smallest).
    pub fn from_db(name: &str) -> Self {
        Self::parse(name).unwrap_or_default()
    }

    pub const fn is_paid(self) -> bool {
        !matches!(self, Plan::Free)
    }

    /// The Stripe price id configured for a paid plan (`STRIPE_PRICE_PRO`, `STRIPE_PRICE_BUSINESS`).
    pub fn price(self, cfg: &BillingConfig) -> Option<&str> {
        match self {
            Plan::Pro => cfg.price_pro.as_deref(),
            Plan::Business => cfg.price_business.as_deref(),
            Plan::Free => None,
        }
    }

    /// The variable that sets [`Plan::price`].
    pub const fn price_variable(self) -> &'static str {
        match self {
            Plan::Pro => "STRIPE_PRICE_PRO",
            Plan::Business => "STRIPE_PRICE_BUSINESS",
            Plan::Free => "STRIPE_PRICE_FREE",
        }
    }

    /// The plan a Stripe price id stands for.
    pub fn for_price(cfg: &BillingConfig, price: &str) -> Option<Self> {
        Self::PAID.into_iter().find(|p| p.price(cfg) == Some(price))
    }

    pub const fn limits(self) -> Limits {
        match self {
            Plan::Pro => Limits {
                chat_turns_per_month: 5_000,
                llm_tokens_per_month: 2_000_000,
                documents: 10_000,
                members: 10,
                upload_bytes: 25 * MB,
                sources: 20,
                pages_per_source: 500,
            },
            Plan::Business => Limits {
                chat_turns_per_month: 50_000,
                llm_tokens_per_month: 20_000_000,
                documents: 100_000,
                members: 50,
                upload_bytes: 50 * MB,
                sources: 100,
                pages_per_source: 2_000,
            },
            Plan::Free => Limits {
                chat_turns_per_month: 200,
                llm_tokens_per_month: 100_000,
                documents: 1_000,
                members: 3,
                upload_bytes: 10 * MB,
                sources: 3,
                pages_per_source: 50,
            },
        }
    }
}

impl std::fmt::Display for Plan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
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
    /// Bytes an uploaded file may have (at most [`MAX_UPLOAD_BYTES`] on any plan).
    pub upload_bytes: u64,
    /// Website sources.
    pub sources: u64,
    /// Pages one website source may crawl (its `maxPages`, at most).
    pub pages_per_source: u64,
}

const MB: u64 = 1024 * 1024;

/// The largest file any plan may upload: 50 MB.
pub const MAX_UPLOAD_BYTES: u64 = 50 * MB;

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
    /// Website sources.
    pub sources: u64,
}

/// A workspace's billing status: its Stripe subscription's status, `none` before it has one
/// (`workspaces.billing_status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BillingStatus {
    None,
    Incomplete,
    IncompleteExpired,
    Trialing,
    Active,
    PastDue,
    Canceled,
    Unpaid,
    Paused,
}

impl BillingStatus {
    const ALL: [BillingStatus; 9] = [
        BillingStatus::None,
        BillingStatus::Incomplete,
        BillingStatus::IncompleteExpired,
        BillingStatus::Trialing,
        BillingStatus::Active,
        BillingStatus::PastDue,
        BillingStatus::Canceled,
        BillingStatus::Unpaid,
        BillingStatus::Paused,
    ];

    /// Stripe's name, which is also the stored one.
    pub const fn as_str(self) -> &'static str {
        match self {
            BillingStatus::None => "none",
            BillingStatus::Incomplete => "incomplete",
            BillingStatus::IncompleteExpired => "incomplete_expired",
            BillingStatus::Trialing => "trialing",
            BillingStatus::Active => "active",
            BillingStatus::PastDue => "past_due",
            BillingStatus::Canceled => "canceled",
            BillingStatus::Unpaid => "unpaid",
            BillingStatus::Paused => "paused",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// Whether a subscription in this state keeps its paid plan.
    pub const fn keeps_plan(self) -> bool {
        matches!(
            self,
            BillingStatus::Active | BillingStatus::Trialing | BillingStatus::PastDue
        )
    }
}

impl Serialize for BillingStatus {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn when_plans_are_compared_higher_plans_allow_more() {
        assert!(Plan::Pro.limits().documents > Plan::Free.limits().documents);
        assert!(Plan::Business.limits().members > Plan::Pro.limits().members);
        assert_eq!(Plan::from_db("unknown").limits(), Plan::Free.limits());
    }

    #[test]
    fn a_plans_name_is_its_serde_name() {
        for plan in [Plan::Free, Plan::Pro, Plan::Business] {
            assert_eq!(
                serde_json::to_value(plan).expect("json"),
                serde_json::json!(plan.as_str())
            );
            assert_eq!(Plan::parse(plan.as_str()), Some(plan));
        }
        assert_eq!(Plan::parse("platinum"), None);
        assert_eq!(Plan::PAID.map(Plan::is_paid), [true, true]);
    }

    #[test]
    fn a_billing_status_round_trips_through_its_stripe_name() {
        for status in BillingStatus::ALL {
            assert_eq!(BillingStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(BillingStatus::parse("bogus"), None);
        assert!(BillingStatus::PastDue.keeps_plan() && !BillingStatus::Canceled.keeps_plan());
        assert_eq!(
            serde_json::to_value(BillingStatus::IncompleteExpired).expect("json"),
            serde_json::json!("incomplete_expired")
        );
    }
}
