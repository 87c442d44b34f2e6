//! A visitor's conversations: their own only, read after a cursor, handed to a person — the agent silent
//! while a person has it (the OpenAI double records no call), a person's reply seen after the cursor and
//! mailed when the visitor left an address — and rated once resolved.

use crate::support::*;
use http::StatusCode;
use serde_json::{Value, json};
use studio::email::EmailKind;
use studio_testing::{TestResponse, assert_error, outbox_mail};

async fn handoff(p: &Public, v: &Visitor, conv: &str, body: Value) -> TestResponse {
    v.post(
        &p.app,
        &format!("/api/v1/public/conversations/{conv}/handoff"),
        body,
    )
    .await
}

async fn member_reply(p: &Public, conv: &str, text: &str) -> TestResponse {
    p.app
        .post(
            &format!("/api/v1/agents/conversations/{conv}/messages"),
            Some(&p.ada.access_token),
            json!({"message": text}),
        )
        .await
}

async fn member_status(p: &Public, conv: &str, status: &str) -> TestResponse {
    p.app
        .post(
            &format!("/api/v1/agents/conversations/{conv}/status"),
            Some(&p.ada.access_token),
            json!({"status": status}),
        )
        .await
}

#[tokio::test]
async fn when_visitors_list_conversations_each_sees_only_their_own() {
    let p = setup().await;
    let a = p.visitor().await;
    let b = p.visitor().await;
    let mine = a.say(&p.app, "A's question", None).await.str("/convId");
    b.say(&p.app, "B's question", None).await;
    let list = a.get(&p.app, "/api/v1/public/conversations").await;
    assert_eq!(list.items().len(), 1);
    assert_eq!(list.items()[0]["id"], mine.as_str());
    assert_eq!(list.items()[0]["status"], "bot");
    assert_eq!(list.items()[0]["offerEmail"], false);
}

