//! A rendered message ([`EmailMessage`]) and its way into the outbox ([`queue`]), in the same transaction
//! as the rows it announces; [`QueuedMail::send`] hands it to the email queue after the commit.

use crate::ids::WorkspaceId;
use crate::outbox::Topic;
use crate::queue::Queue;
use serde::{Deserialize, Serialize};
use std::fmt;
use uuid::Uuid;

/// Why a message is sent (for logs and metrics; it never changes how).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EmailKind {
    Welcome,
    Invitation,
    PasswordReset,
    Escalation,
    /// A person's reply, mailed to a visitor who left an address.
    TeamReply,
}

impl EmailKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            EmailKind::Welcome => "welcome",
            EmailKind::Invitation => "invitation",
            EmailKind::PasswordReset => "password_reset",
            EmailKind::Escalation => "escalation",
            EmailKind::TeamReply => "team_reply",
        }
    }
}

/// One rendered message, as it travels through the outbox and the email queue.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EmailMessage {
    /// Stable across retries: the worker sends each id once.
    pub id: Uuid,
    pub kind: EmailKind,
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

impl fmt::Debug for EmailMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Addresses and bodies are personal data (and may hold one-time links): never in logs.
        f.debug_struct("EmailMessage")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

/// Largest body (text or HTML) a message may carry; SES' own limit is 40 MB for the whole message.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

impl EmailMessage {
    pub fn new(kind: EmailKind, to: &str, subject: String, text: String, html: String) -> Self {
        Self {
            id: Uuid::now_v7(),
            kind,
            to: to.to_owned(),
            subject,
            text,
            html,
        }
    }

    /// Refuses a message that cannot be sent: no recipient, a header injection, a body over the limit.
    pub fn check(&self) -> anyhow::Result<()> {
        if !self.to.contains('@') || self.to.chars().any(|c| c.is_control() || c == ',') {
            anyhow::bail!("email {} has an invalid recipient", self.id);
        }
        if self.subject.chars().any(char::is_control) {
            anyhow::bail!("email {} has a control character in its subject", self.id);
        }
        if self.text.len() > MAX_BODY_BYTES || self.html.len() > MAX_BODY_BYTES {
            anyhow::bail!("email {} has a body over {MAX_BODY_BYTES} bytes", self.id);
        }
        Ok(())
    }
}

/// A message written to the outbox, to be sent to the email queue once its transaction has committed.
#[must_use = "send the queued mail after the commit (or leave it to the outbox sweep on purpose)"]
#[derive(Debug)]
pub struct QueuedMail {
    outbox_id: Uuid,
    payload: serde_json::Value,
}

impl QueuedMail {
    pub fn outbox_id(&self) -> Uuid {
        self.outbox_id
    }

    /// Sends it to the state's email queue now; a failure (or no queue) leaves it to the outbox sweep.
    pub async fn send(self, db: &impl tokio_postgres::GenericClient, queue: Option<&Queue>) {
        crate::outbox::send_committed(db, queue, self.outbox_id, &self.payload).await;
    }
}

/// Writes the message to the outbox inside the caller's transaction; after the commit, call
/// [`QueuedMail::send`].
pub async fn queue(
    db: &impl tokio_postgres::GenericClient,
    workspace: Option<WorkspaceId>,
    message: &EmailMessage,
) -> Result<QueuedMail, crate::ApiError> {
    message.check().map_err(crate::ApiError::internal)?;
    let payload = serde_json::to_value(message).map_err(crate::ApiError::internal)?;
    let outbox_id = crate::outbox::write(db, workspace, Topic::Email, &payload).await?;
    tracing::info!(email_id = %message.id, kind = message.kind.as_str(), outbox_id = %outbox_id, "email queued");
    Ok(QueuedMail { outbox_id, payload })
}
