//! The email worker on AWS Lambda: an SQS event source with partial batch responses.

use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    studio::telemetry::init();
    let state = email_worker::EmailState::from_env().await?;
    let state = &state;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<_>| async move {
        let response = email_worker::handle(state, event.payload).await;
        studio::telemetry::flush_sentry();
        Ok::<_, lambda_runtime::Error>(response)
    }))
    .await
}
