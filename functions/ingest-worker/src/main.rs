//! The ingest worker on AWS Lambda: an SQS event source with partial batch responses.

#[tokio::main]
async fn main() -> Result<(), studio::lambda::Error> {
    studio::lambda::sqs(studio::lambda::knowledge_state(), ingest_worker::handle).await
}
