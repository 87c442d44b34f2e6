//! `/api/v1/workspaces/{workspaceId}/export`: the whole workspace for its owner, built by the
//! `build-exports` job into a real S3 bucket (the moto server) and downloaded through the presigned link;
//! other roles and other tenants refused.

use http::{Method, StatusCode};
use serde_json::Value;
use studio::Role;
use studio::services::exports;
use studio_testing::{
    TestApp, TestDb, assert_error, http_client, moto_bucket, moto_sdk, state_with,
};
use uuid::Uuid;

fn path(ws: Uuid) -> String {
    format!("/api/v1/workspaces/{ws}/export")
}

async fn document(app: &TestApp, ws: Uuid, title: &str, content: &str) {
    app.execute(
        "INSERT INTO kb_documents (id, workspace_id, title, content, content_hash, status, version)
         VALUES ($1, $2, $3, $4, '\\x00', 'ready', 1)",
        &[&Uuid::now_v7(), &ws, &title, &content],
    )
    .await;
}

#[tokio::test]
async fn when_the_owner_exports_the_workspace_the_file_holds_its_data_and_none_of_its_secrets_or_neighbours()
 {
    let sdk = moto_sdk().await;
    let bucket = moto_bucket(&sdk, "exports", None).await;
    let db = TestDb::new().await;
    let state = state_with(&db.url, &[("UPLOADS_BUCKET", &bucket)]);
    let app = TestApp::with_state(workspaces_api::routes(), state, db.url);
    let ada = app.user("Ada").await;
    let admin = app.member("Bob", &ada, Role::Admin).await;
    let eve = app.user("Eve").await;
    let ws = ada.workspace_id;
    document(&app, ws, "Refunds", "Our refund window is 30 days.").await;
    document(
        &app,
        eve.workspace_id,
        "Eve's plans",
        "Eve's confidential roadmap.",
    )
    .await;
    let conversation = Uuid::now_v7();
    app.execute(
        "INSERT INTO conversations (id, workspace_id, user_id, title) VALUES ($1, $2, $3, 'Refund?')",
        &[&conversation, &ws, &ada.id],
    )
    .await;
    app.execute(
        "INSERT INTO messages (id, workspace_id, conversation_id, role, content)
         VALUES ($1, $2, $3, 'user', 'How long is the refund window?')",
        &[&Uuid::now_v7(), &ws, &conversation],
    )
    .await;
    // A key and an identity secret: the export lists the key, never a secret.
    let key = app
        .post(
            &format!("/api/v1/workspaces/{ws}/api-keys"),
            Some(&ada.access_token),
            serde_json::json!({"name": "Website", "kind": "publishable", "allowedOrigins": ["https://shop.example.com"]}),
        )
        .await;
    assert_eq!(key.status, StatusCode::CREATED, "{}", key.body);
    let secret = app
        .send(
            Method::POST,
            &format!("/api/v1/workspaces/{ws}/identity-secret"),
            Some(&ada.access_token),
            None,
        )
        .await;
    assert_eq!(secret.status, StatusCode::CREATED, "{}", secret.body);

    // Owners only; another tenant's workspace does not exist for Eve.
    assert_error(
        &app.send(Method::POST, &path(ws), Some(&admin.access_token), None)
            .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    assert_error(
        &app.send(Method::POST, &path(ws), Some(&eve.access_token), None)
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_error(
        &app.get(&path(ws), Some(&ada.access_token)).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );

    let asked = app
        .send(Method::POST, &path(ws), Some(&ada.access_token), None)
        .await;
    assert_eq!(asked.status, StatusCode::ACCEPTED, "{}", asked.body);
    assert_eq!(asked.body["kind"], "workspace");
    let report = exports::run(&app.state).await.expect("the job");
    assert_eq!(report["built"], 1, "{report:?}");
    assert_error(
        &app.get(&path(ws), Some(&eve.access_token)).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    let ready = app.get(&path(ws), Some(&ada.access_token)).await;
    assert_eq!(ready.body["status"], "ready", "{}", ready.body);
    let res = http_client()
        .get(ready.str("/downloadUrl"))
        .send()
        .await
        .expect("download");
    assert_eq!(res.status(), 200);
    let file: Value = serde_json::from_slice(&res.bytes().await.unwrap()).unwrap();

    assert_eq!(file["kind"], "workspace");
    assert_eq!(file["workspace"]["id"], ws.to_string());
    let documents = file["documents"].as_array().unwrap();
    assert_eq!(documents.len(), 1, "{documents:?}");
    assert_eq!(documents[0]["content"], "Our refund window is 30 days.");
    let conversations = file["conversations"].as_array().unwrap();
    assert_eq!(conversations.len(), 1);
    assert_eq!(
        conversations[0]["messages"][0]["content"],
        "How long is the refund window?"
    );
    let members: Vec<&str> = file["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["email"].as_str().unwrap())
        .collect();
    assert_eq!(members, [ada.email.as_str(), admin.email.as_str()]);
    assert_eq!(file["apiKeys"].as_array().unwrap().len(), 1);
    assert!(file["apiKeys"][0].get("key_hash").is_none());
    let text = file.to_string();
    assert!(
        !text.contains("Eve's confidential roadmap"),
        "a neighbour's document"
    );
    assert!(!text.contains(&eve.email));
    assert!(
        !text.contains(secret.str("/secret").as_str()),
        "the identity secret"
    );
    assert!(
        !text.contains(key.str("/key").as_str()),
        "the API key itself"
    );
}
