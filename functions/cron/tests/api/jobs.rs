//! Each scheduled job on seeded data, each run twice at once (the two runs together do the work once),
//! and the cron handler with the schedule's events from `events/`.

use http::StatusCode;
use serde_json::json;
use studio::knowledge::Embedder;
use studio::services::jobs::{self, Job, JobReport};
use studio::state::KnowledgeState;
use studio_testing::{TestApp, ingest_indexed, knowledge_app, local_queue};
use tokio::sync::mpsc::UnboundedReceiver;
use uuid::Uuid;

struct Fixture {
    k: KnowledgeState,
    app: TestApp,
    ingest_rx: UnboundedReceiver<String>,
}

async fn fixture() -> Fixture {
    let (queue, ingest_rx) = local_queue();
    let (app, k) = knowledge_app(Embedder::offline(), queue, agents_api::routes()).await;
    Fixture { k, app, ingest_rx }
}

/// Runs the job twice at once; returns the counts of both runs added up.
async fn twice_at_once(
    k: &KnowledgeState,
    job: Job,
) -> std::collections::BTreeMap<&'static str, u64> {
    let (a, b) = tokio::join!(jobs::run(k, job), jobs::run(k, job));
    let (a, b): (JobReport, JobReport) = (a.unwrap(), b.unwrap());
    let mut sum = a.counts.clone();
    for (key, n) in b.counts {
        *sum.entry(key).or_default() += n;
    }
    sum
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    app.sql().await.query_one(sql, &[]).await.unwrap().get(0)
}

/// Ingests one document through the API and the worker; returns its id.
async fn ingest(f: &mut Fixture, token: &str, title: &str) -> Uuid {
    let res = ingest_indexed(
        &f.app,
        &f.k,
        &mut f.ingest_rx,
        token,
        json!([{"title": title, "content": format!("{title}: refunds take five days.")}]),
    )
    .await;
    res.str("/documentIds/0").parse().unwrap()
}

#[tokio::test]
async fn when_tokens_expire_the_purge_removes_ended_families_and_keeps_what_replay_detection_needs()
{
    let f = fixture().await;
    let ada = f.app.user("Ada").await;
    // A rotation leaves a spent token in a live family: it must stay (presenting it again revokes the family).
    let rotated = studio::services::auth::refresh(&f.app.state, &ada.refresh_token, None)
        .await
        .unwrap();
    // A second login whose family has expired, and a third that was logged out two days ago.
    let expired = f.app.user("Bob").await;
    let logged_out = f.app.user("Carol").await;
    let sql = f.app.sql().await;
    sql.execute(
        "UPDATE refresh_tokens SET expires_at = now() - interval '1 minute' WHERE user_id = $1",
        &[&expired.id],
    )
    .await
    .unwrap();
    sql.execute(
        "UPDATE refresh_tokens SET revoked_at = now() - interval '2 days' WHERE user_id = $1",
        &[&logged_out.id],
    )
    .await
    .unwrap();
    // Reset tokens: one used two days ago (goes), one live (stays).
    for (used, expires) in [
        ("now() - interval '2 days'", "now() - interval '2 days'"),
        ("NULL", "now() + interval '1 hour'"),
    ] {
        sql.execute(
            &format!(
                "INSERT INTO password_reset_tokens (id, user_id, token_hash, expires_at, used_at)
                 VALUES ($1, $2, $3, {expires}, {used})"
            ),
            &[
                &Uuid::now_v7(),
                &ada.id,
                &Uuid::now_v7().as_bytes().to_vec(),
            ],
        )
        .await
        .unwrap();
    }
    // Idempotency keys: two days old (goes) and fresh (stays).
    for age in ["2 days", "1 minute"] {
        sql.execute(
            &format!(
                "INSERT INTO idempotency_keys (workspace_id, scope, key, request_hash, status_code, response, created_at)
                 VALUES ($1, 'test', $2, '\\x00', 200, '{{}}', now() - interval '{age}')"
            ),
            &[&ada.workspace_id, &Uuid::now_v7().to_string()],
        )
        .await
        .unwrap();
    }

    let counts = twice_at_once(&f.k, Job::PurgeExpiredTokens).await;
    assert_eq!(
        counts["refreshTokens"], 2,
        "Bob's expired and Carol's logged-out family"
    );
    assert_eq!(counts["passwordResetTokens"], 1);
    assert_eq!(counts["idempotencyKeys"], 1);
    assert_eq!(
        count(&f.app, "SELECT count(*) FROM refresh_tokens").await,
        2,
        "Ada's spent and live tokens"
    );
    assert_eq!(
        count(&f.app, "SELECT count(*) FROM password_reset_tokens").await,
        1
    );
    assert_eq!(
        count(&f.app, "SELECT count(*) FROM idempotency_keys").await,
        1
    );

    // Replay detection still works after the purge: the spent token revokes Ada's family.
    let replay = studio::services::auth::refresh(&f.app.state, &ada.refresh_token, None).await;
    assert!(replay.is_err());
    let after = studio::services::auth::refresh(&f.app.state, &rotated.refresh_token, None).await;
    assert!(after.is_err(), "the family was revoked by the replay");
    // A second run finds nothing more.
    let again = jobs::run(&f.k, Job::PurgeExpiredTokens).await.unwrap();
    assert_eq!(again.counts["passwordResetTokens"], 0);
}

