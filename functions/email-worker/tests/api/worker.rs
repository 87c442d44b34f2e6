//! The email worker against the moto server's SES and SQS: each message's recipient and content, at most
//! one delivery per message id, partial batch failures, a refusing or unreachable SES, and the whole path
//! from the outbox through the queue to SES.

use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use email_worker::{Delivery, EmailState, handle, process_body};
use studio::email::{EmailMessage, Mailer, templates};
use studio::outbox::{Queues, sweep};
use studio::queue::Queue;
use studio_testing::{TestDb, moto_queue, moto_sdk, ses_mailer, ses_sent_to};
use uuid::Uuid;

fn address(name: &str) -> String {
    format!("{name}-{}@customer.test", Uuid::new_v4().simple())
}

async fn worker(db: &TestDb, mailer: Mailer) -> EmailState {
    let sdk = moto_sdk().await;
    let url = moto_queue(&sdk, "email", None).await;
    EmailState {
        db: studio_testing::state(&db.url).db,
        mailer,
        queue: Queue::sqs_with(&sdk, url, None),
    }
}

fn record(id: &str, body: &str) -> SqsMessage {
    let mut m = SqsMessage::default();
    m.message_id = Some(id.to_owned());
    m.body = Some(body.to_owned());
    m.attributes
        .insert("ApproximateReceiveCount".into(), "1".into());
    m
}

#[tokio::test]
async fn when_a_message_is_delivered_ses_gets_its_recipient_and_content_once() {
    let db = TestDb::new().await;
    let sdk = moto_sdk().await;
    let state = worker(&db, ses_mailer(&sdk).await).await;
    let to = address("ada");
    let message = templates::welcome(&to, "Ada <b>Lovelace</b>", "https://app.example.com");
    let body = serde_json::to_string(&message).unwrap();

    assert_eq!(process_body(&state, &body).await.unwrap(), Delivery::Sent);
    // SQS delivers at least once: the same message again is not sent again.
    assert_eq!(
        process_body(&state, &body).await.unwrap(),
        Delivery::AlreadySent
    );

    let sent = ses_sent_to(&to).await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].subject, "Welcome to Soft Systems Studio");
    assert_eq!(sent[0].to, vec![to.clone()]);
    assert!(sent[0].source.contains("no-reply@studio.test"));
    assert!(
        sent[0].body.contains("Ada &lt;b&gt;Lovelace&lt;/b&gt;"),
        "{}",
        sent[0].body
    );
    assert!(sent[0].body.contains("https://app.example.com/"));
    let row = db
        .client()
        .await
        .query_one(
            "SELECT kind, provider_message_id FROM email_deliveries WHERE id = $1",
            &[&message.id],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "welcome");
    assert!(
        row.get::<_, Option<String>>(1).is_some(),
        "SES' message id kept"
    );
}