#[tokio::test]
async fn when_a_visitor_asks_for_a_person_the_agent_is_silent_until_a_member_hands_it_back() {
    let p = setup().await;
    let v = p.visitor().await;
    let first = v.say(&p.app, "I need to change my order", None).await;
    let conv = first.str("/convId");

    let asked = handoff(&p, &v, &conv, json!({})).await;
    assert_eq!(asked.status, StatusCode::OK, "{}", asked.body);
    assert_eq!(asked.body["status"], "waiting_for_human");
    let mail: Vec<_> = outbox_mail(&p.app.db_url)
        .await
        .into_iter()
        .filter(|m| m.kind == EmailKind::Escalation)
        .collect();
    assert_eq!(mail.len(), 1);
    assert_eq!(mail[0].to, "help@acme.test");
    assert!(mail[0].text.contains("I need to change my order"));
    // Asking again changes nothing and mails nobody.
    handoff(&p, &v, &conv, json!({})).await;
    let escalations = outbox_mail(&p.app.db_url)
        .await
        .into_iter()
        .filter(|m| m.kind == EmailKind::Escalation)
        .count();
    assert_eq!(escalations, 1);

    let waiting = v.say(&p.app, "Hello?", Some(&conv)).await;
    assert_eq!(waiting.status, StatusCode::OK, "{}", waiting.body);
    assert_eq!(waiting.body["reply"], Value::Null);
    assert_eq!(waiting.body["status"], "waiting_for_human");
    let cursor = waiting.str("/messageId");
    assert_eq!(p.llm_calls().await, 1, "no model call while waiting");

    // The team sees it in the inbox, oldest waiting first, and answers.
    let inbox = p
        .app
        .get("/api/v1/agents/inbox", Some(&p.ada.access_token))
        .await;
    assert_eq!(inbox.items().len(), 1);
    assert_eq!(inbox.items()[0]["id"], conv.as_str());
    let replied = member_reply(&p, &conv, "Hi, this is Ada. Which order?").await;
    assert_eq!(replied.status, StatusCode::CREATED, "{}", replied.body);
    assert_eq!(replied.body["status"], "human");
    assert_eq!(replied.body["message"]["role"], "human");
    assert_eq!(replied.body["mailed"], false);

    // The visitor polls after their last message and sees exactly the reply.
    let polled = v
        .get(
            &p.app,
            &format!("/api/v1/public/conversations/{conv}?after={cursor}"),
        )
        .await;
    assert_eq!(polled.status, StatusCode::OK, "{}", polled.body);
    assert_eq!(polled.body["status"], "human");
    let messages = polled.body["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0]["role"], "human");
    assert_eq!(messages[0]["content"], "Hi, this is Ada. Which order?");
    let again = v
        .get(
            &p.app,
            &format!(
                "/api/v1/public/conversations/{conv}?after={}",
                messages[0]["id"].as_str().unwrap()
            ),
        )
        .await;
    assert_eq!(again.body["messages"], json!([]));

    let with_person = v.say(&p.app, "Order 1234", Some(&conv)).await;
    assert_eq!(with_person.body["reply"], Value::Null);
    assert_eq!(with_person.body["status"], "human");
    assert_eq!(
        p.llm_calls().await,
        1,
        "no model call while a person has it"
    );

    // Handed back, the agent answers again — with the person's reply in its history.
    let back = member_status(&p, &conv, "bot").await;
    assert_eq!(back.status, StatusCode::OK, "{}", back.body);
    assert_eq!(back.body["status"], "bot");
    let answered = v.say(&p.app, "Thanks, and refunds?", Some(&conv)).await;
    assert_eq!(answered.body["reply"], ANSWER);
    assert_eq!(p.llm_calls().await, 2);
    let requests = p.llm.received_requests().await.unwrap();
    let prompt: Value = serde_json::from_slice(&requests[1].body).unwrap();
    let history = prompt["messages"].to_string();
    assert!(
        history.contains("Hi, this is Ada. Which order?"),
        "{history}"
    );
    assert!(
        !history.contains("\"human\""),
        "the model only knows its own roles: {history}"
    );
}

#[tokio::test]
async fn when_the_visitor_left_an_email_a_persons_reply_is_mailed_to_them() {
    let p = setup().await;
    let v = p.visitor().await;
    let conv = v.say(&p.app, "Call me back", None).await.str("/convId");
    let bad = handoff(&p, &v, &conv, json!({"email": "not an address"})).await;
    assert_eq!(bad.invalid_fields(), ["email"]);
    let asked = handoff(&p, &v, &conv, json!({"email": "visitor@customers.test"})).await;
    assert_eq!(asked.status, StatusCode::OK, "{}", asked.body);
    assert_eq!(asked.body["offerEmail"], false);
    let replied = member_reply(&p, &conv, "We'll call you at 5.").await;
    assert_eq!(replied.body["mailed"], true);
    let to_visitor: Vec<_> = outbox_mail(&p.app.db_url)
        .await
        .into_iter()
        .filter(|m| m.kind == EmailKind::TeamReply)
        .collect();
    assert_eq!(to_visitor.len(), 1);
    assert_eq!(to_visitor[0].to, "visitor@customers.test");
    assert!(to_visitor[0].text.contains("We'll call you at 5."));
}

#[tokio::test]
async fn when_nobody_answers_within_the_wait_the_visitor_is_offered_to_leave_an_email() {
    let p = setup().await;
    set_widget(&p.app, &p.ada, json!({"humanWaitMinutes": 1})).await;
    let v = p.visitor().await;
    let conv = v.say(&p.app, "Help", None).await.str("/convId");
    let asked = handoff(&p, &v, &conv, json!({})).await;
    assert_eq!(asked.body["offerEmail"], false);
    p.app
        .execute(
            "UPDATE conversations SET status_changed_at = now() - interval '2 minutes'",
            &[],
        )
        .await;
    let view = v
        .get(&p.app, &format!("/api/v1/public/conversations/{conv}"))
        .await;
    assert_eq!(view.body["offerEmail"], true);
    let left = handoff(&p, &v, &conv, json!({"email": "v@customers.test"})).await;
    assert_eq!(left.body["offerEmail"], false);
}

#[tokio::test]
async fn when_the_knowledge_base_has_nothing_to_answer_from_the_question_goes_to_a_person() {
    let p = setup().await;
    set_widget(&p.app, &p.ada, json!({"autoEscalateWithoutContext": true})).await;
    let v = p.visitor().await;
    let res = v.say(&p.app, "Do you ship to Mars?", None).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(res.body["reply"], Value::Null);
    assert_eq!(res.body["status"], "waiting_for_human");
    assert_eq!(p.llm_calls().await, 0);
    let inbox = p
        .app
        .get("/api/v1/agents/inbox", Some(&p.ada.access_token))
        .await;
    assert_eq!(inbox.items()[0]["id"], res.body["convId"]);
}

#[tokio::test]
async fn when_resolved_the_visitor_may_rate_it_and_not_before() {
    let p = setup().await;
    let v = p.visitor().await;
    let conv = v.say(&p.app, "Hi", None).await.str("/convId");
    let path = format!("/api/v1/public/conversations/{conv}/rating");
    let early = v.post(&p.app, &path, json!({"score": 5})).await;
    assert_error(&early, StatusCode::CONFLICT, "conflict");
    let resolved = member_status(&p, &conv, "resolved").await;
    assert_eq!(resolved.body["status"], "resolved");
    for bad in [json!({"score": 0}), json!({"score": 6})] {
        assert_eq!(v.post(&p.app, &path, bad).await.invalid_fields(), ["score"]);
    }
    let rated = v
        .post(&p.app, &path, json!({"score": 4, "comment": "Quick"}))
        .await;
    assert_eq!(rated.status, StatusCode::NO_CONTENT, "{}", rated.body);
    let score: i16 = p
        .app
        .value(
            "SELECT csat_score FROM conversations WHERE id = $1::text::uuid",
            &[&conv],
        )
        .await;
    assert_eq!(score, 4);
    let other = p.visitor().await;
    assert_error(
        &other.post(&p.app, &path, json!({"score": 1})).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    // Writing again reopens it with the agent.
    let reopened = v.say(&p.app, "One more thing", Some(&conv)).await;
    assert_eq!(reopened.body["status"], "bot");
    assert_eq!(reopened.body["reply"], ANSWER);
}

#[tokio::test]
async fn when_the_cursor_is_not_a_message_of_the_conversation_it_is_refused() {
    let p = setup().await;
    let a = p.visitor().await;
    let conv = a.say(&p.app, "One", None).await.str("/convId");
    let other = a.say(&p.app, "Two", None).await.str("/messageId");
    let res = a
        .get(
            &p.app,
            &format!("/api/v1/public/conversations/{conv}?after={other}"),
        )
        .await;
    assert_eq!(res.invalid_fields(), ["after"]);
}

#[tokio::test]
async fn when_the_workspace_turned_escalation_off_a_handoff_is_refused() {
    let p = setup().await;
    p.app
        .set_intake(
            &p.ada,
            json!({"companyName": "Acme", "subsystems": {"customerService": true, "escalation": false}}),
        )
        .await;
    let v = p.visitor().await;
    let conv = v.say(&p.app, "Hi", None).await.str("/convId");
    let res = handoff(&p, &v, &conv, json!({})).await;
    assert_error(&res, StatusCode::CONFLICT, "conflict");
    let status: String = p
        .app
        .value(
            "SELECT status FROM conversations WHERE id = $1::text::uuid",
            &[&conv],
        )
        .await;
    assert_eq!(status, "bot");
}