#[tokio::test]
async fn when_soft_deleted_rows_pass_retention_they_and_their_vectors_are_hard_deleted() {
    let mut f = fixture().await;
    let ada = f.app.user("Ada").await;
    let old_doc = ingest(&mut f, &ada.access_token, "Old policy").await;
    let recent_doc = ingest(&mut f, &ada.access_token, "Recent policy").await;
    let kept_doc = ingest(&mut f, &ada.access_token, "Live policy").await;
    let bob = f.app.user("Bob").await;
    let bob_doc = ingest(&mut f, &bob.access_token, "Bob's policy").await;
    let ws = |id| studio::WorkspaceId::from_trusted_source(id);
    assert!(f.k.vectors.count(ws(ada.workspace_id), None).await.unwrap() >= 3);
    let sql = f.app.sql().await;
    for (doc, age) in [(old_doc, "31 days"), (recent_doc, "5 days")] {
        sql.execute(
            &format!("UPDATE kb_documents SET deleted_at = now() - interval '{age}' WHERE id = $1"),
            &[&doc],
        )
        .await
        .unwrap();
    }
    // Bob's whole workspace was deleted 40 days ago.
    sql.execute(
        "UPDATE workspaces SET deleted_at = now() - interval '40 days' WHERE id = $1",
        &[&bob.workspace_id],
    )
    .await
    .unwrap();
    // A conversation deleted 31 days ago, with a message.
    let conversation = Uuid::now_v7();
    sql.execute(
        "INSERT INTO conversations (id, workspace_id, user_id, title, deleted_at) VALUES ($1, $2, $3, 'old', now() - interval '31 days')",
        &[&conversation, &ada.workspace_id, &ada.id],
    )
    .await
    .unwrap();
    sql.execute(
        "INSERT INTO messages (id, workspace_id, conversation_id, role, content) VALUES ($1, $2, $3, 'user', 'hi')",
        &[&Uuid::now_v7(), &ada.workspace_id, &conversation],
    )
    .await
    .unwrap();

    let counts = twice_at_once(&f.k, Job::PurgeDeleted).await;
    assert_eq!(counts["documents"], 1);
    assert_eq!(counts["workspaces"], 1);
    assert_eq!(counts["conversations"], 1);

    let remaining: Vec<Uuid> = sql
        .query("SELECT id FROM kb_documents ORDER BY id", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(!remaining.contains(&old_doc) && !remaining.contains(&bob_doc));
    assert!(remaining.contains(&recent_doc) && remaining.contains(&kept_doc));
    assert_eq!(
        f.k.vectors
            .count(ws(ada.workspace_id), Some(old_doc))
            .await
            .unwrap(),
        0
    );
    assert!(
        f.k.vectors
            .count(ws(ada.workspace_id), Some(kept_doc))
            .await
            .unwrap()
            > 0
    );
    assert_eq!(
        f.k.vectors.count(ws(bob.workspace_id), None).await.unwrap(),
        0
    );
    assert_eq!(count(&f.app, "SELECT count(*) FROM messages").await, 0);
    assert_eq!(count(&f.app, "SELECT count(*) FROM workspaces").await, 1);
}

#[tokio::test]
async fn when_outbox_rows_were_not_sent_the_resend_sends_each_once() {
    let mut f = fixture().await;
    let ada = f.app.user("Ada").await;
    // The ingest message of an ingestion whose queue send "failed": unsent, two minutes old.
    let res = f
        .app
        .post(
            "/api/v1/agents/ingest",
            Some(&ada.access_token),
            json!({"documents": [{"title": "T", "content": "c"}]}),
        )
        .await;
    assert_eq!(res.status, StatusCode::ACCEPTED);
    let _sent_at_request = f.ingest_rx.try_recv().unwrap();
    let sql = f.app.sql().await;
    sql.execute(
        "UPDATE outbox SET sent_at = NULL, created_at = now() - interval '2 minutes'",
        &[],
    )
    .await
    .unwrap();
    // The welcome mail waits too (no email queue was configured when Ada registered); give the job one.
    let (email_queue, mut email_rx) = local_queue();
    let k = KnowledgeState {
        app: f.k.app.clone().with_email_queue(email_queue),
        ..f.k.clone()
    };
    let counts = twice_at_once(&k, Job::ResendOutbox).await;
    assert_eq!(counts["sent"], 2);
    assert_eq!(counts["failed"], 0);
    let ingest: serde_json::Value = serde_json::from_str(&f.ingest_rx.try_recv().unwrap()).unwrap();
    assert_eq!(ingest["ingestionId"], res.str("/ingestionId").as_str());
    assert!(f.ingest_rx.try_recv().is_err(), "sent once");
    let mail: studio::email::EmailMessage =
        serde_json::from_str(&email_rx.try_recv().unwrap()).unwrap();
    assert_eq!(mail.to, ada.email);
    assert!(email_rx.try_recv().is_err(), "sent once");
    assert_eq!(
        count(&f.app, "SELECT count(*) FROM outbox WHERE sent_at IS NULL").await,
        0
    );
}

#[tokio::test]
async fn when_an_ingestion_is_stuck_past_the_deadline_its_documents_fail_with_a_reason() {
    let mut f = fixture().await;
    let ada = f.app.user("Ada").await;
    let stuck = f
        .app
        .post(
            "/api/v1/agents/ingest",
            Some(&ada.access_token),
            json!({"documents": [{"title": "Stuck", "content": "c"}]}),
        )
        .await;
    let _ = f.ingest_rx.try_recv();
    let fresh = f
        .app
        .post(
            "/api/v1/agents/ingest",
            Some(&ada.access_token),
            // Other content: an identical document would be skipped as a duplicate of the stuck one.
            json!({"documents": [{"title": "Fresh", "content": "d"}]}),
        )
        .await;
    let sql = f.app.sql().await;
    sql.execute(
        "UPDATE kb_documents SET status = 'processing', updated_at = now() - interval '2 hours' WHERE title = 'Stuck'",
        &[],
    )
    .await
    .unwrap();

    let counts = twice_at_once(&f.k, Job::FailStuckIngestions).await;
    assert_eq!(counts["documentsFailed"], 1);
    let progress = f
        .app
        .get(
            &format!("/api/v1/agents/ingest/{}", stuck.str("/ingestionId")),
            Some(&ada.access_token),
        )
        .await;
    assert_eq!(progress.body["status"], "failed");
    assert!(
        progress.body["documents"][0]["error"]
            .as_str()
            .unwrap()
            .contains("did not finish within 60 minutes")
    );
    let untouched = f
        .app
        .get(
            &format!("/api/v1/agents/ingest/{}", fresh.str("/ingestionId")),
            Some(&ada.access_token),
        )
        .await;
    assert_eq!(untouched.body["status"], "pending");
}

#[tokio::test]
async fn when_usage_rolls_over_each_month_is_recorded_and_a_closed_month_stays_as_it_was() {
    let f = fixture().await;
    let ada = f.app.user("Ada").await;
    let sql = f.app.sql().await;
    let conversation = Uuid::now_v7();
    sql.execute(
        "INSERT INTO conversations (id, workspace_id, user_id, title) VALUES ($1, $2, $3, 't')",
        &[&conversation, &ada.workspace_id, &ada.id],
    )
    .await
    .unwrap();
    let add = |when: &'static str, tokens: i32| {
        let sql = &sql;
        async move {
            sql.execute(
                &format!(
                    "INSERT INTO messages (id, workspace_id, conversation_id, role, content, prompt_tokens, completion_tokens, created_at)
                     VALUES ($1, $2, $3, 'assistant', 'a', $4, 0, {when})"
                ),
                &[&Uuid::now_v7(), &ada.workspace_id, &conversation, &tokens],
            )
            .await
            .unwrap();
        }
    };
    add("date_trunc('month', now()) - interval '3 days'", 100).await;
    add("now()", 7).await;
    add("now()", 8).await;

    twice_at_once(&f.k, Job::RolloverUsage).await;
    let periods = |sql: &'static str| {
        let app = &f.app;
        async move {
            app.sql()
                .await
                .query(sql, &[])
                .await
                .unwrap()
                .iter()
                .map(|r| (r.get::<_, i64>(0), r.get::<_, i64>(1), r.get::<_, bool>(2)))
                .collect::<Vec<_>>()
        }
    };
    const Q: &str = "SELECT chat_turns, llm_tokens, closed FROM usage_periods ORDER BY month";
    assert_eq!(periods(Q).await, vec![(1, 100, true), (2, 15, false)]);

    // A late row in the closed month changes nothing; the running month follows.
    add("date_trunc('month', now()) - interval '2 days'", 50).await;
    add("now()", 5).await;
    jobs::run(&f.k, Job::RolloverUsage).await.unwrap();
    assert_eq!(periods(Q).await, vec![(1, 100, true), (3, 20, false)]);
}

