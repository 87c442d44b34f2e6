//! The ingest queue: SQS in AWS, an in-process channel feeding the same handler in the devserver.

use std::time::Duration;

/// The message that announces an ingestion; our own API writes it (through the outbox), so the worker
/// may trust the workspace id it carries.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IngestMessage {
    pub ingestion_id: uuid::Uuid,
    pub workspace_id: uuid::Uuid,
}

#[derive(Clone)]
pub enum Queue {
    Sqs {
        client: aws_sdk_sqs::Client,
        url: String,
    },
    Local(tokio::sync::mpsc::UnboundedSender<String>),
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
    /// An SQS queue, with the SDK's configuration from the environment (`AWS_ENDPOINT_URL` honoured).
    pub async fn sqs(url: String) -> Self {
        let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        Self::sqs_with(&sdk, url, None)
    }

    /// An SQS queue with an explicit endpoint (tests point one at an address where nothing listens).
    pub fn sqs_with(sdk: &aws_config::SdkConfig, url: String, endpoint: Option<&str>) -> Self {
        let timeouts = aws_config::timeout::TimeoutConfig::builder()
            .operation_timeout(SEND_TIMEOUT)
            .connect_timeout(Duration::from_secs(1))
            .build();
        let mut builder = aws_sdk_sqs::config::Builder::from(sdk).timeout_config(timeouts);
        if let Some(endpoint) = endpoint {
            builder = builder.endpoint_url(endpoint);
        }
        Self::Sqs {
            client: aws_sdk_sqs::Client::from_conf(builder.build()),
            url,
        }
    }

    pub async fn send(&self, body: String) -> anyhow::Result<()> {
        match self {
            Queue::Sqs { client, url } => {
                client
                    .send_message()
                    .queue_url(url)
                    .message_body(body)
                    .send()
                    .await
                    .map_err(|e| {
                        anyhow::anyhow!("{}", aws_sdk_sqs::error::DisplayErrorContext(&e))
                    })?;
                Ok(())
            }
            Queue::Local(tx) => tx
                .send(body)
                .map_err(|_| anyhow::anyhow!("the in-process ingest worker has stopped")),
        }
    }

    /// Makes a failed message visible again after `delay` (SQS has no backoff setting of its own).
    pub async fn retry_later(&self, receipt_handle: &str, delay: Duration) -> anyhow::Result<()> {
        match self {
            Queue::Sqs { client, url } => {
                client
                    .change_message_visibility()
                    .queue_url(url)
                    .receipt_handle(receipt_handle)
                    .visibility_timeout(i32::try_from(delay.as_secs()).unwrap_or(i32::MAX))
                    .send()
                    .await
                    .map_err(|e| {
                        anyhow::anyhow!("{}", aws_sdk_sqs::error::DisplayErrorContext(&e))
                    })?;
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

    #[test]
    fn when_a_message_has_unknown_fields_it_is_rejected() {
        let ok: IngestMessage = serde_json::from_str(
            r#"{"ingestionId":"0190a1b2-0000-7000-8000-000000000001","workspaceId":"0190a1b2-0000-7000-8000-000000000002"}"#,
        )
        .expect("valid");
        assert_eq!(
            ok.ingestion_id.to_string(),
            "0190a1b2-0000-7000-8000-000000000001"
        );
        assert!(serde_json::from_str::<IngestMessage>(r#"{"ingestionId":"x"}"#).is_err());
    }
}
