//! The email worker on AWS Lambda: an SQS event source with partial batch responses.

#[tokio::main]
async fn main() -> Result<(), studio::lambda::Error> {
    studio::lambda::sqs(email_worker::EmailState::from_env(), email_worker::handle).await
}
