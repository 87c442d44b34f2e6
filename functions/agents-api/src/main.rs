//! The knowledge-base and agent route group on AWS Lambda (`/api/v1/agents/*`).

use studio::lambda::Responses;

#[tokio::main]
async fn main() -> Result<(), studio::lambda::Error> {
    let state = studio::lambda::knowledge_state();
    studio::lambda::http(Responses::Buffered, agents_api::routes(), state).await
}
