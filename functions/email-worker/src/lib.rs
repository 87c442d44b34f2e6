//! The email worker: each SQS message is one rendered [`EmailMessage`], delivered through SES v2 (or the
//! mail directory locally). A message id is delivered once: the delivery is recorded in the same
//! transaction that is open while SES takes the message, so a redelivered message (SQS delivers at least
//! once) finds it and is skipped. A failed message comes back after a growing delay and, after the third
//! attempt, goes to the dead-letter queue, where admins can look at it and redrive it.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use studio::config::{ConfigError, Need};
use studio::email::{EmailMessage, Mailer};
use studio::queue::Queue;
use studio::repo;

/// What the worker needs, built once per cold start.
#[derive(Clone, Debug)]
pub struct EmailState {
    pub db: deadpool_postgres::Pool,
    pub mailer: Mailer,
    /// The email queue itself (for the retry delay); `Local` in the devserver.
    pub queue: Queue,
}

/// Handles one SQS batch; the response lists the messages to retry.
pub async fn handle(state: &EmailState, event: SqsEvent) -> SqsBatchResponse {
    studio::queue::consume(&state.queue, "email", event, |body, _count| async move {
        process_body(state, &body).await.map(drop)
    })
    .await
}

/// What became of one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    Sent,
    /// Delivered before (a redelivery of the same message id).
    AlreadySent,
}

/// Delivers one message body, at most once per message id.
pub async fn process_body(state: &EmailState, body: &str) -> anyhow::Result<Delivery> {
    let message: EmailMessage = serde_json::from_str(body).map_err(|e| {
        anyhow::anyhow!("not an email message ({e}); it will go to the dead-letter queue")
    })?;
    let mut client = state.db.get().await?;
    let tx = client.transaction().await?;
    // The row is inserted before SES is called and committed after it answers: a concurrent delivery of
    // the same id waits on it, then finds it; a failed send rolls it back so the retry sends.
    if !repo::email_deliveries::claim(&*tx, message.id, message.kind.as_str()).await? {
        tracing::info!(email_id = %message.id, kind = message.kind.as_str(), "email already delivered; skipped");
        return Ok(Delivery::AlreadySent);
    }
    let provider_id = state.mailer.send(&message).await?;
    repo::email_deliveries::record_provider_id(&*tx, message.id, provider_id.as_deref()).await?;
    tx.commit().await?;
    tracing::info!(email_id = %message.id, kind = message.kind.as_str(), provider_message_id = provider_id.as_deref().unwrap_or("-"), "email delivered");
    Ok(Delivery::Sent)
}

impl EmailState {
    /// Configuration, pool, SES client and queue, once per cold start. On Lambda `EMAIL_FROM` and
    /// `SQS_EMAIL_QUEUE_URL` are required; the queue is required anywhere.
    pub async fn from_env() -> Result<Self, studio::lambda::Error> {
        let config = studio::lambda::config(&[Need::Mail, Need::EmailQueue]).await?;
        let mailer = Mailer::from_config(&config.ops)
            .await
            .inspect_err(|e| tracing::error!(error = format!("{e:#}"), "start-up failed"))?;
        let url = (config.ops.email_queue_url.clone())
            .ok_or(ConfigError::Missing("SQS_EMAIL_QUEUE_URL"))
            .inspect_err(|e| tracing::error!(error = %e, "start-up failed"))?;
        Ok(Self {
            db: studio::db::pool(&config.database)?,
            mailer,
            queue: Queue::sqs(url),
        })
    }
}