#[tokio::test]
async fn when_the_schedules_events_arrive_the_cron_runs_their_job_and_refuses_unknown_ones() {
    let f = fixture().await;
    for name in ["cron-purge-expired-tokens.json", "cron-resend-outbox.json"] {
        let path = format!("{}/../../events/{name}", env!("CARGO_MANIFEST_DIR"));
        let event: cron::CronEvent =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let report = cron::handle(&f.k, event.clone()).await.unwrap();
        assert_eq!(report.job.name(), event.job);
    }
    let err = cron::handle(
        &f.k,
        cron::CronEvent {
            job: "vacuum-everything".into(),
        },
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("fail-stuck-ingestions"), "{err}");
    assert!(serde_json::from_str::<cron::CronEvent>(r#"{"job":"x","extra":1}"#).is_err());
}

#[tokio::test]
async fn when_anonymous_visitors_are_gone_past_their_workspaces_retention_the_purge_erases_them() {
    let f = fixture().await;
    let ada = f.app.user("Ada").await;
    let bob = f.app.user("Bob").await;
    let sql = f.app.sql().await;
    // Bob's workspace keeps anonymous visitors 7 days; Ada's the default 90.
    sql.execute(
        "INSERT INTO widget_settings (workspace_id, settings) VALUES ($1, $2)",
        &[&bob.workspace_id, &json!({"requireIdentity": false, "autoEscalateWithoutContext": false, "humanWaitMinutes": 10, "anonymousRetentionDays": 7})],
    )
    .await
    .unwrap();
    let visitor = |ws: Uuid, days: i32, anonymous: bool| {
        let sql = &sql;
        async move {
            let id = Uuid::now_v7();
            let (hash, sub): (Option<Vec<u8>>, Option<String>) = if anonymous {
                (Some(id.as_bytes().to_vec()), None)
            } else {
                (None, Some(format!("user-{id}")))
            };
            sql.execute(
                "INSERT INTO visitors (id, workspace_id, token_hash, external_id, last_seen_at)
                 VALUES ($1, $2, $3, $4, now() - make_interval(days => $5))",
                &[&id, &ws, &hash, &sub, &days],
            )
            .await
            .unwrap();
            let conv = Uuid::now_v7();
            sql.execute(
                "INSERT INTO conversations (id, workspace_id, visitor_id, title) VALUES ($1, $2, $3, 'hi')",
                &[&conv, &ws, &id],
            )
            .await
            .unwrap();
            id
        }
    };
    let ada_old = visitor(ada.workspace_id, 100, true).await;
    let ada_recent = visitor(ada.workspace_id, 10, true).await;
    let ada_signed = visitor(ada.workspace_id, 400, false).await;
    let bob_recent = visitor(bob.workspace_id, 10, true).await;
    let bob_new = visitor(bob.workspace_id, 2, true).await;

    let counts = twice_at_once(&f.k, Job::PurgeDeleted).await;
    assert_eq!(counts["anonymousVisitors"], 2);
    let left: Vec<Uuid> = sql
        .query("SELECT id FROM visitors ORDER BY id", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(left, [ada_recent, ada_signed, bob_new]);
    assert!(!left.contains(&ada_old) && !left.contains(&bob_recent));
    assert_eq!(
        count(
            &f.app,
            "SELECT count(*) FROM conversations WHERE visitor_id IS NOT NULL"
        )
        .await,
        3,
        "their conversations went with them"
    );
}

#[tokio::test]
async fn when_a_workspace_keeps_conversations_for_some_days_the_purge_deletes_older_ones_only_there()
 {
    let f = fixture().await;
    let ada = f.app.user("Ada").await;
    let bob = f.app.user("Bob").await;
    let sql = f.app.sql().await;
    // Ada's workspace keeps conversations 30 days; Bob's keeps them (no setting).
    sql.execute(
        "UPDATE workspaces SET conversation_retention_days = 30 WHERE id = $1",
        &[&ada.workspace_id],
    )
    .await
    .unwrap();
    let conversation = |ws: Uuid, days: i32| {
        let sql = &sql;
        async move {
            let id = Uuid::now_v7();
            sql.execute(
                "INSERT INTO conversations (id, workspace_id, title, updated_at)
                 VALUES ($1, $2, 'hi', now() - make_interval(days => $3))",
                &[&id, &ws, &days],
            )
            .await
            .unwrap();
            sql.execute(
                "INSERT INTO messages (id, workspace_id, conversation_id, role, content)
                 VALUES ($1, $2, $3, 'user', 'hello')",
                &[&Uuid::now_v7(), &ws, &id],
            )
            .await
            .unwrap();
            id
        }
    };
    let ada_old = conversation(ada.workspace_id, 31).await;
    let ada_recent = conversation(ada.workspace_id, 29).await;
    let bob_old = conversation(bob.workspace_id, 400).await;

    let counts = twice_at_once(&f.k, Job::PurgeDeleted).await;
    assert_eq!(counts["conversationsPastRetention"], 1, "{counts:?}");
    let left: Vec<Uuid> = sql
        .query("SELECT id FROM conversations ORDER BY id", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(left, [ada_recent, bob_old]);
    assert!(!left.contains(&ada_old));
    assert_eq!(
        count(&f.app, "SELECT count(*) FROM messages").await,
        2,
        "the deleted conversation's messages went with it"
    );
}
