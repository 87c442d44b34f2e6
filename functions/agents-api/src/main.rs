//! The knowledge-base and agent route group on AWS Lambda (`/api/v1/agents/*`).

use studio::lambda::Responses;

#[tokio::main]
async fn main() -> Result<(), studio::lambda::Error> {
    // Uploads are granted here: the bucket is required on Lambda.
    let state = studio::lambda::knowledge_state_needing(&[
        studio::config::Need::Uploads,
        studio::config::Need::CrawlQueue,
    ]);
    studio::lambda::http(Responses::Buffered, agents_api::routes(), state).await
}
