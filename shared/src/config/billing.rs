//! Stripe's keys and the plans' price ids.

use super::Source;
use secrecy::SecretString;

/// Stripe: the API key (checkout, portal), the webhook signing secret(s), and the plans' price ids (which
/// plan a price stands for is `billing::Plan`'s).
#[derive(Debug, Clone)]
pub struct BillingConfig {
    pub stripe_secret_key: Option<SecretString>,
    /// Accepts several secrets separated by commas, for rotation.
    pub webhook_secrets: Vec<SecretString>,
    pub price_pro: Option<String>,
    pub price_business: Option<String>,
    /// Stripe's API (a test double in tests).
    pub api_base: String,
}

impl BillingConfig {
    pub(super) fn from_source(src: &Source) -> Self {
        Self {
            stripe_secret_key: src
                .get("STRIPE_SECRET_KEY")
                .map(|k| SecretString::from(k.to_owned())),
            webhook_secrets: src
                .get("STRIPE_WEBHOOK_SECRET")
                .map(|v| {
                    v.split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(|s| SecretString::from(s.to_owned()))
                        .collect()
                })
                .unwrap_or_default(),
            price_pro: src.get("STRIPE_PRICE_PRO").map(str::to_owned),
            price_business: src.get("STRIPE_PRICE_BUSINESS").map(str::to_owned),
            api_base: src
                .get("STRIPE_API_BASE")
                .unwrap_or("https://api.stripe.com")
                .trim_end_matches('/')
                .to_owned(),
        }
    }
}
