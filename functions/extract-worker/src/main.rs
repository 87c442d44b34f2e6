//! The extract worker on AWS Lambda: S3's notifications on the extract queue, one at a time.

#[tokio::main]
async fn main() -> Result<(), studio::lambda::Error> {
    studio::lambda::sqs(studio::lambda::extract_state(), extract_worker::handle).await
}
