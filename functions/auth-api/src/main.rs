//! The auth route group on AWS Lambda (`/api/v1/auth/*`).

use studio::lambda::Responses;

#[tokio::main]
async fn main() -> Result<(), studio::lambda::Error> {
    let state = studio::lambda::app_state(&[]);
    studio::lambda::http(Responses::Buffered, auth_api::routes(), state).await
}
