//! The crawl worker on AWS Lambda: steps of website sources' crawls on the crawl queue, one at a time.

#[tokio::main]
async fn main() -> Result<(), studio::lambda::Error> {
    studio::lambda::sqs(studio::lambda::crawl_state(), crawl_worker::handle).await
}
