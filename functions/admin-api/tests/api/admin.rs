//! The admin API as operators see it: both `adminAuth` strategies and their refusals, platform admins,
//! suspension enforced on the workspace routes, the workspace directory, jobs on demand, the dead-letter
//! queues (moto SQS), and every action in the audit log.

use admin_api::AdminState;
use axum::Router;
use http::{Method, StatusCode};
use serde_json::{Value, json};
use studio::AppState;
use studio::knowledge::Embedder;
use studio::queue::Queue;
use studio_testing::{TestApp, TestDb, TestResponse, TestUser, assert_error, moto_queue, moto_sdk};

/// The key in the sample events (`events/admin-*.json`).
const KEY: &str = "dev-admin-key-change-me-0123456789";

/// `state` before `app`: fields drop in order, and the vector store must flush before `app` removes its directory.
struct Admin {
    state: AdminState,
    app: TestApp,
}

async fn admin_with(queues: bool) -> Admin {
    let db = TestDb::new().await;
    let core = studio_testing::state_with(&db.url, &[("ADMIN_API_KEY", KEY)]);
    let sdk = moto_sdk().await;
    let (ingest, ingest_dlq, email_dlq, extract, extract_dlq) = if queues {
        let dlq = moto_queue(&sdk, "ingest-dlq", None).await;
        let src = moto_queue(&sdk, "ingest", Some((&dlq, 3))).await;
        let email_dlq = moto_queue(&sdk, "email-dlq", None).await;
        let extract_dlq = moto_queue(&sdk, "extract-dlq", None).await;
        let extract = moto_queue(&sdk, "extract", Some((&extract_dlq, 3))).await;
        (
            Queue::sqs_with(&sdk, src, None),
            Some(Queue::sqs_with(&sdk, dlq, None)),
            Some(Queue::sqs_with(&sdk, email_dlq, None)),
            Some(Queue::sqs_with(&sdk, extract, None)),
            Some(Queue::sqs_with(&sdk, extract_dlq, None)),
        )
    } else {
        (studio_testing::local_queue().0, None, None, None, None)
    };
    let (knowledge, dir) = studio_testing::knowledge(&core, Embedder::offline(), ingest);
    let state = AdminState {
        knowledge,
        ingest_dlq,
        email_dlq,
        extract,
        extract_dlq,
        crawl_dlq: None,
    };
    let routes: Router<AppState> =
        workspaces_api::routes().merge(admin_api::routes().with_state(state.clone()));
    Admin {
        state,
        app: TestApp::with_state(routes, core, db.url).keeping(dir),
    }
}

/// `GET /api/v1/admin/stats` on `app` with `key` as the admin key.
async fn stats_with_key(app: &TestApp, key: &str) -> TestResponse {
    app.send_with(
        Method::GET,
        "/api/v1/admin/stats",
        None,
        None,
        &[("x-admin-key", key)],
    )
    .await
}

/// `user`'s own workspace, as they read it through the workspaces API.
async fn own_workspace(app: &TestApp, user: &TestUser) -> TestResponse {
    app.get(
        &format!("/api/v1/workspaces/{}", user.workspace_id),
        Some(&user.access_token),
    )
    .await
}

async fn admin() -> Admin {
    admin_with(false).await
}

impl Admin {
    async fn as_key(&self, method: Method, path: &str, body: Option<Value>) -> TestResponse {
        self.app
            .send_with(method, path, None, body, &[("x-admin-key", KEY)])
            .await
    }

    /// `GET path` with the admin key.
    async fn read(&self, path: &str) -> TestResponse {
        self.as_key(Method::GET, path, None).await
    }

    /// The newest audit entries.
    async fn audit(&self) -> Vec<Value> {
        let res = self.read("/api/v1/admin/audit-log?limit=100").await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.body);
        res.body["items"].as_array().unwrap().clone()
    }
}

