//! Transactional email.
//!
//! A flow renders its [`EmailMessage`] (plain text and HTML) and [`queue`]s it in the outbox, in the same
//! transaction as the rows it announces; after the commit the message goes to the email queue, and the
//! email worker hands it to a [`Mailer`]: Amazon SES v2 in AWS, or `.eml`-like files in a directory
//! locally. Logs name a message by id and kind, never by address or content.

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
}

impl EmailKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            EmailKind::Welcome => "welcome",
            EmailKind::Invitation => "invitation",
            EmailKind::PasswordReset => "password_reset",
            EmailKind::Escalation => "escalation",
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

/// Where messages are delivered.
#[derive(Clone)]
pub enum Mailer {
    /// Amazon SES v2 (`EMAIL_FROM` set).
    #[cfg(feature = "email-ses")]
    Ses {
        client: aws_sdk_sesv2::Client,
        from: String,
        configuration_set: Option<String>,
    },
    /// One JSON file per message in a directory (local development: `MAIL_DIR`).
    Files { dir: std::path::PathBuf },
}

impl fmt::Debug for Mailer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            #[cfg(feature = "email-ses")]
            Mailer::Ses { from, .. } => f.debug_struct("Mailer::Ses").field("from", from).finish(),
            Mailer::Files { dir } => f.debug_struct("Mailer::Files").field("dir", dir).finish(),
        }
    }
}

impl Mailer {
    /// SES when `EMAIL_FROM` is set (required on Lambda: `Need::Mail`), the mail directory otherwise.
    pub async fn from_config(cfg: &crate::config::OpsConfig) -> anyhow::Result<Self> {
        match &cfg.email_from {
            #[cfg(feature = "email-ses")]
            Some(from) => Ok(Self::ses(
                crate::aws::config().await,
                from.clone(),
                cfg.ses_configuration_set.clone(),
            )),
            #[cfg(not(feature = "email-ses"))]
            Some(_) => anyhow::bail!(
                "EMAIL_FROM is set but this binary was built without SES support (feature email-ses)"
            ),
            None => {
                tracing::warn!(
                    dir = cfg.mail_dir,
                    "EMAIL_FROM is not set: mail is written to the mail directory instead of being sent"
                );
                Ok(Self::Files {
                    dir: cfg.mail_dir.clone().into(),
                })
            }
        }
    }

    #[cfg(feature = "email-ses")]
    pub fn ses(
        sdk: &aws_config::SdkConfig,
        from: String,
        configuration_set: Option<String>,
    ) -> Self {
        Self::ses_with(sdk, from, configuration_set, None)
    }

    /// SES at an explicit endpoint (tests point one where nothing listens).
    #[cfg(feature = "email-ses")]
    pub fn ses_with(
        sdk: &aws_config::SdkConfig,
        from: String,
        configuration_set: Option<String>,
        endpoint: Option<&str>,
    ) -> Self {
        let timeouts = aws_config::timeout::TimeoutConfig::builder()
            .operation_timeout(std::time::Duration::from_secs(10))
            .connect_timeout(std::time::Duration::from_secs(2))
            .build();
        let mut conf = aws_sdk_sesv2::config::Builder::from(sdk).timeout_config(timeouts);
        if let Some(endpoint) = endpoint {
            conf = conf.endpoint_url(endpoint);
        }
        let conf = conf.build();
        Self::Ses {
            client: aws_sdk_sesv2::Client::from_conf(conf),
            from,
            configuration_set,
        }
    }

    /// Delivers one message; returns the provider's message id when it gives one.
    pub async fn send(&self, message: &EmailMessage) -> anyhow::Result<Option<String>> {
        message.check()?;
        match self {
            #[cfg(feature = "email-ses")]
            Mailer::Ses {
                client,
                from,
                configuration_set,
            } => {
                use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};
                let content = |data: &str| {
                    Content::builder()
                        .data(data)
                        .charset("UTF-8")
                        .build()
                        .map_err(|e| anyhow::anyhow!("building the email: {e}"))
                };
                let body = Body::builder()
                    .text(content(&message.text)?)
                    .html(content(&message.html)?)
                    .build();
                let simple = Message::builder()
                    .subject(content(&message.subject)?)
                    .body(body)
                    .build();
                let out = client
                    .send_email()
                    .from_email_address(from)
                    .destination(Destination::builder().to_addresses(&message.to).build())
                    .content(EmailContent::builder().simple(simple).build())
                    .set_configuration_set_name(configuration_set.clone())
                    .send()
                    .await
                    .map_err(|e| {
                        anyhow::anyhow!(
                            "SES refused or could not be reached: {}",
                            aws_sdk_sesv2::error::DisplayErrorContext(&e)
                        )
                    })?;
                Ok(out.message_id)
            }
            Mailer::Files { dir } => {
                tokio::fs::create_dir_all(dir).await?;
                let path = dir.join(format!("{}-{}.json", message.id, message.kind.as_str()));
                tokio::fs::write(&path, serde_json::to_vec_pretty(message)?).await?;
                tracing::info!(email_id = %message.id, path = %path.display(), "email written to the mail directory");
                Ok(None)
            }
        }
    }
}

