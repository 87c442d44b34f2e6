//! Queues: SQS in AWS, an in-process channel feeding the same handler in the devserver — and the one
//! SQS consumer loop every queue worker shares (partial batch failures, growing retry delays).

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use std::future::Future;
use std::time::Duration;

/// The platform's work queues, by the name the admin API uses for them and their dead-letter queues.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueName {
    /// Documents to index (`SQS_INGEST_QUEUE_URL`, dead letters in `SQS_INGEST_DLQ_URL`).
    Ingest,
    /// Mail to deliver (`SQS_EMAIL_QUEUE_URL`, dead letters in `SQS_EMAIL_DLQ_URL`).
    Email,
    /// Uploaded files to read (`SQS_EXTRACT_QUEUE_URL`, dead letters in `SQS_EXTRACT_DLQ_URL`).
    Extract,
    /// Steps of website sources' crawls (`SQS_CRAWL_QUEUE_URL`, dead letters in `SQS_CRAWL_DLQ_URL`).
    Crawl,
}

impl QueueName {
    pub const ALL: [QueueName; 4] = [
        QueueName::Ingest,
        QueueName::Email,
        QueueName::Extract,
        QueueName::Crawl,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            QueueName::Ingest => "ingest",
            QueueName::Email => "email",
            QueueName::Extract => "extract",
            QueueName::Crawl => "crawl",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|q| q.as_str() == name)
    }

    /// The variable naming its dead-letter queue.
    pub const fn dead_letter_variable(self) -> &'static str {
        match self {
            QueueName::Ingest => "SQS_INGEST_DLQ_URL",
            QueueName::Email => "SQS_EMAIL_DLQ_URL",
            QueueName::Extract => "SQS_EXTRACT_DLQ_URL",
            QueueName::Crawl => "SQS_CRAWL_DLQ_URL",
        }
    }
}

impl std::fmt::Display for QueueName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The message that announces an ingestion; our own API writes it (through the outbox), so the worker
/// may trust the workspace id it carries.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IngestMessage {
    pub ingestion_id: uuid::Uuid,
    pub workspace_id: uuid::Uuid,
}

/// One step of a re-index job, on the ingest queue (the admin API, the intake when a workspace's
/// language changes, and the previous step write it): see `services::reindex`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReindexMessage {
    pub reindex_job_id: uuid::Uuid,
}

/// One step of a website source's crawl (our API, the cron and the crawl worker itself write it): the
/// step continues the crawl `crawl_id` of the source, or does nothing when that crawl is over or another
/// step holds it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CrawlMessage {
    pub source_id: uuid::Uuid,
    pub workspace_id: uuid::Uuid,
    pub crawl_id: uuid::Uuid,
}

#[derive(Clone)]
pub enum Queue {
    Sqs { client: LazySqs, url: String },
    Local(tokio::sync::mpsc::UnboundedSender<String>),
}

/// An SQS client built on first use, not at cold start: building the SDK's configuration and client
/// costs every container about a millisecond, and many invocations never send to a queue.
#[derive(Clone)]
pub struct LazySqs(std::sync::Arc<LazySqsInner>);

struct LazySqsInner {
    /// The SDK configuration to build from; `None`: the process's (see [`crate::aws::config`]).
    sdk: Option<aws_config::SdkConfig>,
    endpoint: Option<String>,
    client: tokio::sync::OnceCell<aws_sdk_sqs::Client>,
}

impl LazySqs {
    fn new(sdk: Option<aws_config::SdkConfig>, endpoint: Option<String>) -> Self {
        Self(std::sync::Arc::new(LazySqsInner {
            sdk,
            endpoint,
            client: tokio::sync::OnceCell::new(),
        }))
    }

    /// The client, built on the first call.
    pub async fn get(&self) -> &aws_sdk_sqs::Client {
        let inner = &*self.0;
        inner
            .client
            .get_or_init(|| async {
                let sdk = match &inner.sdk {
                    Some(sdk) => sdk,
                    None => crate::aws::config().await,
                };
                let timeouts = aws_config::timeout::TimeoutConfig::builder()
                    .operation_timeout(SEND_TIMEOUT)
                    .connect_timeout(Duration::from_secs(1))
                    .build();
                let mut builder = aws_sdk_sqs::config::Builder::from(sdk).timeout_config(timeouts);
                if let Some(endpoint) = &inner.endpoint {
                    builder = builder.endpoint_url(endpoint);
                }
                aws_sdk_sqs::Client::from_conf(builder.build())
            })
            .await
    }
}