#[tokio::test]
async fn when_ses_refuses_or_is_unreachable_nothing_is_recorded_and_the_retry_sends() {
    let db = TestDb::new().await;
    let sdk = moto_sdk().await;
    let to = address("grace");
    let message = templates::password_reset(&to, "tok", "https://app.example.com", 60);
    let body = serde_json::to_string(&message).unwrap();

    // A sender SES has not verified: refused.
    let unverified = Mailer::ses(&sdk, "no-reply@unverified.test".into(), None);
    let err = process_body(&worker(&db, unverified).await, &body)
        .await
        .unwrap_err();
    assert!(format!("{err:#}").contains("SES refused"), "{err:#}");
    // SES unreachable.
    let unreachable = Mailer::ses_with(
        &sdk,
        "no-reply@studio.test".into(),
        None,
        Some("http://127.0.0.1:9"),
    );
    assert!(
        process_body(&worker(&db, unreachable).await, &body)
            .await
            .is_err()
    );
    let recorded: i64 = db
        .client()
        .await
        .query_one("SELECT count(*) FROM email_deliveries", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(recorded, 0, "a failed send leaves no delivery record");
    assert!(ses_sent_to(&to).await.is_empty());

    // The retry, with SES working again, sends it.
    let state = worker(&db, ses_mailer(&sdk).await).await;
    assert_eq!(process_body(&state, &body).await.unwrap(), Delivery::Sent);
    assert_eq!(ses_sent_to(&to).await.len(), 1);
}

#[tokio::test]
async fn when_a_batch_holds_a_broken_message_only_it_is_reported_for_retry() {
    let db = TestDb::new().await;
    let sdk = moto_sdk().await;
    let state = worker(&db, ses_mailer(&sdk).await).await;
    let to = address("linus");
    let good = serde_json::to_string(&templates::welcome(&to, "Linus", "http://x")).unwrap();
    let mut unsafe_message = templates::welcome(&address("eve"), "Eve", "http://x");
    unsafe_message.to = "eve@customer.test\r\nBcc: everyone@customer.test".into();
    let header_injection = serde_json::to_string(&unsafe_message).unwrap();
    let mut event = SqsEvent::default();
    event.records = vec![
        record("good", &good),
        record("not-json", "{\"id\": 1"),
        record(
            "unknown-field",
            r#"{"id":"0190a1b2-0000-7000-8000-0000000000e1","kind":"welcome","to":"a@b.c","subject":"s","text":"t","html":"h","cc":"x@y.z"}"#,
        ),
        record("injection", &header_injection),
    ];
    let response = handle(&state, event).await;
    let mut failed: Vec<_> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    failed.sort_unstable();
    assert_eq!(failed, vec!["injection", "not-json", "unknown-field"]);
    assert_eq!(ses_sent_to(&to).await.len(), 1);
}

#[tokio::test]
async fn when_mail_waits_in_the_outbox_the_sweep_queues_it_and_the_worker_delivers_it() {
    let db = TestDb::new().await;
    let sdk = moto_sdk().await;
    let state = worker(&db, ses_mailer(&sdk).await).await;
    let to = address("margaret");
    let message = templates::invitation(
        &to,
        "Ada",
        "Acme",
        "member",
        "tok123",
        "https://app.example.com",
        7,
    );
    let client = db.client().await;
    let outbox_id = studio::email::queue(&client, None, &message)
        .await
        .unwrap()
        .outbox_id();

    let report = sweep(
        &state.db,
        Queues {
            ingest: None,
            email: Some(&state.queue),
            crawl: None,
        },
        0.0,
    )
    .await
    .unwrap();
    assert_eq!(report.sent, 1);
    // Once sent, the outbox keeps only the message's id and kind, not its link.
    let payload: serde_json::Value = client
        .query_one("SELECT payload FROM outbox WHERE id = $1", &[&outbox_id])
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        payload,
        serde_json::json!({"id": message.id, "kind": "invitation"})
    );

    let received = state
        .queue
        .receive(10, std::time::Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(received.len(), 1);
    let queued: EmailMessage = serde_json::from_str(&received[0].body).unwrap();
    assert_eq!(queued, message);
    let mut event = SqsEvent::default();
    let mut r = record(&received[0].message_id, &received[0].body);
    r.receipt_handle = Some(received[0].receipt_handle.clone());
    event.records = vec![r];
    assert!(handle(&state, event).await.batch_item_failures.is_empty());
    let sent = ses_sent_to(&to).await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].subject, "Ada invited you to Acme");
    assert!(
        sent[0]
            .body
            .contains("https://app.example.com/invitations/tok123")
    );
}

#[tokio::test]
async fn when_the_sample_sqs_event_arrives_the_welcome_mail_is_sent() {
    let db = TestDb::new().await;
    let sdk = moto_sdk().await;
    let state = worker(&db, ses_mailer(&sdk).await).await;
    let path = format!("{}/../../events/sqs-email.json", env!("CARGO_MANIFEST_DIR"));
    let event: SqsEvent = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let to: EmailMessage = serde_json::from_str(event.records[0].body.as_deref().unwrap()).unwrap();
    let before = ses_sent_to(&to.to).await.len();
    assert!(handle(&state, event).await.batch_item_failures.is_empty());
    let sent = ses_sent_to(&to.to).await;
    assert_eq!(sent.len(), before + 1);
    assert_eq!(sent.last().unwrap().subject, to.subject);
}

#[tokio::test]
async fn when_no_sender_is_configured_locally_mail_is_written_to_the_mail_directory() {
    let db = TestDb::new().await;
    let dir = studio_testing::TempDir::new("studio-mail");
    let state = worker(&db, Mailer::Files { dir: dir.0.clone() }).await;
    let message = templates::password_reset("ada@customer.test", "tok", "http://x", 60);
    process_body(&state, &serde_json::to_string(&message).unwrap())
        .await
        .unwrap();
    let file = dir.0.join(format!("{}-password_reset.json", message.id));
    let written: EmailMessage =
        serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
    assert_eq!(written, message);
    assert!(written.text.contains("http://x/reset-password?token=tok"));
}