#[tokio::test]
async fn when_the_admin_key_is_presented_stats_answer_and_the_audit_log_names_the_key() {
    let a = admin_with(true).await;
    a.app.user("Ada").await;
    a.app.user("Bob").await;
    let res = a.read("/api/v1/admin/stats").await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(res.body["users"], 2);
    assert_eq!(res.body["workspaces"], 2);
    assert_eq!(res.body["documents"], 0);
    let depth = |name: &str| {
        res.body["queues"]
            .as_array()
            .unwrap()
            .iter()
            .find(|q| q["name"] == name)
            .unwrap_or_else(|| panic!("{name} missing"))["depth"]
            .clone()
    };
    assert_eq!(depth("ingest")["visible"], 0);
    assert_eq!(depth("ingestDeadLetter")["visible"], 0);
    assert_eq!(depth("extract")["visible"], 0);
    assert_eq!(depth("extractDeadLetter")["visible"], 0);
    assert!(depth("email").is_null(), "no email queue here");

    let audit = a.audit().await;
    assert_eq!(audit[0]["action"], "stats.read");
    assert_eq!(audit[0]["actorKind"], "admin_key");
    assert!(audit[0]["actorUserId"].is_null());
    assert!(audit[0]["requestId"].as_str().is_some());
}

#[tokio::test]
async fn when_the_key_is_wrong_or_missing_or_the_user_is_no_platform_admin_it_is_refused() {
    let a = admin().await;
    let ada = a.app.user("Ada").await;
    let wrong = stats_with_key(&a.app, "dev-admin-key-change-me-012345678").await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    let empty = stats_with_key(&a.app, "").await;
    assert_eq!(empty.status, StatusCode::UNAUTHORIZED);
    let none = a.app.get("/api/v1/admin/stats", None).await;
    assert_eq!(none.status, StatusCode::UNAUTHORIZED);
    let member = a
        .app
        .get("/api/v1/admin/stats", Some(&ada.access_token))
        .await;
    assert_eq!(member.status, StatusCode::FORBIDDEN);
    let forged = a.app.get("/api/v1/admin/stats", Some("not.a.jwt")).await;
    assert_eq!(forged.status, StatusCode::UNAUTHORIZED);
    // A refused call leaves no audit entry; the audit read below is not itself recorded.
    assert!(a.audit().await.is_empty());

    // Without ADMIN_API_KEY configured, no key opens anything.
    let db = TestDb::new().await;
    let core = studio_testing::state(&db.url);
    let (k, _dir) =
        studio_testing::knowledge(&core, Embedder::offline(), studio_testing::local_queue().0);
    let keyless = TestApp::with_state(
        admin_api::routes().with_state(AdminState {
            knowledge: k,
            ingest_dlq: None,
            email_dlq: None,
            extract: None,
            extract_dlq: None,
            crawl_dlq: None,
        }),
        core,
        db.url,
    );
    let res = stats_with_key(&keyless, KEY).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    assert!(
        res.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("ADMIN_API_KEY")
    );
}

