//! The workspaces route group on AWS Lambda (`/api/v1/workspaces/*`).

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    studio::lambda::run_http(workspaces_api::routes).await
}
