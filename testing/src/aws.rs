//! The moto server the test command starts: SQS queues, SES mail.

use serde_json::{Value, json};
use uuid::Uuid;

/// The AWS SDK configuration for the moto server the test command starts (`AWS_ENDPOINT_URL`).
pub async fn moto_sdk() -> aws_config::SdkConfig {
    assert!(
        std::env::var("AWS_ENDPOINT_URL").is_ok(),
        "AWS_ENDPOINT_URL is not set: run the suite with scripts/test.sh (it starts the moto server)"
    );
    studio::aws::load().await
}

/// A new SQS queue on the moto server; with `dead_letter`, a dead-letter queue after `max_receives`.
pub async fn moto_queue(
    sdk: &aws_config::SdkConfig,
    prefix: &str,
    dead_letter: Option<(&str, u32)>,
) -> String {
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let mut create = sqs
        .create_queue()
        .queue_name(format!("{prefix}-{}", Uuid::new_v4().simple()));
    if let Some((dlq_url, max)) = dead_letter {
        let arn = sqs
            .get_queue_attributes()
            .queue_url(dlq_url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
            .send()
            .await
            .expect("dlq arn")
            .attributes
            .and_then(|a| {
                a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn)
                    .cloned()
            })
            .expect("dlq arn");
        create = create.attributes(
            aws_sdk_sqs::types::QueueAttributeName::RedrivePolicy,
            json!({"deadLetterTargetArn": arn, "maxReceiveCount": max}).to_string(),
        );
    }
    create
        .send()
        .await
        .expect("create queue")
        .queue_url
        .expect("url")
}

/// The sender domain verified in the moto server's SES for tests.
pub const TEST_MAIL_DOMAIN: &str = "studio.test";

/// An SES mailer on the moto server, sending as `Studio <no-reply@studio.test>` (the domain verified).
pub async fn ses_mailer(sdk: &aws_config::SdkConfig) -> studio::email::Mailer {
    aws_sdk_sesv2::Client::new(sdk)
        .create_email_identity()
        .email_identity(TEST_MAIL_DOMAIN)
        .send()
        .await
        .map(drop)
        .or_else(|e| {
            // Verified by an earlier test already.
            let text = format!("{}", aws_sdk_sesv2::error::DisplayErrorContext(&e));
            if text.contains("AlreadyExists") {
                Ok(())
            } else {
                Err(text)
            }
        })
        .expect("verify the test domain in moto's SES");
    studio::email::Mailer::ses(sdk, format!("Studio <no-reply@{TEST_MAIL_DOMAIN}>"), None)
}

/// A message the moto server's SES accepted (moto keeps the HTML body when both are sent).
#[derive(Debug, Clone)]
pub struct SesMail {
    pub source: String,
    pub to: Vec<String>,
    pub subject: String,
    pub body: String,
}

/// Every message moto's SES accepted for `to`, read from its inspection endpoint.
pub async fn ses_sent_to(to: &str) -> Vec<SesMail> {
    let endpoint = std::env::var("AWS_ENDPOINT_URL").expect("AWS_ENDPOINT_URL");
    let data: Value = studio::tls::client_builder()
        .build()
        .expect("http client")
        .get(format!("{endpoint}/moto-api/data.json"))
        .send()
        .await
        .expect("moto data")
        .json()
        .await
        .expect("moto json");
    let messages = data["ses"]["Message"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    messages
        .iter()
        .filter_map(|m| {
            let to_list: Vec<String> = m["destinations"]["ToAddresses"]
                .as_array()?
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect();
            to_list
                .iter()
                .any(|t| t.eq_ignore_ascii_case(to))
                .then(|| SesMail {
                    source: m["source"].as_str().unwrap_or_default().to_owned(),
                    to: to_list,
                    subject: m["subject"].as_str().unwrap_or_default().to_owned(),
                    body: m["body"].as_str().unwrap_or_default().to_owned(),
                })
        })
        .collect()
}
