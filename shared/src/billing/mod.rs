//! Billing, in one place: the plans and their limits ([`plan`]), the quotas they set and each
//! workspace's billing view ([`quota`]), Stripe's webhook — its signature and the apply of each event
//! ([`webhook`]) — and Stripe's API for checkout and the portal ([`stripe`], used by [`checkout`]).
//!
//! Layering: a domain module at the level of `services` (use cases that know no HTTP edge; `services`
//! call its quota check). All its SQL is in `repo::billing`. [`plan`] holds plain values that depend on
//! nothing above configuration, so `repo` can read and write a [`Plan`]. [`stripe::StripeClient`] is its
//! one outbound adapter: built once per cold start on the vendor TLS set-up with a timeout, and handed
//! to the handlers in [`crate::state::BillingState`] (a failure to build it fails the start).

pub mod checkout;
pub mod plan;
pub mod quota;
pub mod stripe;
pub mod webhook;

pub use plan::{BillingStatus, Limits, Plan, Usage};
pub use quota::{BillingView, Consumption, check_quota, view};
pub use stripe::StripeClient;
pub use webhook::{Outcome, WebhookOutcome, handle_event, verify_signature};
