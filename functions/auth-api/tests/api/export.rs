//! `/api/v1/auth/me/export`: a person's data, asked for, built by the `build-exports` job into a real
//! S3 bucket (the moto server), downloaded through the presigned link, expired.

use http::{Method, StatusCode};
use serde_json::{Value, json};
use studio::services::exports;
use studio_testing::{
    TEST_PASSWORD, TestApp, TestDb, assert_error, http_client, moto_bucket, moto_object, moto_sdk,
    state_with,
};
use uuid::Uuid;

const EXPORT: &str = "/api/v1/auth/me/export";

async fn app_with_bucket(bucket: &str) -> TestApp {
    let db = TestDb::new().await;
    let state = state_with(&db.url, &[("UPLOADS_BUCKET", bucket)]);
    TestApp::with_state(auth_api::routes(), state, db.url)
}

async fn conversation(app: &TestApp, workspace: Uuid, user: Uuid, text: &str) {
    let id = Uuid::now_v7();
    app.execute(
        "INSERT INTO conversations (id, workspace_id, user_id, title) VALUES ($1, $2, $3, 'A question')",
        &[&id, &workspace, &user],
    )
    .await;
    app.execute(
        "INSERT INTO messages (id, workspace_id, conversation_id, role, content) VALUES ($1, $2, $3, 'user', $4)",
        &[&Uuid::now_v7(), &workspace, &id, &text],
    )
    .await;
}

async fn download(url: &str) -> Value {
    let res = http_client().get(url).send().await.expect("download");
    assert_eq!(res.status(), 200, "{url}");
    serde_json::from_slice(&res.bytes().await.expect("body")).expect("the export is JSON")
}

fn near(v: &Value, expected: chrono::DateTime<chrono::Utc>) -> bool {
    let at = chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap_or_default())
        .unwrap_or_else(|e| panic!("{v} is not a time: {e}"));
    (at.to_utc() - expected).num_seconds().abs() < 60
}

