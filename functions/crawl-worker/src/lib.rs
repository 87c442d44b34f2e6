//! The crawl worker: each SQS message is one step of one website source's crawl (see `studio::crawl`):
//! robots.txt and the pages to start from, then pages fetched a crawl delay apart through the SSRF guard
//! for a few minutes, their text handed to the ingest queue, the rest left to the next step. What goes
//! wrong with a site is recorded on its source and pages; a message fails (and comes back after a growing
//! delay, then goes to the dead-letter queue) only when the database or a queue is down.
//!
//! One message per invocation (the event source's batch size is 1): a step runs for minutes.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use studio::queue::CrawlMessage;
use studio::state::CrawlState;

/// Handles one SQS batch; the response lists the messages to retry.
pub async fn handle(state: &CrawlState, event: SqsEvent) -> SqsBatchResponse {
    studio::queue::consume(&state.queue, "crawl", event, |body, _count| async move {
        process(state, &body).await
    })
    .await
}

/// Runs the step a message announces.
pub async fn process(state: &CrawlState, body: &str) -> anyhow::Result<()> {
    let message: CrawlMessage = serde_json::from_str(body).map_err(|e| {
        anyhow::anyhow!("not a crawl message ({e}); it will go to the dead-letter queue")
    })?;
    studio::crawl::step(state, &message).await
}