impl std::fmt::Debug for Queue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Queue::Sqs { url, .. } => f.debug_struct("Queue::Sqs").field("url", url).finish(),
            Queue::Local(_) => f.write_str("Queue::Local"),
        }
    }
}

/// How long a request may wait on SQS before the outbox takes over.
const SEND_TIMEOUT: Duration = Duration::from_secs(3);

impl Queue {
    /// An SQS queue, with the SDK's configuration from the environment (`AWS_ENDPOINT_URL` honoured),
    /// loaded when the queue is first used.
    pub fn sqs(url: String) -> Self {
        Self::Sqs {
            client: LazySqs::new(None, None),
            url,
        }
    }

    /// An SQS queue with an explicit endpoint (tests point one at an address where nothing listens).
    pub fn sqs_with(sdk: &aws_config::SdkConfig, url: String, endpoint: Option<&str>) -> Self {
        Self::Sqs {
            client: LazySqs::new(Some(sdk.clone()), endpoint.map(str::to_owned)),
            url,
        }
    }

    pub async fn send(&self, body: String) -> anyhow::Result<()> {
        match self {
            Queue::Sqs { client, url } => {
                client
                    .get()
                    .await
                    .send_message()
                    .queue_url(url)
                    .message_body(body)
                    .send()
                    .await
                    .map_err(sqs_error)?;
                Ok(())
            }
            Queue::Local(tx) => tx
                .send(body)
                .map_err(|_| anyhow::anyhow!("the in-process queue worker has stopped")),
        }
    }

    /// Makes a failed message visible again after `delay` (SQS has no backoff setting of its own).
    pub async fn retry_later(&self, receipt_handle: &str, delay: Duration) -> anyhow::Result<()> {
        match self {
            Queue::Sqs { client, url } => {
                client
                    .get()
                    .await
                    .change_message_visibility()
                    .queue_url(url)
                    .receipt_handle(receipt_handle)
                    .visibility_timeout(i32::try_from(delay.as_secs()).unwrap_or(i32::MAX))
                    .send()
                    .await
                    .map_err(sqs_error)?;
                Ok(())
            }
            Queue::Local(_) => Ok(()),
        }
    }
}

/// The delay before a failed message is retried: 30 s, 60 s, 120 s … (doubling with each receive),
/// capped at 15 minutes — BullMQ's exponential backoff, on SQS.
pub fn retry_delay(receive_count: u32) -> Duration {
    let exponent = receive_count.saturating_sub(1).min(10);
    Duration::from_secs((30u64 << exponent).min(900))
}

/// Attempts before a message is given up (and goes to the dead-letter queue).
pub const MAX_ATTEMPTS: u32 = 3;

fn sqs_error<E: std::error::Error + 'static>(
    e: aws_sdk_sqs::error::SdkError<E, aws_sdk_sqs::config::http::HttpResponse>,
) -> anyhow::Error {
    anyhow::anyhow!("{}", aws_sdk_sqs::error::DisplayErrorContext(&e))
}

/// How many messages a queue holds (SQS' approximate counts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct QueueDepth {
    pub visible: u64,
    pub in_flight: u64,
    pub delayed: u64,
}

