//! The ingest worker on AWS Lambda: an SQS event source with partial batch responses.

use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    studio::telemetry::init();
    let state = studio::lambda::knowledge_state().await?;
    let state = &state;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<_>| async move {
        Ok::<_, lambda_runtime::Error>(ingest_worker::handle(state, event.payload).await)
    }))
    .await
}