#[tokio::test]
async fn when_a_member_asks_for_their_data_it_is_built_downloaded_and_holds_theirs_only() {
    let sdk = moto_sdk().await;
    let bucket = moto_bucket(&sdk, "exports", None).await;
    let app = app_with_bucket(&bucket).await;
    let ada = app.user("Ada").await;
    let bob = app.member("Bob", &ada, studio::Role::Member).await;
    conversation(
        &app,
        ada.workspace_id,
        ada.id,
        "Ada asks about invoice 4411",
    )
    .await;
    conversation(&app, ada.workspace_id, bob.id, "Bob asks something private").await;
    app.execute(
        "INSERT INTO audit_log (actor_kind, actor_user_id, action, target_type, target_id)
         VALUES ('member', $1, 'user.identity_linked', 'user', $2)",
        &[&ada.id, &ada.id.to_string()],
    )
    .await;

    // Nothing asked for yet.
    assert_error(
        &app.get(EXPORT, Some(&ada.access_token)).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_error(
        &app.get(EXPORT, None).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    );

    let asked = app
        .send(Method::POST, EXPORT, Some(&ada.access_token), None)
        .await;
    assert_eq!(asked.status, StatusCode::ACCEPTED, "{}", asked.body);
    assert_eq!(asked.body["status"], "pending");
    assert_eq!(asked.body["kind"], "user");
    assert_eq!(asked.body["downloadUrl"], Value::Null);
    // Asked again while it is built: the same one.
    let again = app
        .send(Method::POST, EXPORT, Some(&ada.access_token), None)
        .await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.body);
    assert_eq!(again.body["id"], asked.body["id"]);

    let report = exports::run(&app.state).await.expect("the job");
    assert_eq!(report["built"], 1, "{report:?}");
    let ready = app.get(EXPORT, Some(&ada.access_token)).await;
    assert_eq!(ready.status, StatusCode::OK, "{}", ready.body);
    assert_eq!(ready.body["status"], "ready", "{}", ready.body);
    let now = chrono::Utc::now();
    assert!(near(
        &ready.body["expiresAt"],
        now + chrono::Duration::days(7)
    ));
    assert!(near(
        &ready.body["downloadUrlExpiresAt"],
        now + chrono::Duration::minutes(15)
    ));
    let url = ready.str("/downloadUrl");
    assert!(url.contains("X-Amz-Signature"), "a presigned S3 URL: {url}");
    let file = download(&url).await;
    assert_eq!(
        ready.body["bytes"].as_i64().unwrap(),
        serde_json::to_vec_pretty(&file).unwrap().len() as i64
    );

    assert_eq!(file["kind"], "user");
    assert_eq!(file["account"]["email"], ada.email);
    assert_eq!(file["account"]["name"], "Ada");
    assert_eq!(file["account"]["hasPassword"], true);
    let memberships = file["memberships"].as_array().unwrap();
    assert_eq!(memberships.len(), 1);
    assert_eq!(memberships[0]["role"], "owner");
    let text = file.to_string();
    assert!(text.contains("Ada asks about invoice 4411"), "{text}");
    assert!(
        !text.contains("Bob asks something private"),
        "another member's conversation"
    );
    assert!(!text.contains(&bob.email));
    assert!(!text.contains("$argon2"), "never the password hash");
    assert_eq!(file["auditEntries"][0]["action"], "user.identity_linked");
    assert_eq!(file["auditEntries"][0]["byThisAccount"], true);

    // Ada's export is hers alone.
    assert_error(
        &app.get(EXPORT, Some(&bob.access_token)).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );

    // Kept a week, then the job deletes the file and the record.
    let key = format!("exports/user/{}.json", ready.str("/id"));
    assert!(moto_object(&sdk, &bucket, &key).await.is_some());
    app.execute(
        "UPDATE data_exports SET expires_at = now() - interval '1 second'",
        &[],
    )
    .await;
    let report = exports::run(&app.state).await.expect("the job");
    assert_eq!(report["expired"], 1, "{report:?}");
    assert_eq!(moto_object(&sdk, &bucket, &key).await, None);
    assert_error(
        &app.get(EXPORT, Some(&ada.access_token)).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );

    // An export still kept goes with its file when the account is erased.
    app.send(Method::POST, EXPORT, Some(&ada.access_token), None)
        .await;
    exports::run(&app.state).await.expect("the job");
    let second = app.get(EXPORT, Some(&ada.access_token)).await;
    let key = format!("exports/user/{}.json", second.str("/id"));
    assert!(moto_object(&sdk, &bucket, &key).await.is_some());
    app.execute(
        "UPDATE workspace_members SET role = 'owner' WHERE user_id = $1",
        &[&bob.id],
    )
    .await;
    let erased = app
        .send(
            Method::DELETE,
            "/api/v1/auth/me",
            Some(&ada.access_token),
            Some(json!({"password": TEST_PASSWORD})),
        )
        .await;
    assert_eq!(erased.status, StatusCode::OK, "{}", erased.body);
    assert_eq!(moto_object(&sdk, &bucket, &key).await, None);
    let left: i64 = app.value("SELECT count(*) FROM data_exports", &[]).await;
    assert_eq!(left, 0);
}

#[tokio::test]
async fn when_the_store_refuses_the_file_the_export_is_retried_then_failed_with_the_reason() {
    // A bucket that does not exist: every write is refused.
    let app = app_with_bucket(&format!("missing-{}", Uuid::new_v4().simple())).await;
    let ada = app.user("Ada").await;
    let asked = app
        .send(Method::POST, EXPORT, Some(&ada.access_token), None)
        .await;
    assert_eq!(asked.status, StatusCode::ACCEPTED, "{}", asked.body);

    for run in 1..=2 {
        let report = exports::run(&app.state).await.expect("the job");
        assert_eq!(report["failed"], 1, "run {run}: {report:?}");
        let status = app.get(EXPORT, Some(&ada.access_token)).await;
        assert_eq!(status.body["status"], "pending", "retried: {}", status.body);
        assert!(status.str("/error").contains("retried"), "{}", status.body);
        // Not again before its back-off has passed.
        let report = exports::run(&app.state).await.expect("the job");
        assert_eq!(report["failed"], 0, "run {run}, backing off: {report:?}");
        app.execute("UPDATE data_exports SET not_before = now()", &[])
            .await;
    }
    exports::run(&app.state).await.expect("the job");
    let failed = app.get(EXPORT, Some(&ada.access_token)).await;
    assert_eq!(failed.body["status"], "failed", "{}", failed.body);
    assert!(
        failed.str("/error").contains("could not be built"),
        "{}",
        failed.body
    );
    assert_eq!(failed.body["downloadUrl"], Value::Null);
    // A new request starts again.
    let again = app
        .send(Method::POST, EXPORT, Some(&ada.access_token), None)
        .await;
    assert_eq!(again.status, StatusCode::ACCEPTED);
    assert_ne!(again.body["id"], failed.body["id"]);
}