/// A message received from a queue, with what is needed to delete it.
#[derive(Debug, Clone)]
pub struct Received {
    pub message_id: String,
    pub receipt_handle: String,
    pub body: String,
    pub receive_count: u32,
    pub sent_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl Queue {
    /// The queue's approximate depth; `None` for the in-process queue, which does not count.
    pub async fn depth(&self) -> anyhow::Result<Option<QueueDepth>> {
        use aws_sdk_sqs::types::QueueAttributeName as A;
        let Queue::Sqs { client, url } = self else {
            return Ok(None);
        };
        let out = client
            .get()
            .await
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(A::ApproximateNumberOfMessages)
            .attribute_names(A::ApproximateNumberOfMessagesNotVisible)
            .attribute_names(A::ApproximateNumberOfMessagesDelayed)
            .send()
            .await
            .map_err(sqs_error)?;
        let attrs = out.attributes.unwrap_or_default();
        let get = |name: A| {
            attrs
                .get(&name)
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
        };
        Ok(Some(QueueDepth {
            visible: get(A::ApproximateNumberOfMessages),
            in_flight: get(A::ApproximateNumberOfMessagesNotVisible),
            delayed: get(A::ApproximateNumberOfMessagesDelayed),
        }))
    }

    /// Receives up to `max` (1 to 10) messages and hides them for `visibility` (zero leaves them visible:
    /// a look that takes nothing away).
    pub async fn receive(&self, max: i32, visibility: Duration) -> anyhow::Result<Vec<Received>> {
        use aws_sdk_sqs::types::MessageSystemAttributeName as A;
        let Queue::Sqs { client, url } = self else {
            anyhow::bail!("the in-process queue cannot be read back; configure an SQS queue");
        };
        let out = client
            .get()
            .await
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(max.clamp(1, 10))
            .visibility_timeout(i32::try_from(visibility.as_secs()).unwrap_or(i32::MAX))
            .wait_time_seconds(0)
            .message_system_attribute_names(A::ApproximateReceiveCount)
            .message_system_attribute_names(A::SentTimestamp)
            .send()
            .await
            .map_err(sqs_error)?;
        Ok(out
            .messages
            .unwrap_or_default()
            .into_iter()
            .map(|m| {
                let attrs = m.attributes.unwrap_or_default();
                Received {
                    receive_count: attrs
                        .get(&A::ApproximateReceiveCount)
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(0),
                    sent_at: attrs
                        .get(&A::SentTimestamp)
                        .and_then(|v| v.parse::<i64>().ok())
                        .and_then(chrono::DateTime::from_timestamp_millis),
                    message_id: m.message_id.unwrap_or_default(),
                    receipt_handle: m.receipt_handle.unwrap_or_default(),
                    body: m.body.unwrap_or_default(),
                }
            })
            .collect())
    }

    pub async fn delete(&self, receipt_handle: &str) -> anyhow::Result<()> {
        let Queue::Sqs { client, url } = self else {
            return Ok(());
        };
        client
            .get()
            .await
            .delete_message()
            .queue_url(url)
            .receipt_handle(receipt_handle)
            .send()
            .await
            .map_err(sqs_error)?;
        Ok(())
    }
}

/// The approximate receive count SQS attaches to a delivered message (1 on the first delivery).
pub fn receive_count(record: &SqsMessage) -> u32 {
    record
        .attributes
        .get("ApproximateReceiveCount")
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
}

/// Handles one SQS batch for a queue worker: every message concurrently through `process(body,
/// receive_count)`; a failure is logged, delayed by [`retry_delay`] (ChangeMessageVisibility) while
/// attempts remain, and reported in the partial batch response so that only it comes back.
pub async fn consume<F, Fut>(
    queue: &Queue,
    what: &'static str,
    event: SqsEvent,
    process: F,
) -> SqsBatchResponse
where
    F: Fn(String, u32) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let outcomes = futures::future::join_all(event.records.iter().map(|record| {
        let count = receive_count(record);
        let fut = process(record.body.clone().unwrap_or_default(), count);
        async move {
            let id = record.message_id.as_deref().unwrap_or("<no id>");
            let result = fut.await;
            if let Err(e) = &result {
                tracing::error!(
                    queue = what,
                    message_id = id,
                    receive_count = count,
                    error = format!("{e:#}"),
                    "queue message failed"
                );
                if count < MAX_ATTEMPTS
                    && let Some(receipt) = record.receipt_handle.as_deref()
                    && let Err(ve) = queue.retry_later(receipt, retry_delay(count)).await
                {
                    // The queue's own visibility timeout still brings it back, without the growing delay.
                    tracing::warn!(
                        queue = what,
                        message_id = id,
                        error = format!("{ve:#}"),
                        "could not delay the retry"
                    );
                }
            }
            result
        }
    }))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn when_a_message_fails_again_its_delay_grows_and_is_capped() {
        assert_eq!(retry_delay(1), Duration::from_secs(30));
        assert_eq!(retry_delay(2), Duration::from_secs(60));
        assert_eq!(retry_delay(3), Duration::from_secs(120));
        assert_eq!(retry_delay(50), Duration::from_secs(900));
    }
}
