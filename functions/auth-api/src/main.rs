//! The auth route group on AWS Lambda (`/api/v1/auth/*`).

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    studio::lambda::run_http(auth_api::routes).await
}
