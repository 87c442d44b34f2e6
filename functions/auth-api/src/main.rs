//! The auth route group on AWS Lambda (`/api/v1/auth/*`).

#[tokio::main]
async fn main() -> Result<(), studio::lambda::Error> {
    studio::lambda::http(auth_api::routes(), studio::lambda::app_state(&[])).await
}
