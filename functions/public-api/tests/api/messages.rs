//! `POST /api/v1/public/messages` and feedback on an answer: the same turn as the member `/run`, in the
//! visitor's own conversations only.

use crate::support::*;
use http::StatusCode;
use serde_json::json;
use studio_testing::assert_error;

#[tokio::test]
async fn when_a_visitor_sends_a_message_the_agent_answers_in_a_conversation_of_theirs() {
    let p = setup().await;
    let v = p.visitor().await;
    let res = v.say(&p.app, "How long do refunds take?", None).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(res.body["reply"], ANSWER);
    assert_eq!(res.body["status"], "bot");
    assert!(res.body["sources"].is_array());
    let conv = res.str("/convId");
    let next = v.say(&p.app, "And exchanges?", Some(&conv)).await;
    assert_eq!(next.str("/convId"), conv);
    assert_eq!(p.llm_calls().await, 2);
    // Both of the visitor's turns are in the workspace's usage, with the tokens the model reported
    // (the double: 120 and 12 each; a visitor is never shown them).
    assert_eq!(res.body.get("usage"), None);
    assert_eq!(
        p.app.usage_today(p.ada.workspace_id, "chat").await,
        (2, 240, 24)
    );

    // The team sees who started it.
    let members = p
        .app
        .get("/api/v1/agents/conversations", Some(&p.ada.access_token))
        .await;
    assert_eq!(members.items()[0]["startedBy"]["visitorId"], v.id.as_str());
    assert_eq!(
        members.items()[0]["startedBy"]["userId"],
        serde_json::Value::Null
    );
    let view = v
        .get(&p.app, &format!("/api/v1/public/conversations/{conv}"))
        .await;
    let roles: Vec<&str> = view.body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["user", "assistant", "user", "assistant"]);
}

#[tokio::test]
async fn when_a_visitor_names_another_visitors_conversation_it_is_not_found_and_nothing_is_stored()
{
    let p = setup().await;
    let a = p.visitor().await;
    let b = p.visitor().await;
    let conv = a
        .say(&p.app, "My order number is 1234", None)
        .await
        .str("/convId");
    let messages_before: i64 = p.app.value("SELECT count(*) FROM messages", &[]).await;
    let res = b.say(&p.app, "What did they say?", Some(&conv)).await;
    assert_error(&res, StatusCode::NOT_FOUND, "not_found");
    let read = b
        .get(&p.app, &format!("/api/v1/public/conversations/{conv}"))
        .await;
    assert_error(&read, StatusCode::NOT_FOUND, "not_found");
    let messages_after: i64 = p.app.value("SELECT count(*) FROM messages", &[]).await;
    assert_eq!(messages_after, messages_before);
    assert_eq!(p.llm_calls().await, 1);
}

#[tokio::test]
async fn when_a_member_runs_a_turn_in_a_visitors_conversation_it_is_refused() {
    let p = setup().await;
    let v = p.visitor().await;
    let conv = v.say(&p.app, "Hello", None).await.str("/convId");
    let res = p
        .app
        .post(
            "/api/v1/agents/customer-service/run",
            Some(&p.ada.access_token),
            json!({"message": "Hi from the team", "convId": conv}),
        )
        .await;
    assert_error(&res, StatusCode::CONFLICT, "conflict");
    assert!(
        res.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("/messages")
    );
}

#[tokio::test]
async fn when_a_message_is_empty_too_long_or_holds_a_nul_it_is_refused_by_field() {
    let p = setup().await;
    let v = p.visitor().await;
    for bad in [
        json!({"message": "  "}),
        json!({"message": "x".repeat(4001)}),
        json!({"message": "a\u{0}b"}),
    ] {
        let res = v.post(&p.app, "/api/v1/public/messages", bad).await;
        assert_eq!(res.invalid_fields(), ["message"]);
    }
    assert_eq!(p.llm_calls().await, 0);
}

