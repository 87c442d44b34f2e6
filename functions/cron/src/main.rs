//! The cron function on AWS Lambda, invoked by EventBridge schedules.

#[tokio::main]
async fn main() -> Result<(), studio::lambda::Error> {
    studio::lambda::schedule(studio::lambda::knowledge_state(), cron::handle).await
}
