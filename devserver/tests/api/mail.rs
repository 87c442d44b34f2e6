//! Mail on the devserver, as a developer sees it: a flow's message goes through the in-process email
//! queue to the email worker's code and lands in the mail directory; a failing delivery is retried.

use crate::common::knowledge_for;

use http::StatusCode;
use serde_json::json;
use std::time::Duration;
use studio::email::{EmailMessage, Mailer};
use studio::queue::Queue;
use studio_testing::{TempDir, TestApp, TestDb, state};

#[tokio::test]
async fn when_someone_asks_for_a_reset_on_the_devserver_the_mail_lands_in_the_mail_directory() {
    let db = TestDb::new().await;
    let core = state(&db.url);
    let mail_dir = TempDir::new("studio-devmail");
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    devserver::spawn_local_mailer(
        email_worker::EmailState {
            db: core.db.clone(),
            mailer: Mailer::Files {
                dir: mail_dir.0.clone(),
            },
            queue: Queue::Local(tx.clone()),
        },
        rx,
    );
    let core = core.with_email_queue(Queue::Local(tx));
    let (k, dir) = knowledge_for(&core);
    let app = TestApp::with_state(devserver::routes(k).unwrap(), core, db.url).keeping(dir);

    let registered = app
        .post(
            "/api/v1/auth/register",
            None,
            json!({"email": "ada@example.com", "password": "correct horse battery", "name": "Ada"}),
        )
        .await;
    assert_eq!(registered.status, StatusCode::CREATED);
    let forgot = app
        .post(
            "/api/v1/auth/password/forgot",
            None,
            json!({"email": "ada@example.com"}),
        )
        .await;
    assert_eq!(forgot.status, StatusCode::ACCEPTED);

    // The worker runs on its own task: wait (briefly) for both files.
    let mut written: Vec<EmailMessage> = Vec::new();
    for _ in 0..100 {
        written = std::fs::read_dir(&mail_dir.0)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .map(|e| serde_json::from_slice(&std::fs::read(e.path()).unwrap()).unwrap())
                    .collect()
            })
            .unwrap_or_default();
        if written.len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut kinds: Vec<_> = written.iter().map(|m| m.kind.as_str()).collect();
    kinds.sort_unstable();
    assert_eq!(kinds, vec!["password_reset", "welcome"]);
    assert!(written.iter().all(|m| m.to == "ada@example.com"));
    // Sent at request time: nothing is left for the sweep.
    let unsent: i64 = app
        .sql()
        .await
        .query_one(
            "SELECT count(*) FROM outbox WHERE topic = 'email' AND sent_at IS NULL",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(unsent, 0);
}
