//! The ingest worker: each SQS message names an ingestion; its documents are chunked, embedded and
//! upserted. Messages of a batch are processed concurrently and fail alone (partial batch response);
//! a failed message comes back after a delay that grows with its receive count; on the third attempt
//! its documents are marked `failed` with the reason and the message goes on to the dead-letter queue.

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use studio::knowledge::KnowledgeState;
use studio::knowledge::queue::{IngestMessage, MAX_ATTEMPTS, retry_delay};
use studio::services::knowledge::process_ingestion;

/// Handles one SQS batch; the response lists the messages to retry.
pub async fn handle(state: &KnowledgeState, event: SqsEvent) -> SqsBatchResponse {
    let outcomes = futures::future::join_all(
        event
            .records
            .iter()
            .map(|record| handle_record(state, record)),
    )
    .await;
    let mut response = SqsBatchResponse::default();
    for (record, outcome) in event.records.iter().zip(outcomes) {
        if outcome.is_err() {
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = record.message_id.clone().unwrap_or_default();
            response.batch_item_failures.push(failure);
        }
    }
    response
}

fn receive_count(record: &SqsMessage) -> u32 {
    record
        .attributes
        .get("ApproximateReceiveCount")
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
}

async fn handle_record(state: &KnowledgeState, record: &SqsMessage) -> anyhow::Result<()> {
    let id = record.message_id.as_deref().unwrap_or("<no id>");
    let count = receive_count(record);
    let result = process_body(state, record.body.as_deref().unwrap_or(""), count).await;
    if let Err(e) = &result {
        tracing::error!(
            message_id = id,
            receive_count = count,
            error = format!("{e:#}"),
            "ingest message failed"
        );
        if count < MAX_ATTEMPTS
            && let Some(receipt) = record.receipt_handle.as_deref()
            && let Err(ve) = state.queue.retry_later(receipt, retry_delay(count)).await
        {
            // The queue's own visibility timeout still brings it back, just without the growing delay.
            tracing::warn!(
                message_id = id,
                error = format!("{ve:#}"),
                "could not delay the retry"
            );
        }
    }
    result
}

/// Processes one message body; `receive_count` is how many times the queue has delivered it.
pub async fn process_body(
    state: &KnowledgeState,
    body: &str,
    receive_count: u32,
) -> anyhow::Result<()> {
    let message: IngestMessage = serde_json::from_str(body).map_err(|e| {
        anyhow::anyhow!("not an ingest message ({e}); it will go to the dead-letter queue")
    })?;
    process_ingestion(state, &message, receive_count >= MAX_ATTEMPTS).await
}
