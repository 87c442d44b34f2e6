//! The cron function on AWS Lambda, invoked by EventBridge schedules.

#[tokio::main]
async fn main() -> Result<(), studio::lambda::Error> {
    // The purge deletes uploaded files with their documents: the bucket is required on Lambda.
    let state = studio::lambda::knowledge_state_needing(&[studio::config::Need::Uploads]);
    studio::lambda::schedule(state, cron::handle).await
}
