//! The cron function on AWS Lambda, invoked by EventBridge schedules.

#[tokio::main]
async fn main() -> Result<(), studio::lambda::Error> {
    // The purge deletes uploaded files with their documents (the bucket), and website sources' syncs
    // are announced on the crawl queue: both required on Lambda.
    let state = studio::lambda::knowledge_state_needing(&[
        studio::config::Need::Uploads,
        studio::config::Need::CrawlQueue,
    ]);
    studio::lambda::schedule(state, cron::handle).await
}
