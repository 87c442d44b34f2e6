//! The knowledge-base and agent route group on AWS Lambda (`/api/v1/agents/*`).

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    studio::telemetry::init();
    let state = studio::lambda::knowledge_state().await?;
    lambda_http::run(studio::http::app(agents_api::routes(), state)).await
}
