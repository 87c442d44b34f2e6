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
        let arn = queue_arn(sdk, dlq_url).await;
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
    // moto's dump of its state races with concurrent writes (other tests' S3 and SQS calls) and may
    // answer an error page: read it again.
    let http = http_client();
    let mut data = Value::Null;
    for attempt in 1..=5 {
        let res = http
            .get(format!("{endpoint}/moto-api/data.json"))
            .send()
            .await
            .expect("moto data");
        match res.json::<Value>().await {
            Ok(value) => {
                data = value;
                break;
            }
            Err(e) if attempt < 5 => {
                tracing::warn!(error = %e, "moto's data.json unreadable; reading it again");
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
            Err(e) => panic!("moto json: {e}"),
        }
    }
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

/// A new S3 bucket on the moto server; with `notify_queue_url`, its object creations under `uploads/`
/// are notified to that SQS queue (as `template.yaml` configures the uploads bucket). Made through S3's
/// REST API directly: the functions speak SigV4 themselves and link no S3 SDK.
pub async fn moto_bucket(
    sdk: &aws_config::SdkConfig,
    prefix: &str,
    notify_queue_url: Option<&str>,
) -> String {
    let endpoint = std::env::var("AWS_ENDPOINT_URL").expect("AWS_ENDPOINT_URL (the moto server)");
    let endpoint = endpoint.trim_end_matches('/');
    let name = format!("{prefix}-{}", Uuid::new_v4().simple());
    let http = http_client();
    let created = http
        .put(format!("{endpoint}/{name}"))
        .send()
        .await
        .expect("create bucket");
    assert!(
        created.status().is_success(),
        "create bucket: {}",
        created.status()
    );
    if let Some(queue_url) = notify_queue_url {
        let arn = queue_arn(sdk, queue_url).await;
        let config = format!(
            "<NotificationConfiguration><QueueConfiguration><Id>extract</Id><Queue>{arn}</Queue>\
             <Event>s3:ObjectCreated:*</Event><Filter><S3Key><FilterRule><Name>prefix</Name>\
             <Value>uploads/</Value></FilterRule></S3Key></Filter></QueueConfiguration></NotificationConfiguration>"
        );
        let set = http
            .put(format!("{endpoint}/{name}?notification"))
            .body(config)
            .send()
            .await
            .expect("bucket notification");
        assert!(
            set.status().is_success(),
            "bucket notification: {}",
            set.status()
        );
    }
    name
}

/// An object of a moto bucket, or `None` when there is none (read as the workers read, signed: moto
/// refuses anonymous reads of a private object, as S3 does).
pub async fn moto_object(sdk: &aws_config::SdkConfig, bucket: &str, key: &str) -> Option<Vec<u8>> {
    let store = studio::storage::FileStore::S3(studio::storage::S3Files::with_sdk(
        bucket.to_owned(),
        sdk.clone(),
    ));
    match store.read(key, u64::MAX).await {
        Ok(bytes) => Some(bytes),
        Err(studio::storage::ReadError::Missing) => None,
        Err(e) => panic!("reading {key} from moto: {e}"),
    }
}

/// An HTTP client over the binaries' one TLS provider.
pub fn http_client() -> reqwest::Client {
    studio::tls::client_builder().build().expect("HTTP client")
}

/// A queue's ARN.
pub async fn queue_arn(sdk: &aws_config::SdkConfig, queue_url: &str) -> String {
    aws_sdk_sqs::Client::new(sdk)
        .get_queue_attributes()
        .queue_url(queue_url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .expect("queue arn")
        .attributes
        .and_then(|a| {
            a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn)
                .cloned()
        })
        .expect("queue arn")
}

/// The messages waiting in a queue (up to 10, waiting up to `wait_seconds` for the first), as the
/// Lambda event SQS would deliver them: bodies, receipt handles and receive counts.
pub async fn moto_receive(
    sdk: &aws_config::SdkConfig,
    queue_url: &str,
    wait_seconds: i32,
) -> aws_lambda_events::event::sqs::SqsEvent {
    let messages = aws_sdk_sqs::Client::new(sdk)
        .receive_message()
        .queue_url(queue_url)
        .max_number_of_messages(10)
        .wait_time_seconds(wait_seconds)
        .message_system_attribute_names(
            aws_sdk_sqs::types::MessageSystemAttributeName::ApproximateReceiveCount,
        )
        .send()
        .await
        .expect("receive")
        .messages
        .unwrap_or_default();
    sqs_event_of(&messages)
}

/// The Lambda event SQS would deliver for these messages.
pub fn sqs_event_of(
    messages: &[aws_sdk_sqs::types::Message],
) -> aws_lambda_events::event::sqs::SqsEvent {
    let mut event = aws_lambda_events::event::sqs::SqsEvent::default();
    for m in messages {
        let mut record = aws_lambda_events::event::sqs::SqsMessage::default();
        record.message_id = m.message_id.clone();
        record.receipt_handle = m.receipt_handle.clone();
        record.body = m.body.clone();
        for (k, v) in m.attributes.clone().unwrap_or_default() {
            record.attributes.insert(k.as_str().to_owned(), v);
        }
        event.records.push(record);
    }
    event
}
