//! The Stripe route group on AWS Lambda (`/api/v1/stripe/*`).

use studio::config::Need;
use studio::lambda::Responses;

#[tokio::main]
async fn main() -> Result<(), studio::lambda::Error> {
    let state = async {
        let app = studio::lambda::app_state(&[Need::StripeWebhook]).await?;
        Ok::<_, studio::lambda::Error>(studio::state::BillingState::new(app)?)
    };
    studio::lambda::http(Responses::Buffered, stripe_webhook::routes(), state).await
}
