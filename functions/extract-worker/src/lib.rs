//! The extract worker: each SQS message is an S3 notification of uploaded files; each file is read, its
//! text taken out (PDF, DOCX, HTML, Markdown, plain text) and handed to the ingest queue. A file that
//! cannot be read fails its own document with a code; a message fails (and comes back after a growing
//! delay, then goes to the dead-letter queue) only when storage or the database is down.
//!
//! One message per invocation (the event source's batch size is 1): a hostile file that exhausts the
//! function's memory or time takes only itself down, and the sweep reports it (`unreadable`).

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use studio::services::uploads::process_notification;
use studio::state::ExtractState;

/// Handles one SQS batch; the response lists the messages to retry.
pub async fn handle(state: &ExtractState, event: SqsEvent) -> SqsBatchResponse {
    studio::queue::consume(&state.queue, "extract", event, |body, count| async move {
        process_notification(state, &body, count).await
    })
    .await
}
