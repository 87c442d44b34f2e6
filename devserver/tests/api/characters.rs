//! Characters PostgreSQL cannot store, and control characters where they make no sense, are a clear 400
//! naming the field on every route that stores text — never a 500 — and nothing is stored. (The fuzzing run,
//! scripts/fuzz.sh, puts them into every operation's bodies, queries and path parameters.)

use crate::common::dev_app;

use http::{Method, StatusCode};
use serde_json::{Value, json};
use studio_testing::{TestApp, TestResponse, assert_error};

fn fields(res: &TestResponse) -> Vec<String> {
    res.body["error"]["details"]
        .as_array()
        .unwrap_or_else(|| panic!("no field list in {}", res.body))
        .iter()
        .map(|f| f["field"].as_str().unwrap().to_owned())
        .collect()
}

fn refused(res: &TestResponse, field: &str) {
    assert_error(res, StatusCode::BAD_REQUEST, "validation_failed");
    assert_eq!(fields(res), vec![field.to_owned()], "{}", res.body);
}

async fn count(app: &TestApp, table: &str) -> i64 {
    app.sql()
        .await
        .query_one(&format!("SELECT count(*) FROM {table}"), &[])
        .await
        .unwrap()
        .get(0)
}

#[tokio::test]
async fn when_a_stored_string_holds_nul_every_route_answers_400_naming_the_field_and_stores_nothing()
 {
    let app = dev_app().await;
    let register = app
        .post(
            "/api/v1/auth/register",
            None,
            json!({"email": "nul@example.com", "password": "correct horse battery", "name": "A\u{0}B"}),
        )
        .await;
    refused(&register, "name");
    assert_eq!(count(&app, "users").await, 0);

    let ada = app.user("Ada").await;
    let token = Some(ada.access_token.as_str());
    let ws = ada.workspace_id;
    let workspaces = count(&app, "workspaces").await;
    refused(
        &app.post("/api/v1/workspaces", token, json!({"name": "Shop\u{0}"}))
            .await,
        "name",
    );
    assert_eq!(count(&app, "workspaces").await, workspaces);
    refused(
        &app.send(
            Method::PUT,
            &format!("/api/v1/workspaces/{ws}/intake"),
            token,
            Some(json!({"companyName": "Acme", "greeting": "Hi\u{0}"})),
        )
        .await,
        "greeting",
    );
    assert_eq!(count(&app, "workspace_intakes").await, 0);
    refused(
        &app.post(
            "/api/v1/agents/ingest",
            token,
            json!({"documents": [{"title": "T", "content": "a\u{0}b"}]}),
        )
        .await,
        "documents[0].content",
    );
    refused(
        &app.post(
            "/api/v1/agents/ingest",
            token,
            json!({"documents": [{"title": "T", "content": "ok", "metadata": {"note": "x\u{0}"}}]}),
        )
        .await,
        "documents[0].metadata.note",
    );
    assert_eq!(count(&app, "kb_documents").await, 0);
    refused(
        &app.post(
            "/api/v1/agents/customer-service/run",
            token,
            json!({"message": "hi\u{0}"}),
        )
        .await,
        "message",
    );
    assert_eq!(count(&app, "messages").await, 0);

    let turn = app
        .post(
            "/api/v1/agents/customer-service/run",
            token,
            json!({"message": "hello"}),
        )
        .await;
    let conv = turn.str("/convId");
    refused(
        &app.patch(
            &format!("/api/v1/agents/conversations/{conv}"),
            token,
            json!({"title": "x\u{0}"}),
        )
        .await,
        "title",
    );
    let title: Option<String> = app
        .sql()
        .await
        .query_one("SELECT title FROM conversations", &[])
        .await
        .unwrap()
        .get(0);
    assert_ne!(title.as_deref(), Some("x\u{0}"));
    // A query string is held to the same rule.
    refused(
        &app.get("/api/v1/agents/documents?cursor=a%00b", token)
            .await,
        "cursor",
    );
}

#[tokio::test]
async fn when_control_characters_are_sent_names_refuse_them_and_free_text_keeps_only_tabs_and_line_breaks()
 {
    let app = dev_app().await;
    let ada = app.user("Ada").await;
    let token = Some(ada.access_token.as_str());
    refused(
        &app.post("/api/v1/workspaces", token, json!({"name": "Line\nbreak"}))
            .await,
        "name",
    );
    refused(
        &app.post(
            "/api/v1/agents/ingest",
            token,
            json!({"documents": [{"title": "Tab\there", "content": "ok"}]}),
        )
        .await,
        "documents[0].title",
    );
    refused(
        &app.post(
            "/api/v1/agents/customer-service/run",
            token,
            json!({"message": "ring \u{7} the bell"}),
        )
        .await,
        "message",
    );
    let kept = app
        .post(
            "/api/v1/agents/ingest",
            token,
            json!({"documents": [{"title": "Policy", "content": "Line one\r\n\tIndented line two\n"}]}),
        )
        .await;
    assert_eq!(kept.status, StatusCode::ACCEPTED, "{}", kept.body);
    let content: String = app
        .sql()
        .await
        .query_one("SELECT content FROM kb_documents", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(content, "Line one\r\n\tIndented line two\n");
}

#[tokio::test]
async fn when_a_body_has_several_problems_every_field_is_listed_once_by_its_json_name() {
    let app = dev_app().await;
    let res = app
        .post(
            "/api/v1/auth/register",
            None,
            json!({"email": "not an email", "password": 12345678, "name": "", "nickname": "x"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert_eq!(fields(&res), vec!["email", "name", "nickname", "password"]);
    let messages: Vec<Value> = res.body["error"]["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["message"].clone())
        .collect();
    assert!(
        !messages
            .iter()
            .any(|m| m.as_str().unwrap().contains("RegisterRequest")),
        "{messages:?}"
    );
    let array = app.post("/api/v1/auth/register", None, json!([])).await;
    assert_eq!(
        array.body["error"]["details"],
        json!([{"field": "body", "message": "must be a JSON object"}])
    );
    // Paging parameters are named, with one wording on every list route.
    for route in [
        "/api/v1/agents/documents",
        "/api/v1/agents/conversations",
        "/api/v1/workspaces",
    ] {
        let bad = app
            .get(&format!("{route}?limit=abc"), Some(&app_token(&app).await))
            .await;
        assert_eq!(
            bad.body["error"]["details"],
            json!([{"field": "limit", "message": "must be a number"}]),
            "{route}"
        );
        let zero = app
            .get(&format!("{route}?limit=0"), Some(&app_token(&app).await))
            .await;
        assert_eq!(
            zero.body["error"]["details"],
            json!([{"field": "limit", "message": "must be between 1 and 100"}]),
            "{route}"
        );
    }
}

async fn app_token(app: &TestApp) -> String {
    app.user("Pager").await.access_token
}
