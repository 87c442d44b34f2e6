//! The ingest worker: each SQS message names an ingestion; its documents are chunked, embedded and
//! upserted. Messages of a batch are processed concurrently and fail alone (partial batch response);
//! a failed message comes back after a delay that grows with its receive count; on the third attempt
//! its documents are marked `failed` with the reason and the message goes on to the dead-letter queue.
//! The same queue carries re-index steps (`{"reindexJobId": …}`, see `studio::services::reindex`).

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use studio::knowledge::queue::{IngestMessage, MAX_ATTEMPTS};
use studio::services::knowledge::process_ingestion;
use studio::services::reindex::{self, ReindexMessage};
use studio::state::KnowledgeState;

/// Handles one SQS batch; the response lists the messages to retry.
pub async fn handle(state: &KnowledgeState, event: SqsEvent) -> SqsBatchResponse {
    studio::queue::consume(&state.queue, "ingest", event, |body, count| async move {
        process_body(state, &body, count).await
    })
    .await
}

/// Processes one message body; `receive_count` is how many times the queue has delivered it.
pub async fn process_body(
    state: &KnowledgeState,
    body: &str,
    receive_count: u32,
) -> anyhow::Result<()> {
    let final_attempt = receive_count >= MAX_ATTEMPTS;
    if let Ok(step) = serde_json::from_str::<ReindexMessage>(body) {
        return reindex::step(state, &step, final_attempt, reindex::Budget::default()).await;
    }
    let message: IngestMessage = serde_json::from_str(body).map_err(|e| {
        anyhow::anyhow!(
            "neither an ingest nor a re-index message ({e}); it will go to the dead-letter queue"
        )
    })?;
    process_ingestion(state, &message, final_attempt).await
}
