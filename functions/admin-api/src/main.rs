//! The admin route group on AWS Lambda (`/api/v1/admin/*`).

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    studio::telemetry::init();
    let knowledge = studio::lambda::knowledge_state().await?;
    let state = admin_api::AdminState::new(knowledge).await;
    lambda_http::run(studio::http::app(admin_api::routes(), state)).await
}
