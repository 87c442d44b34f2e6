//! Paying: a Stripe Checkout for a paid plan, and Stripe's billing portal for the workspace's customer.

use super::plan::Plan;
use crate::auth::{Owner, Tenant};
use crate::error::ApiError;
use crate::repo::billing as repo;
use crate::state::BillingState;

/// Starts a Stripe Checkout for `plan`; the URL to send the customer's browser to. A plan without a
/// configured price is `billing_not_configured` naming its variable.
pub async fn checkout(
    state: &BillingState,
    tenant: &Tenant<Owner>,
    plan: Plan,
) -> Result<String, ApiError> {
    let price = plan.price(&state.app.config.billing).ok_or_else(|| {
        ApiError::billing_not_configured(
            plan.price_variable(),
            &format!(
                "no Stripe price is set for the {plan} plan (its price id, price_…, from the Stripe dashboard)"
            ),
        )
    })?;
    let customer = customer_of(state, tenant).await?;
    state
        .stripe
        .checkout(tenant.workspace_id, price, customer.as_deref())
        .await
}

/// Opens Stripe's billing portal for the workspace's customer; a workspace without one (no checkout yet)
/// is a conflict.
pub async fn portal(state: &BillingState, tenant: &Tenant<Owner>) -> Result<String, ApiError> {
    let customer = customer_of(state, tenant).await?.ok_or_else(|| {
        ApiError::conflict("This workspace has no Stripe customer yet: start a checkout first.")
    })?;
    state.stripe.portal(&customer).await
}

async fn customer_of(
    state: &BillingState,
    tenant: &Tenant<Owner>,
) -> Result<Option<String>, ApiError> {
    let client = state.app.db.get().await?;
    Ok(repo::customer_of(&**client, tenant.workspace_id).await?)
}