/// The messages the platform sends, each in plain text and HTML (every interpolated value escaped).
pub mod templates {
    use super::{EmailKind, EmailMessage};
    use html_escape::encode_text as esc;

    const SIGNATURE: &str = "— Soft Systems Studio";

    fn html_page(paragraphs: &[String]) -> String {
        let mut html = String::from(
            "<!doctype html><html><body style=\"font-family:sans-serif;line-height:1.5\">",
        );
        for p in paragraphs {
            html.push_str(p);
        }
        html.push_str("<p>");
        html.push_str(SIGNATURE);
        html.push_str("</p></body></html>");
        html
    }

    fn link(url: &str, label: &str) -> String {
        format!(
            "<p><a href=\"{}\">{}</a></p>",
            html_escape::encode_double_quoted_attribute(url),
            esc(label)
        )
    }

    pub fn welcome(to: &str, name: &str, app_url: &str) -> EmailMessage {
        let url = format!("{app_url}/");
        EmailMessage::new(
            EmailKind::Welcome,
            to,
            "Welcome to Soft Systems Studio".into(),
            format!(
                "Hello {name},\n\nyour account is ready. Set up your agent's intake and upload your knowledge base to start answering customers:\n{url}\n\n{SIGNATURE}\n"
            ),
            html_page(&[
                format!("<p>Hello {},</p>", esc(name)),
                "<p>your account is ready. Set up your agent's intake and upload your knowledge base to start answering customers.</p>".into(),
                link(&url, "Open Soft Systems Studio"),
            ]),
        )
    }

    pub fn invitation(
        to: &str,
        inviter: &str,
        workspace: &str,
        role: &str,
        token: &str,
        app_url: &str,
        valid_days: u64,
    ) -> EmailMessage {
        let url = format!("{app_url}/invitations/{token}");
        EmailMessage::new(
            EmailKind::Invitation,
            to,
            format!("{inviter} invited you to {workspace}"),
            format!(
                "Hello,\n\n{inviter} invited you to join the workspace \"{workspace}\" on Soft Systems Studio as {role}.\n\nAccept the invitation (valid for {valid_days} days; sign in or create an account with this address first):\n{url}\n\nIf you did not expect this, ignore this message.\n\n{SIGNATURE}\n"
            ),
            html_page(&[
                "<p>Hello,</p>".into(),
                format!(
                    "<p>{} invited you to join the workspace <strong>{}</strong> on Soft Systems Studio as {}.</p>",
                    esc(inviter),
                    esc(workspace),
                    esc(role)
                ),
                link(&url, "Accept the invitation"),
                format!(
                    "<p>The invitation is valid for {valid_days} days. Sign in or create an account with this address first. If you did not expect this, ignore this message.</p>"
                ),
            ]),
        )
    }

    pub fn password_reset(
        to: &str,
        token: &str,
        app_url: &str,
        valid_minutes: u64,
    ) -> EmailMessage {
        let url = format!("{app_url}/reset-password?token={token}");
        EmailMessage::new(
            EmailKind::PasswordReset,
            to,
            "Reset your Soft Systems Studio password".into(),
            format!(
                "Hello,\n\nsomeone asked to reset the password of this account. Choose a new password here (the link works once, for {valid_minutes} minutes):\n{url}\n\nIf it was not you, ignore this message: your password stays as it is.\n\n{SIGNATURE}\n"
            ),
            html_page(&[
                "<p>Hello,</p>".into(),
                format!(
                    "<p>someone asked to reset the password of this account. The link works once, for {valid_minutes} minutes.</p>"
                ),
                link(&url, "Choose a new password"),
                "<p>If it was not you, ignore this message: your password stays as it is.</p>"
                    .into(),
            ]),
        )
    }