#[tokio::test]
async fn when_a_visitor_rates_an_answer_it_is_recorded_and_another_visitors_answer_is_not_found() {
    let p = setup().await;
    let a = p.visitor().await;
    let b = p.visitor().await;
    let answer = a.say(&p.app, "Refunds?", None).await.str("/messageId");
    let path = format!("/api/v1/public/messages/{answer}/feedback");
    let res = a
        .post(&p.app, &path, json!({"rating": "up", "comment": "Clear"}))
        .await;
    assert_eq!(res.status, StatusCode::NO_CONTENT, "{}", res.body);
    let rated: String = p
        .app
        .value(
            "SELECT rating FROM message_feedback WHERE message_id = $1::text::uuid AND visitor_id = $2::text::uuid",
            &[&answer, &a.id],
        )
        .await;
    assert_eq!(rated, "up");
    let other = b.post(&p.app, &path, json!({"rating": "down"})).await;
    assert_error(&other, StatusCode::NOT_FOUND, "not_found");
    let bad = a.post(&p.app, &path, json!({"rating": "meh"})).await;
    assert_eq!(bad.invalid_fields(), ["rating"]);
    let unchanged: String = p
        .app
        .value(
            "SELECT rating FROM message_feedback WHERE message_id = $1::text::uuid",
            &[&answer],
        )
        .await;
    assert_eq!(unchanged, "up");
}

#[tokio::test]
async fn when_the_plans_monthly_turns_are_spent_a_visitors_turn_is_402_and_their_turns_count_too() {
    let p = setup().await;
    let v = p.visitor().await;
    let conv = v.say(&p.app, "One", None).await.str("/convId");
    // The free plan allows 200 chat turns (answers) a month, the visitors' included: bring usage to 199.
    p.app
        .execute(
            "INSERT INTO messages (id, workspace_id, conversation_id, role, content)
             SELECT gen_random_uuid(), $1, $2::text::uuid, 'assistant', 'x' FROM generate_series(1, 198)",
            &[&p.ada.workspace_id, &conv],
        )
        .await;
    assert_eq!(
        v.say(&p.app, "Two hundred", Some(&conv)).await.status,
        StatusCode::OK
    );
    let past = v.say(&p.app, "Past the limit", Some(&conv)).await;
    assert_error(&past, StatusCode::PAYMENT_REQUIRED, "quota_exceeded");
    assert_eq!(p.llm_calls().await, 2);
    // A member's turn is refused as well: one quota for the workspace.
    let member = p
        .app
        .post(
            "/api/v1/agents/customer-service/run",
            Some(&p.ada.access_token),
            json!({"message": "hi"}),
        )
        .await;
    assert_error(&member, StatusCode::PAYMENT_REQUIRED, "quota_exceeded");
}

/// Ingests `documents` into Ada's workspace through the member route and indexes them at once.
async fn ingest_indexed(p: &Public, documents: serde_json::Value) -> Vec<String> {
    let res = p
        .app
        .post(
            "/api/v1/agents/ingest",
            Some(&p.ada.access_token),
            json!({"documents": documents}),
        )
        .await;
    assert_eq!(res.status, StatusCode::ACCEPTED, "{}", res.body);
    let message: studio::knowledge::queue::IngestMessage = serde_json::from_value(
        json!({"ingestionId": res.str("/ingestionId"), "workspaceId": p.ada.workspace_id}),
    )
    .unwrap();
    studio::services::knowledge::process_ingestion(&p._k, &message, false)
        .await
        .unwrap();
    res.body["documentIds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|id| id.as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn when_a_source_document_has_a_web_url_the_answer_links_it_and_any_other_url_is_left_out() {
    let p = setup().await;
    let ids = ingest_indexed(
        &p,
        json!([
            {"title": "Warranty in Europe", "content": "The warranty lasts two years in Europe.", "sourceUrl": "https://acme.test/warranty/europe"},
            {"title": "Warranty in Asia", "content": "The warranty lasts two years in Asia.", "sourceUrl": "javascript:alert(document.cookie)"},
            {"title": "Warranty in Africa", "content": "The warranty lasts two years in Africa."},
        ]),
    )
    .await;
    let v = p.visitor().await;
    let res = v
        .say(&p.app, "How long does the warranty last?", None)
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let sources = res.body["sources"].as_array().unwrap();
    let of = |id: &str| {
        sources
            .iter()
            .find(|s| s["documentId"] == id)
            .unwrap_or_else(|| panic!("{id} is not a source: {sources:?}"))
    };
    assert_eq!(of(&ids[0])["url"], "https://acme.test/warranty/europe");
    assert!(of(&ids[1]).get("url").is_none(), "{sources:?}");
    assert!(of(&ids[2]).get("url").is_none(), "{sources:?}");

    // The conversation read back keeps the links.
    let view = v
        .get(
            &p.app,
            &format!("/api/v1/public/conversations/{}", res.str("/convId")),
        )
        .await;
    let answer = &view.body["messages"][1];
    assert!(
        answer["sources"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["url"] == "https://acme.test/warranty/europe"),
        "{answer}"
    );
}
