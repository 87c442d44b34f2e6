//! Website sources locally: the crawl worker's code on the real crawl queue when `SQS_CRAWL_QUEUE_URL` is
//! set, else on an in-process one. Fetching follows the same policy as on Lambda
//! (`FETCH_ALLOW_PRIVATE_NETWORKS=true` lets a crawl reach a site on this machine).

use studio::queue::Queue;
use studio::state::{CrawlState, KnowledgeState};

/// Starts the crawl worker and gives `knowledge` the queue crawls are announced on.
pub fn start(knowledge: &mut KnowledgeState) -> anyhow::Result<()> {
    let config = &knowledge.app.config;
    let fetcher = studio::crawl::fetcher(config)?;
    let state = |queue: Queue| CrawlState {
        app: knowledge.app.clone(),
        fetcher: fetcher.clone(),
        queue,
        ingest: knowledge.queue.clone(),
    };
    let queue = match &config.crawl.queue_url {
        Some(url) => {
            let queue = Queue::sqs(url.clone());
            let state = state(queue.clone());
            crate::spawn_sqs_consumer("crawl", queue.clone(), move |event| {
                let state = state.clone();
                async move { crawl_worker::handle(&state, event).await }
            });
            queue
        }
        None => {
            let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
            let queue = Queue::Local(tx);
            let state = state(queue.clone());
            crate::spawn_local_consumer("crawl", rx, move |body, _attempt| {
                let state = state.clone();
                async move { crawl_worker::process(&state, &body).await }
            });
            queue
        }
    };
    knowledge.crawl = Some(queue);
    Ok(())
}