    /// One line of a transcript.
    pub struct Line<'a> {
        pub role: &'a str,
        pub content: &'a str,
    }

    /// Largest transcript carried in an escalation (the newest lines are kept).
    pub const MAX_TRANSCRIPT_BYTES: usize = 100 * 1024;

    #[allow(clippy::too_many_arguments)]
    pub fn escalation(
        to: &str,
        workspace: &str,
        conversation_title: &str,
        conversation_id: uuid::Uuid,
        escalated_by: &str,
        reason: Option<&str>,
        transcript: &[Line<'_>],
        app_url: &str,
    ) -> EmailMessage {
        // Keep the newest lines that fit.
        let mut kept = Vec::new();
        let mut size = 0;
        for line in transcript.iter().rev() {
            size += line.content.len() + line.role.len() + 4;
            if size > MAX_TRANSCRIPT_BYTES {
                break;
            }
            kept.push(line);
        }
        kept.reverse();
        let omitted = transcript.len() - kept.len();
        let url = format!("{app_url}/conversations/{conversation_id}");
        let reason_text = reason.unwrap_or("no reason given");
        let mut text = format!(
            "A conversation in \"{workspace}\" needs a person.\n\nConversation: {conversation_title}\nEscalated by: {escalated_by}\nReason: {reason_text}\n{url}\n\nTranscript:\n"
        );
        let mut html_lines = String::from("<table cellpadding=\"4\">");
        if omitted > 0 {
            text.push_str(&format!("[{omitted} earlier messages omitted]\n"));
            html_lines.push_str(&format!(
                "<tr><td colspan=\"2\"><em>{omitted} earlier messages omitted</em></td></tr>"
            ));
        }
        for line in &kept {
            text.push_str(&format!("{}: {}\n", line.role, line.content));
            html_lines.push_str(&format!(
                "<tr><td valign=\"top\"><strong>{}</strong></td><td style=\"white-space:pre-wrap\">{}</td></tr>",
                esc(line.role),
                esc(line.content)
            ));
        }
        html_lines.push_str("</table>");
        text.push_str(&format!("\n{SIGNATURE}\n"));
        EmailMessage::new(
            EmailKind::Escalation,
            to,
            format!("Escalation: {conversation_title}"),
            text,
            html_page(&[
                format!(
                    "<p>A conversation in <strong>{}</strong> needs a person.</p>",
                    esc(workspace)
                ),
                format!(
                    "<p>Conversation: {}<br>Escalated by: {}<br>Reason: {}</p>",
                    esc(conversation_title),
                    esc(escalated_by),
                    esc(reason_text)
                ),
                link(&url, "Open the conversation"),
                html_lines,
            ]),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::templates::*;
    use super::*;

    #[test]
    fn when_a_value_holds_markup_the_html_body_escapes_it() {
        let m = invitation(
            "a@example.com",
            "<script>alert(1)</script>",
            "Acme & Co",
            "member",
            "tok",
            "https://app.example.com",
            7,
        );
        assert!(!m.html.contains("<script>"), "{}", m.html);
        assert!(m.html.contains("&lt;script&gt;"));
        assert!(m.html.contains("Acme &amp; Co"));
        assert!(m.text.contains("https://app.example.com/invitations/tok"));
        assert_eq!(m.kind, EmailKind::Invitation);
    }

    #[test]
    fn when_a_transcript_is_too_long_the_newest_lines_are_kept() {
        let long = "x".repeat(60 * 1024);
        let lines = [
            Line {
                role: "user",
                content: "first",
            },
            Line {
                role: "assistant",
                content: &long,
            },
            Line {
                role: "user",
                content: &long,
            },
            Line {
                role: "assistant",
                content: "last",
            },
        ];
        let m = escalation(
            "ops@example.com",
            "Acme",
            "Refund",
            Uuid::nil(),
            "Ada",
            None,
            &lines,
            "https://app.example.com",
        );
        assert!(m.text.contains("last"));
        assert!(!m.text.contains("first"));
        assert!(
            m.text.contains("2 earlier messages omitted"),
            "{}",
            &m.text[..300]
        );
        assert!(m.check().is_ok());
    }

    #[test]
    fn when_a_message_is_unsendable_check_refuses_it() {
        let mut m = welcome("a@example.com", "Ada", "http://x");
        assert!(m.check().is_ok());
        m.to = "a@example.com\r\nBcc: b@example.com".into();
        assert!(m.check().is_err());
        let mut m = welcome("not-an-address", "Ada", "http://x");
        assert!(m.check().is_err());
        m.to = "a@example.com".into();
        m.text = "x".repeat(MAX_BODY_BYTES + 1);
        assert!(m.check().is_err());
    }

    #[tokio::test]
    async fn when_no_sender_is_configured_on_lambda_the_start_fails_naming_email_from() {
        let mut src = crate::config::Source::from_pairs([
            ("DATABASE_URL", "postgres://u@h/d"),
            ("JWT_SECRET", "0123456789abcdef0123456789abcdef"),
        ]);
        let cfg = crate::Config::from_source(&src).expect("config");
        assert!(matches!(
            Mailer::from_config(&cfg.ops).await,
            Ok(Mailer::Files { .. })
        ));
        src.set("AWS_LAMBDA_FUNCTION_NAME", "email-worker");
        let cfg = crate::Config::from_source(&src).expect("config");
        let err = cfg
            .require_on_lambda(&[crate::config::Need::Mail])
            .expect_err("no sender on Lambda");
        assert!(err.to_string().contains("EMAIL_FROM"), "{err}");
    }

    #[test]
    fn when_a_message_is_logged_its_address_and_body_are_not() {
        let m = password_reset("secret.person@example.com", "tok123", "http://x", 60);
        let shown = format!("{m:?}");
        assert!(!shown.contains("secret.person"));
        assert!(!shown.contains("tok123"));
    }
}
