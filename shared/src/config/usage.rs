//! What model calls cost (`MODEL_PRICES`): the usage API turns the tokens recorded per model into an
//! estimated cost. The defaults are OpenAI's list prices in US dollars per million tokens (December
//! 2026, standard tier); a deployment with other prices, models or a discount sets its own.

use super::{ConfigError, Source};
use std::collections::BTreeMap;

/// The currency of the price table, and so of every estimated cost.
pub const CURRENCY: &str = "USD";

/// One model's price, per million tokens.
#[derive(Debug, Clone, Copy, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    /// Tokens read: the prompt of a chat call, the text of an embedding call.
    pub input: f64,
    /// Tokens written (chat calls).
    #[serde(default)]
    pub output: f64,
}

/// An estimated amount of money.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct Cost {
    /// Rounded to a millionth.
    pub amount: f64,
    /// `USD`: the price table's currency.
    pub currency: &'static str,
}

impl Cost {
    pub fn of(amount: f64) -> Self {
        Self {
            amount: (amount * 1e6).round() / 1e6,
            currency: CURRENCY,
        }
    }
}

#[derive(Debug, Clone)]
pub struct UsageConfig {
    /// Model name → price; the defaults, then `MODEL_PRICES` over them.
    pub prices: BTreeMap<String, Price>,
    /// Plan name → the most its workspaces' model calls may cost in a calendar month (UTC), in
    /// [`CURRENCY`] (`PLAN_MONTHLY_COST_CAPS`); a plan without one has no cost cap.
    pub cost_caps: BTreeMap<String, f64>,
}

const DEFAULTS: [(&str, f64, f64); 8] = [
    ("gpt-4o-mini", 0.15, 0.60),
    ("gpt-4o", 2.50, 10.00),
    ("gpt-4.1-mini", 0.40, 1.60),
    ("gpt-4.1", 2.00, 8.00),
    ("text-embedding-3-small", 0.02, 0.0),
    ("text-embedding-3-large", 0.13, 0.0),
    // What runs in the process costs nothing per token.
    ("all-MiniLM-L6-v2", 0.0, 0.0),
    ("offline-hash-256", 0.0, 0.0),
];

impl UsageConfig {
    pub(super) fn from_source(src: &Source) -> Result<Self, ConfigError> {
        let mut prices: BTreeMap<String, Price> = DEFAULTS
            .iter()
            .map(|(model, input, output)| {
                (
                    (*model).to_owned(),
                    Price {
                        input: *input,
                        output: *output,
                    },
                )
            })
            .collect();
        if let Some(raw) = src.get("MODEL_PRICES").filter(|v| !v.trim().is_empty()) {
            let invalid = |reason: String| ConfigError::Invalid {
                name: "MODEL_PRICES",
                reason,
            };
            let given: BTreeMap<String, Price> = serde_json::from_str(raw).map_err(|e| {
                invalid(format!(
                    "must be a JSON object of model → {{\"input\": USD per million tokens, \"output\": …}}: {e}"
                ))
            })?;
            for (model, price) in given {
                let valid = |p: f64| p.is_finite() && p >= 0.0;
                if !valid(price.input) || !valid(price.output) {
                    return Err(invalid(format!(
                        "{model}: prices must be zero or more (US dollars per million tokens)"
                    )));
                }
                prices.insert(model, price);
            }
        }
        let mut cost_caps = BTreeMap::new();
        if let Some(raw) = src
            .get("PLAN_MONTHLY_COST_CAPS")
            .filter(|v| !v.trim().is_empty())
        {
            let invalid = |reason: String| ConfigError::Invalid {
                name: "PLAN_MONTHLY_COST_CAPS",
                reason,
            };
            let given: BTreeMap<String, f64> = serde_json::from_str(raw).map_err(|e| {
                invalid(format!(
                    "must be a JSON object of plan (free, pro, business) → US dollars a month: {e}"
                ))
            })?;
            for (plan, cap) in given {
                if !["free", "pro", "business"].contains(&plan.as_str()) {
                    return Err(invalid(format!(
                        "{plan} is not a plan: free, pro or business"
                    )));
                }
                if !(cap.is_finite() && cap >= 0.0) {
                    return Err(invalid(format!("{plan}: the cap must be zero or more")));
                }
                cost_caps.insert(plan, cap);
            }
        }
        Ok(Self { prices, cost_caps })
    }

    /// The table as three columns (models, input and output prices), as SQL takes it.
    pub fn columns(&self) -> (Vec<String>, Vec<f64>, Vec<f64>) {
        let models = self.prices.keys().cloned().collect();
        let input = self.prices.values().map(|p| p.input).collect();
        let output = self.prices.values().map(|p| p.output).collect();
        (models, input, output)
    }

    /// The price of `model`, if the table has one.
    pub fn price(&self, model: &str) -> Option<Price> {
        self.prices.get(model).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(prices: Option<&str>) -> Result<UsageConfig, ConfigError> {
        let mut src = Source::from_pairs(Vec::<(String, String)>::new());
        if let Some(p) = prices {
            src.set("MODEL_PRICES", p);
        }
        UsageConfig::from_source(&src)
    }

    #[test]
    fn the_defaults_price_openais_models_and_model_prices_overrides_and_adds() {
        let defaults = config(None).expect("defaults");
        assert_eq!(
            defaults.price("gpt-4o-mini"),
            Some(Price {
                input: 0.15,
                output: 0.60
            })
        );
        assert_eq!(defaults.price("my-model"), None);
        let given = config(Some(
            r#"{"gpt-4o-mini": {"input": 0.1, "output": 0.4}, "my-model": {"input": 1}}"#,
        ))
        .expect("valid");
        assert_eq!(given.price("gpt-4o-mini").map(|p| p.output), Some(0.4));
        assert_eq!(
            given.price("my-model"),
            Some(Price {
                input: 1.0,
                output: 0.0
            })
        );
        assert!(given.price("text-embedding-3-small").is_some(), "kept");
    }

    #[test]
    fn when_model_prices_is_not_a_price_table_the_start_says_so() {
        for bad in [
            "[1, 2]",
            r#"{"m": {"input": -1}}"#,
            r#"{"m": {"in": 1}}"#,
            r#"{"m": 3}"#,
        ] {
            let err = config(Some(bad)).expect_err(bad);
            assert!(err.to_string().contains("MODEL_PRICES"), "{bad}: {err}");
        }
    }

    #[test]
    fn plan_monthly_cost_caps_name_plans_and_amounts_only() {
        let caps = |v: &str| {
            let mut src = Source::from_pairs(Vec::<(String, String)>::new());
            src.set("PLAN_MONTHLY_COST_CAPS", v);
            UsageConfig::from_source(&src)
        };
        let ok = caps(r#"{"free": 1.5, "pro": 40}"#).expect("valid");
        assert_eq!(ok.cost_caps.get("free"), Some(&1.5));
        assert_eq!(ok.cost_caps.get("business"), None);
        for bad in [r#"{"gold": 1}"#, r#"{"free": -1}"#, "5"] {
            let err = caps(bad).expect_err(bad);
            assert!(
                err.to_string().contains("PLAN_MONTHLY_COST_CAPS"),
                "{bad}: {err}"
            );
        }
    }
}
