//! What a workspace uses and what it costs (`GET /api/v1/workspaces/{id}/usage`): per day or per month,
//! its messages and answers, the tokens of every model call by model, the documents it added, and the
//! cost those tokens are estimated at with the price table (`MODEL_PRICES`).

use crate::auth::{Admin, Tenant};
pub use crate::config::usage::Cost;
use crate::config::usage::UsageConfig;
use crate::db::Scoped;
use crate::error::ApiError;
use crate::repo::usage::{self as repo, Granularity, ModelUse, PeriodRow};
use crate::state::AppState;
use chrono::{Datelike, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

/// The most days one answer covers per day, and months per month.
pub const MAX_DAYS: i64 = 366;
pub const MAX_MONTHS: i64 = 60;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum UsageGranularity {
    Day,
    Month,
}

/// Which periods: `from` and `to` are UTC days (`YYYY-MM-DD`), both included.
#[derive(Debug, Deserialize, Validate, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UsageQuery {
    /// The first day; by default 29 days before `to` (per day) or the first day of the month 11 months
    /// before `to`'s (per month).
    pub from: Option<NaiveDate>,
    /// The last day; by default today (UTC).
    pub to: Option<NaiveDate>,
    /// `day` (the default) or `month`.
    pub granularity: Option<UsageGranularity>,
}

/// One model's calls in a period.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ModelUsage {
    /// `chat` or `embedding`.
    pub kind: String,
    pub model: String,
    pub calls: i64,
    /// Tokens read (an embedding call's text).
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    /// Null when the price table has no price for the model.
    pub estimated_cost: Option<Cost>,
}

/// One period.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UsagePeriod {
    /// `YYYY-MM-DD` per day, `YYYY-MM` per month.
    pub period: String,
    /// Messages written (questions, answers, people's replies).
    pub messages: i64,
    /// The agent's answers.
    pub turns: i64,
    /// Chat calls' tokens.
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    /// Embedding calls' tokens (ingestion, search, retrieval).
    pub embedding_tokens: i64,
    /// Documents added, and the bytes of their text.
    pub documents: i64,
    pub storage_bytes: i64,
    /// What the period's model calls are estimated to have cost (priced models only).
    pub estimated_cost: Cost,
    pub models: Vec<ModelUsage>,
}

/// A workspace's usage, period by period.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UsageView {
    pub granularity: UsageGranularity,
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// Every period from `from`'s to `to`'s, oldest first, empty ones included.
    pub items: Vec<UsagePeriod>,
    /// The sum of the periods' estimated costs.
    pub total_estimated_cost: Cost,
    /// Models used in these periods that the price table has no price for: their cost is not in the
    /// estimates (set `MODEL_PRICES`).
    pub unpriced_models: Vec<String>,
}

fn model_cost(prices: &UsageConfig, m: &ModelUse) -> Option<f64> {
    let price = prices.price(&m.model)?;
    let (prompt, completion) = (m.prompt_tokens as f64, m.completion_tokens as f64);
    Some((prompt * price.input + completion * price.output) / 1e6)
}

fn period(prices: &UsageConfig, row: PeriodRow, granularity: UsageGranularity) -> UsagePeriod {
    let label = match granularity {
        UsageGranularity::Day => row.start.format("%Y-%m-%d").to_string(),
        UsageGranularity::Month => row.start.format("%Y-%m").to_string(),
    };
    let chat = |f: fn(&ModelUse) -> i64| -> i64 {
        row.models.iter().filter(|m| m.kind == "chat").map(f).sum()
    };
    let prompt_tokens = chat(|m| m.prompt_tokens);
    let completion_tokens = chat(|m| m.completion_tokens);
    let embedding_tokens = row
        .models
        .iter()
        .filter(|m| m.kind == "embedding")
        .map(|m| m.prompt_tokens)
        .sum();
    let models: Vec<ModelUsage> = row
        .models
        .iter()
        .map(|m| ModelUsage {
            kind: m.kind.clone(),
            model: m.model.clone(),
            calls: m.calls,
            prompt_tokens: m.prompt_tokens,
            completion_tokens: m.completion_tokens,
            estimated_cost: model_cost(prices, m).map(Cost::of),
        })
        .collect();
    let cost: f64 = row
        .models
        .iter()
        .filter_map(|m| model_cost(prices, m))
        .sum();
    UsagePeriod {
        period: label,
        messages: row.messages,
        turns: row.turns,
        prompt_tokens,
        completion_tokens,
        embedding_tokens,
        documents: row.documents,
        storage_bytes: row.storage_bytes,
        estimated_cost: Cost::of(cost),
        models,
    }
}

