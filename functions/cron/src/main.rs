//! The cron function on AWS Lambda, invoked by EventBridge schedules.

use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    studio::telemetry::init();
    let state = studio::lambda::knowledge_state().await?;
    let state = &state;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<cron::CronEvent>| async move {
            let result = cron::handle(state, event.payload).await;
            if let Err(e) = &result {
                tracing::error!(error = format!("{e:#}"), "scheduled job failed");
            }
            studio::telemetry::flush_sentry();
            result.map_err(lambda_runtime::Error::from)
        },
    ))
    .await
}
