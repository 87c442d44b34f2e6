//! The public route group on AWS Lambda (`/api/v1/public/*`, the tenant's customers on its site).

use studio::lambda::Responses;

#[tokio::main]
async fn main() -> Result<(), studio::lambda::Error> {
    let state = studio::lambda::knowledge_state();
    studio::lambda::http(Responses::Buffered, public_api::routes(), state).await
}