/// The range a query asks for, checked.
fn range(
    q: &UsageQuery,
    today: NaiveDate,
) -> Result<(NaiveDate, NaiveDate, UsageGranularity), ApiError> {
    let granularity = q.granularity.unwrap_or(UsageGranularity::Day);
    let to = q.to.unwrap_or(today);
    let from = match (q.from, granularity) {
        (Some(from), _) => from,
        (None, UsageGranularity::Day) => to - chrono::Duration::days(29),
        (None, UsageGranularity::Month) => {
            let months_back = to.year() * 12 + to.month0() as i32 - 11;
            NaiveDate::from_ymd_opt(
                months_back.div_euclid(12),
                months_back.rem_euclid(12) as u32 + 1,
                1,
            )
            .unwrap_or(to)
        }
    };
    if from > to {
        return Err(ApiError::field("from", "must be on or before `to`"));
    }
    let (count, max, unit) = match granularity {
        UsageGranularity::Day => ((to - from).num_days() + 1, MAX_DAYS, "days"),
        UsageGranularity::Month => (
            i64::from((to.year() - from.year()) * 12 + to.month() as i32 - from.month() as i32 + 1),
            MAX_MONTHS,
            "months",
        ),
    };
    if count > max {
        return Err(ApiError::field(
            "from",
            format!(
                "the range holds {count} {unit}: at most {max} per request (page through with from and to)"
            ),
        ));
    }
    Ok((from, to, granularity))
}

/// Refuses a model call when the workspace's plan caps its monthly cost (`PLAN_MONTHLY_COST_CAPS`) and
/// this month's calls have reached the cap: 402 `quota_exceeded`, `details.limit` = `costPerMonth`.
pub async fn check_cost_cap(
    db: &impl tokio_postgres::GenericClient,
    config: &UsageConfig,
    workspace: crate::ids::WorkspaceId,
) -> Result<(), ApiError> {
    if config.cost_caps.is_empty() {
        return Ok(());
    }
    let (plan, cost) =
        repo::plan_and_month_cost(db, *workspace.as_uuid(), &config.columns()).await?;
    let Some(&cap) = config.cost_caps.get(&plan) else {
        return Ok(());
    };
    if cost < cap {
        return Ok(());
    }
    let used = Cost::of(cost);
    Err(ApiError::new(
        crate::error::ErrorCode::QuotaExceeded,
        format!(
            "The {plan} plan allows model calls worth {cap} {} a month; {} are used. Upgrade the plan to continue, or wait for next month.",
            used.currency, used.amount
        ),
    )
    .with_details(serde_json::json!({
        "limit": "costPerMonth", "max": cap, "used": used.amount, "currency": used.currency, "plan": plan
    })))
}

/// The workspace's usage (admin or higher).
pub async fn usage(
    state: &AppState,
    tenant: &Tenant<Admin>,
    q: &UsageQuery,
) -> Result<UsageView, ApiError> {
    let (from, to, granularity) = range(q, Utc::now().date_naive())?;
    let client = Scoped::tenant(&state.db, tenant).await?;
    let rows = repo::periods(
        &**client,
        *tenant.workspace_id.as_uuid(),
        from,
        to,
        match granularity {
            UsageGranularity::Day => Granularity::Day,
            UsageGranularity::Month => Granularity::Month,
        },
    )
    .await?;
    drop(client);
    let prices = &state.config.usage;
    let mut unpriced: Vec<String> = rows
        .iter()
        .flat_map(|r| r.models.iter())
        .filter(|m| prices.price(&m.model).is_none())
        .map(|m| m.model.clone())
        .collect();
    unpriced.sort();
    unpriced.dedup();
    let items: Vec<UsagePeriod> = rows
        .into_iter()
        .map(|r| period(prices, r, granularity))
        .collect();
    let total = items.iter().map(|p| p.estimated_cost.amount).sum();
    Ok(UsageView {
        granularity,
        from,
        to,
        items,
        total_estimated_cost: Cost::of(total),
        unpriced_models: unpriced,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("a date")
    }

    #[test]
    fn the_default_range_is_thirty_days_or_twelve_months_and_long_or_reversed_ranges_are_refused() {
        let today = day("2026-12-04");
        let q = |from: Option<&str>, to: Option<&str>, g: Option<UsageGranularity>| UsageQuery {
            from: from.map(day),
            to: to.map(day),
            granularity: g,
        };
        assert_eq!(
            range(&q(None, None, None), today).expect("default"),
            (day("2026-11-05"), today, UsageGranularity::Day)
        );
        assert_eq!(
            range(&q(None, None, Some(UsageGranularity::Month)), today).expect("months"),
            (day("2026-01-01"), today, UsageGranularity::Month)
        );
        assert!(range(&q(Some("2026-12-05"), None, None), today).is_err());
        assert!(range(&q(Some("2025-01-01"), Some("2026-01-02"), None), today).is_err());
        assert!(
            range(&q(Some("2025-01-01"), Some("2026-01-01"), None), today).is_ok(),
            "366 days"
        );
        assert!(
            range(
                &q(Some("2020-01-01"), None, Some(UsageGranularity::Month)),
                today
            )
            .is_err()
        );
    }
}
