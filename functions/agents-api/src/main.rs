//! The knowledge-base and agent route group on AWS Lambda (`/api/v1/agents/*`).

#[tokio::main]
async fn main() -> Result<(), studio::lambda::Error> {
    studio::lambda::http(agents_api::routes(), studio::lambda::knowledge_state()).await
}
