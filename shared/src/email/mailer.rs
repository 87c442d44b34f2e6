//! Where messages are delivered: Amazon SES v2 in AWS, or files in a directory locally.

use super::message::EmailMessage;
use std::fmt;

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