#[tokio::test]
async fn when_a_user_is_made_platform_admin_their_token_opens_the_admin_api_until_revoked() {
    let a = admin().await;
    let ada = a.app.user("Ada").await;
    let path = format!("/api/v1/admin/platform-admins/{}", ada.id);
    let granted = a.as_key(Method::PUT, &path, None).await;
    assert_eq!(granted.status, StatusCode::OK, "{}", granted.body);
    assert_eq!(granted.body["platformAdmin"], true);

    let stats = a
        .app
        .get("/api/v1/admin/stats", Some(&ada.access_token))
        .await;
    assert_eq!(stats.status, StatusCode::OK);
    let audit = a.audit().await;
    assert_eq!(audit[0]["action"], "stats.read");
    assert_eq!(audit[0]["actorKind"], "platform_admin");
    assert_eq!(audit[0]["actorUserId"], ada.id.to_string());
    assert_eq!(audit[0]["actorEmail"], ada.email.as_str());
    assert_eq!(audit[1]["action"], "platform_admin.grant");
    assert_eq!(audit[1]["targetType"], "user");
    assert_eq!(audit[1]["targetId"], ada.id.to_string());

    let revoked = a.as_key(Method::DELETE, &path, None).await;
    assert_eq!(revoked.body["platformAdmin"], false);
    let after = a
        .app
        .get("/api/v1/admin/stats", Some(&ada.access_token))
        .await;
    assert_eq!(
        after.status,
        StatusCode::FORBIDDEN,
        "at once, with the same token"
    );
    assert_eq!(a.audit().await[0]["action"], "platform_admin.revoke");

    let unknown = a
        .as_key(
            Method::PUT,
            &format!("/api/v1/admin/platform-admins/{}", uuid::Uuid::now_v7()),
            None,
        )
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    let not_an_id = a
        .as_key(Method::PUT, "/api/v1/admin/platform-admins/42", None)
        .await;
    assert_eq!(not_an_id.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn when_a_workspace_is_suspended_its_members_get_403_until_it_is_restored() {
    let a = admin().await;
    let ada = a.app.user("Ada").await;
    let eve = a.app.user("Eve").await;
    let ws = format!("/api/v1/workspaces/{}", ada.workspace_id);
    let suspend = format!("/api/v1/admin/workspaces/{}/suspend", ada.workspace_id);

    let no_reason = a.as_key(Method::POST, &suspend, Some(json!({}))).await;
    assert_eq!(no_reason.status, StatusCode::BAD_REQUEST);
    let res = a
        .as_key(
            Method::POST,
            &suspend,
            Some(json!({"reason": "chargeback"})),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(res.body["suspendedReason"], "chargeback");
    assert!(res.body["suspendedAt"].as_str().is_some());

    for (method, path) in [
        (Method::GET, ws.clone()),
        (Method::GET, format!("{ws}/members")),
        (Method::GET, format!("{ws}/agent-config")),
    ] {
        let res = a
            .app
            .send_with(method, &path, Some(&ada.access_token), None, &[])
            .await;
        assert_eq!(res.status, StatusCode::FORBIDDEN, "{path}");
        assert_eq!(res.code(), "workspace_suspended", "{path}");
    }
    // Not a member: still a 404 that confirms nothing.
    let outsider = a.app.get(&ws, Some(&eve.access_token)).await;
    assert_eq!(outsider.status, StatusCode::NOT_FOUND);
    // Eve's own workspace is untouched.
    let own = own_workspace(&a.app, &eve).await;
    assert_eq!(own.status, StatusCode::OK);

    let restored = a
        .as_key(
            Method::POST,
            &format!("/api/v1/admin/workspaces/{}/unsuspend", ada.workspace_id),
            None,
        )
        .await;
    assert_eq!(restored.status, StatusCode::OK);
    assert!(restored.body["suspendedAt"].is_null());
    assert_eq!(
        a.app.get(&ws, Some(&ada.access_token)).await.status,
        StatusCode::OK
    );

    let audit = a.audit().await;
    assert_eq!(audit[0]["action"], "workspace.unsuspend");
    assert_eq!(audit[1]["action"], "workspace.suspend");
    assert_eq!(audit[1]["targetType"], "workspace");
    assert_eq!(audit[1]["targetId"], ada.workspace_id.to_string());
    assert_eq!(audit[1]["details"]["reason"], "chargeback");

    let unknown = a
        .as_key(
            Method::POST,
            &format!("/api/v1/admin/workspaces/{}/suspend", uuid::Uuid::now_v7()),
            Some(json!({"reason": "x"})),
        )
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn when_workspaces_are_searched_they_are_filtered_and_paged() {
    let a = admin().await;
    let ada = a.app.user("Ada").await;
    a.app.user("Bob").await;
    a.app.user("Carol").await;
    let found = a.read("/api/v1/admin/workspaces?search=ADA").await;
    assert_eq!(found.status, StatusCode::OK, "{}", found.body);
    let items = found.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["id"], ada.workspace_id.to_string());
    assert_eq!(items[0]["members"], 1);
    assert_eq!(items[0]["plan"], "free");
    let literal = a.read("/api/v1/admin/workspaces?search=%25").await;
    assert!(
        literal.body["items"].as_array().unwrap().is_empty(),
        "% is literal"
    );

    let first = a.read("/api/v1/admin/workspaces?limit=2").await;
    assert_eq!(first.body["items"].as_array().unwrap().len(), 2);
    let cursor = first.str("/nextCursor");
    let second = a
        .read(&format!("/api/v1/admin/workspaces?limit=2&cursor={cursor}"))
        .await;
    assert_eq!(second.body["items"].as_array().unwrap().len(), 1);
    assert!(second.body["nextCursor"].is_null());

    a.as_key(
        Method::POST,
        &format!("/api/v1/admin/workspaces/{}/suspend", ada.workspace_id),
        Some(json!({"reason": "abuse"})),
    )
    .await;
    let suspended = a.read("/api/v1/admin/workspaces?suspended=true").await;
    assert_eq!(suspended.body["items"].as_array().unwrap().len(), 1);
    let bad = a.read("/api/v1/admin/workspaces?limit=0").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    let audit = a.audit().await;
    assert!(
        audit
            .iter()
            .any(|e| e["action"] == "workspaces.list" && e["details"]["search"] == "ADA")
    );
}

/// Ada's workspace, deleted by its owner through the workspaces API.
async fn deleted_workspace(a: &Admin) -> TestUser {
    let ada = a.app.user("Ada").await;
    let res = a
        .app
        .send(
            Method::DELETE,
            &format!("/api/v1/workspaces/{}", ada.workspace_id),
            Some(&ada.access_token),
            None,
        )
        .await;
    assert_eq!(res.status, StatusCode::ACCEPTED, "{}", res.body);
    ada
}

fn restore_path(ws: uuid::Uuid) -> String {
    format!("/api/v1/admin/workspaces/{ws}/restore")
}

#[tokio::test]
async fn when_a_workspace_is_deleted_it_is_listed_with_its_purge_date_and_restored_within_the_window()
 {
    let a = admin().await;
    let ada = deleted_workspace(&a).await;
    let bob = a.app.user("Bob").await;

    let live = a.read("/api/v1/admin/workspaces").await;
    let items = live.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{}", live.body);
    assert_eq!(items[0]["id"], bob.workspace_id.to_string());
    assert!(items[0]["deletedAt"].is_null());
    assert!(items[0]["purgeAfter"].is_null());

    let deleted = a.read("/api/v1/admin/workspaces?deleted=true").await;
    assert_eq!(deleted.status, StatusCode::OK, "{}", deleted.body);
    let items = deleted.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "only the deleted one");
    assert_eq!(items[0]["id"], ada.workspace_id.to_string());
    let at = |v: &Value| chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap()).unwrap();
    let deleted_at = at(&items[0]["deletedAt"]);
    assert!(
        (chrono::Utc::now() - deleted_at.to_utc())
            .num_seconds()
            .abs()
            < 60
    );
    // The window is the purge job's: SOFT_DELETE_RETENTION_DAYS, 30 days by default.
    assert_eq!(
        at(&items[0]["purgeAfter"]) - deleted_at,
        chrono::Duration::days(30)
    );

    let restored = a
        .as_key(Method::POST, &restore_path(ada.workspace_id), None)
        .await;
    assert_eq!(restored.status, StatusCode::OK, "{}", restored.body);
    assert_eq!(restored.body["id"], ada.workspace_id.to_string());
    assert!(restored.body["deletedAt"].is_null());
    assert!(restored.body["purgeAfter"].is_null());
    assert_eq!(restored.body["members"], 1);
    // Its members find it again, as it was.
    let own = own_workspace(&a.app, &ada).await;
    assert_eq!(own.status, StatusCode::OK, "{}", own.body);
    let audit = a.audit().await;
    assert_eq!(audit[0]["action"], "workspace.restore");
    assert_eq!(audit[0]["targetType"], "workspace");
    assert_eq!(audit[0]["targetId"], ada.workspace_id.to_string());
    assert_eq!(at(&audit[0]["details"]["deletedAt"]), deleted_at);
    assert_eq!(audit[1]["action"], "workspaces.list");
    assert_eq!(audit[1]["details"]["deleted"], true);

    let none_deleted = a.read("/api/v1/admin/workspaces?deleted=true").await;
    assert!(none_deleted.body["items"].as_array().unwrap().is_empty());

    // A live workspace has nothing to restore: 409, and nothing is recorded.
    let again = a
        .as_key(Method::POST, &restore_path(ada.workspace_id), None)
        .await;
    assert_error(&again, StatusCode::CONFLICT, "conflict");
    assert!(
        again.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not deleted")
    );
    let unknown = a
        .as_key(Method::POST, &restore_path(uuid::Uuid::now_v7()), None)
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    // Members of the workspace are not operators.
    let by_member = a
        .app
        .send(
            Method::POST,
            &restore_path(ada.workspace_id),
            Some(&ada.access_token),
            None,
        )
        .await;
    assert_eq!(by_member.status, StatusCode::FORBIDDEN);
    assert_eq!(
        a.audit().await[0]["action"],
        "workspaces.list",
        "refusals leave no entry"
    );
}

#[tokio::test]
async fn when_a_deleted_workspace_is_past_its_window_or_purged_restore_says_so_and_changes_nothing()
{
    let a = admin().await;
    let ada = deleted_workspace(&a).await;
    let db = a.app.sql().await;
    let set_deleted = |days: i32| {
        let db = &db;
        let ws = ada.workspace_id;
        async move {
            db.execute(
                "UPDATE workspaces SET deleted_at = now() - make_interval(days => $2) WHERE id = $1",
                &[&ws, &days],
            )
            .await
            .unwrap();
        }
    };
    // 29 days ago: still inside the 30-day window.
    set_deleted(29).await;
    let inside = a
        .as_key(Method::POST, &restore_path(ada.workspace_id), None)
        .await;
    assert_eq!(inside.status, StatusCode::OK, "{}", inside.body);

    // 31 days ago: past the window, waiting for the purge job.
    set_deleted(31).await;
    let listed = a.read("/api/v1/admin/workspaces?deleted=true").await;
    let purge_after = listed.body["items"][0]["purgeAfter"]
        .as_str()
        .unwrap()
        .to_owned();
    let late = a
        .as_key(Method::POST, &restore_path(ada.workspace_id), None)
        .await;
    assert_error(&late, StatusCode::CONFLICT, "conflict");
    let message = late.body["error"]["message"].as_str().unwrap();
    assert!(message.contains("30-day restore window"), "{message}");
    assert!(
        message.contains(&purge_after[..10]),
        "{message} names the date"
    );
    let still: bool = db
        .query_one(
            "SELECT deleted_at IS NOT NULL FROM workspaces WHERE id = $1",
            &[&ada.workspace_id],
        )
        .await
        .unwrap()
        .get(0);
    assert!(still, "nothing changed");
    assert_ne!(a.audit().await[0]["action"], "workspace.restore");

    // Once the purge job ran, the workspace is gone: 404, saying it may have been purged.
    let purge = a
        .as_key(Method::POST, "/api/v1/admin/jobs/purge-deleted/run", None)
        .await;
    assert_eq!(purge.body["counts"]["workspaces"], 1, "{}", purge.body);
    let gone = a
        .as_key(Method::POST, &restore_path(ada.workspace_id), None)
        .await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    assert!(
        gone.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("purged"),
        "{}",
        gone.body
    );
}

#[tokio::test]
async fn when_a_job_is_run_on_demand_it_reports_what_it_did_and_is_audited() {
    let a = admin().await;
    let listed = a.read("/api/v1/admin/jobs").await;
    assert_eq!(listed.body.as_array().unwrap().len(), 8);
    let res = a
        .as_key(Method::POST, "/api/v1/admin/jobs/rollover-usage/run", None)
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(res.body["job"], "rollover-usage");
    assert_eq!(res.body["counts"]["usagePeriods"], 0, "no workspaces yet");
    a.app.user("Ada").await;
    let res = a
        .as_key(Method::POST, "/api/v1/admin/jobs/rollover-usage/run", None)
        .await;
    assert_eq!(
        res.body["counts"]["usagePeriods"], 2,
        "this month and last month"
    );

    let unknown = a
        .as_key(Method::POST, "/api/v1/admin/jobs/drop-tables/run", None)
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert!(
        unknown.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("purge-deleted")
    );

    let audit = a.audit().await;
    assert_eq!(audit[0]["action"], "job.run");
    assert_eq!(audit[0]["targetId"], "rollover-usage");
    assert_eq!(audit[0]["details"]["counts"]["usagePeriods"], 2);
}

#[tokio::test]
async fn when_dead_letters_are_listed_and_redriven_they_go_back_to_their_queue() {
    let a = admin_with(true).await;
    let dlq = a.state.ingest_dlq.clone().unwrap();
    let body = json!({"ingestionId": uuid::Uuid::now_v7(), "workspaceId": uuid::Uuid::now_v7()});
    dlq.send(body.to_string()).await.unwrap();

    let listed = a.read("/api/v1/admin/dlq/ingest").await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    assert_eq!(listed.body[0]["body"], body);
    // Looking takes nothing away.
    let again = a.read("/api/v1/admin/dlq/ingest").await;
    assert_eq!(again.body.as_array().unwrap().len(), 1);

    let moved = a
        .as_key(
            Method::POST,
            "/api/v1/admin/dlq/ingest/redrive",
            Some(json!({})),
        )
        .await;
    assert_eq!(moved.status, StatusCode::OK, "{}", moved.body);
    assert_eq!(moved.body["moved"], 1);
    let back = a
        .state
        .knowledge
        .queue
        .receive(10, std::time::Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(back.len(), 1);
    assert_eq!(serde_json::from_str::<Value>(&back[0].body).unwrap(), body);
    let empty = a.read("/api/v1/admin/dlq/ingest").await;
    assert!(empty.body.as_array().unwrap().is_empty());

    // Email dead letters show which message, not its address or content.
    let mail = studio::email::templates::welcome("private@example.com", "Ada", "http://x");
    a.state
        .email_dlq
        .as_ref()
        .unwrap()
        .send(serde_json::to_string(&mail).unwrap())
        .await
        .unwrap();
    let emails = a.read("/api/v1/admin/dlq/email").await;
    assert_eq!(
        emails.body[0]["body"],
        json!({"id": mail.id, "kind": "welcome"})
    );
    assert!(!emails.body.to_string().contains("private@example.com"));
    // No email queue to send them back to here: a clear 503, and they stay.
    let no_source = a
        .as_key(
            Method::POST,
            "/api/v1/admin/dlq/email/redrive",
            Some(json!({})),
        )
        .await;
    assert_eq!(no_source.status, StatusCode::SERVICE_UNAVAILABLE);
    let unknown = a.read("/api/v1/admin/dlq/billing").await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);

    // An upload's notification that failed three times (storage down) goes back to the extract queue.
    let notification = json!({"Records": [{"eventName": "ObjectCreated:Put",
        "s3": {"object": {"key": format!("uploads/{}/{}", uuid::Uuid::now_v7(), uuid::Uuid::now_v7())}}}]});
    let extract_dlq = a.state.extract_dlq.clone().unwrap();
    extract_dlq.send(notification.to_string()).await.unwrap();
    let listed = a.read("/api/v1/admin/dlq/extract").await;
    assert_eq!(listed.body[0]["body"], notification, "{}", listed.body);
    let moved = a
        .as_key(
            Method::POST,
            "/api/v1/admin/dlq/extract/redrive",
            Some(json!({})),
        )
        .await;
    assert_eq!(moved.body["moved"], 1, "{}", moved.body);
    let back = a
        .state
        .extract
        .as_ref()
        .unwrap()
        .receive(10, std::time::Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(&back[0].body).unwrap(),
        notification
    );

    let actions: Vec<_> = a
        .audit()
        .await
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        actions,
        vec![
            "dlq.redrive",
            "dlq.list",
            "dlq.list",
            "dlq.list",
            "dlq.redrive",
            "dlq.list",
            "dlq.list"
        ],
        "newest first: every look and every redrive, the extract queue's included"
    );
}

#[tokio::test]
async fn when_the_admin_events_arrive_through_api_gateway_they_are_served() {
    let a = admin().await;
    a.app.user("Ada").await;
    let event = |name: &str| {
        let path = format!("{}/../../events/{name}", env!("CARGO_MANIFEST_DIR"));
        lambda_http::request::from_str(&std::fs::read_to_string(path).unwrap())
            .unwrap()
            .map(|b| axum::body::Body::from(b.to_vec()))
    };
    let stats = a.app.call(event("admin-stats.json")).await;
    assert_eq!(stats.status, StatusCode::OK, "{}", stats.body);
    assert_eq!(stats.body["users"], 1);
    let listed = a.app.call(event("admin-workspaces.json")).await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 1);
    let reindex = a.app.call(event("admin-reindex.json")).await;
    assert_eq!(reindex.status, StatusCode::ACCEPTED, "{}", reindex.body);
    assert!(reindex.body["workspaceId"].is_null(), "every workspace");
}

#[tokio::test]
async fn when_a_reindex_is_started_it_answers_202_with_the_job_once_and_its_progress_is_readable() {
    let a = admin().await;
    let ada = a.app.user("Ada").await;
    let ws = ada.workspace_id.to_string();
    // Not an admin: refused.
    let denied = a
        .app
        .post("/api/v1/admin/reindex", Some(&ada.access_token), json!({}))
        .await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN, "{}", denied.body);

    let started = a
        .as_key(
            Method::POST,
            "/api/v1/admin/reindex",
            Some(json!({"workspaceId": ws})),
        )
        .await;
    assert_eq!(started.status, StatusCode::ACCEPTED, "{}", started.body);
    assert_eq!(started.body["workspaceId"], ws.as_str());
    assert_eq!(started.body["status"], "queued");
    assert_eq!(started.body["reason"], "requested");
    assert_eq!(started.body["total"], 0, "no documents yet");
    assert_eq!(
        started.body["collection"],
        a.state.knowledge.vectors.collection(),
        "the collection it writes into"
    );
    let id = started.str("/id");
    // Asked again while it is open: the same job, 200, nothing new.
    let again = a
        .as_key(
            Method::POST,
            "/api/v1/admin/reindex",
            Some(json!({"workspaceId": ws})),
        )
        .await;
    assert_eq!(
        (again.status, again.str("/id")),
        (StatusCode::OK, id.clone())
    );
    // Every workspace is another scope: a job of its own.
    let all = a
        .as_key(Method::POST, "/api/v1/admin/reindex", Some(json!({})))
        .await;
    assert_eq!(all.status, StatusCode::ACCEPTED);
    assert!(all.body["workspaceId"].is_null());

    let one = a.read(&format!("/api/v1/admin/reindex/{id}")).await;
    assert_eq!((one.status, one.str("/id")), (StatusCode::OK, id.clone()));
    let listed = a.read("/api/v1/admin/reindex").await;
    assert_eq!(listed.body.as_array().unwrap().len(), 2);
    assert_eq!(a.audit().await[0]["action"], "reindex.start");

    // Bad input and unknown ids are named.
    let missing = a
        .as_key(
            Method::POST,
            "/api/v1/admin/reindex",
            Some(json!({"workspaceId": uuid::Uuid::now_v7()})),
        )
        .await;
    assert_error(&missing, StatusCode::NOT_FOUND, "not_found");
    let bad = a
        .as_key(
            Method::POST,
            "/api/v1/admin/reindex",
            Some(json!({"workspace": ws})),
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.body);
    let unknown = a
        .read(&format!("/api/v1/admin/reindex/{}", uuid::Uuid::now_v7()))
        .await;
    assert_error(&unknown, StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn when_workspaces_are_listed_by_cost_the_costliest_of_the_period_come_first_with_their_cost()
{
    let a = admin().await;
    let ada = a.app.user("Ada").await;
    let bob = a.app.user("Bob").await;
    let cy = a.app.user("Cy").await;
    let used = |ws: uuid::Uuid, day: &'static str, model: &'static str, tokens: (i64, i64)| {
        let app = &a.app;
        async move {
            app.execute(
                "INSERT INTO usage_daily (workspace_id, day, kind, model, calls, prompt_tokens, completion_tokens)
                 VALUES ($1, $2::text::date, 'chat', $3, 1, $4, $5)",
                &[&ws, &day, &model, &tokens.0, &tokens.1],
            )
            .await;
        }
    };
    // November: Bob's gpt-4o costs 2.50 + 1.00; Ada's gpt-4o-mini 0.15 (more tokens, less money).
    used(
        ada.workspace_id,
        "2026-11-10",
        "gpt-4o-mini",
        (1_000_000, 0),
    )
    .await;
    used(
        bob.workspace_id,
        "2026-11-11",
        "gpt-4o",
        (1_000_000, 100_000),
    )
    .await;
    // October: Cy's, outside the period.
    used(cy.workspace_id, "2026-10-31", "gpt-4o", (9_000_000, 0)).await;

    let ranked = a
        .read("/api/v1/admin/workspaces?sort=cost&from=2026-11-01&to=2026-11-30")
        .await;
    assert_eq!(ranked.status, StatusCode::OK, "{}", ranked.body);
    let items = ranked.body["items"].as_array().unwrap();
    let ids: Vec<&str> = items.iter().map(|i| i["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        [bob.workspace_id.to_string(), ada.workspace_id.to_string()],
        "by cost, not tokens; Cy had none in November"
    );
    assert!((items[0]["estimatedCost"]["amount"].as_f64().unwrap() - 3.5).abs() < 1e-9);
    assert_eq!(items[0]["estimatedCost"]["currency"], "USD");
    assert_eq!(items[1]["tokens"], 1_000_000);
    assert_eq!(ranked.body["nextCursor"], Value::Null);
    // The plain listing shows no cost.
    let plain = a.read("/api/v1/admin/workspaces").await;
    assert!(plain.body["items"][0].get("estimatedCost").is_none());

    for bad in [
        "?sort=cost&deleted=true",
        "?sort=cost&from=2026-12-01&to=2026-11-01",
        "?sort=price",
        "?sort=cost&cursor=abc",
    ] {
        let res = a.read(&format!("/api/v1/admin/workspaces{bad}")).await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{bad}: {}", res.body);
    }
}
