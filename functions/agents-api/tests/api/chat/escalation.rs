//! Escalation: a member hands a conversation to a person — the intake's escalation contact gets the
//! transcript through SES (the moto server), the conversation is marked, and escalating again sends
//! nothing. Roles, other tenants and a missing contact are refused clearly.

use http::StatusCode;
use serde_json::{Value, json};
use studio::Role;
use studio::email::EmailKind;
use studio::knowledge::Embedder;
use studio_testing::{
    TestApp, TestResponse, TestUser, knowledge_app, local_queue, moto_sdk, outbox_mail, ses_mailer,
    ses_sent_to,
};
use uuid::Uuid;

async fn set_intake(app: &TestApp, user: &TestUser, intake: Value) {
    app.set_intake(user, intake).await;
}

/// A conversation of two turns; returns its id.
async fn conversation(app: &TestApp, user: &TestUser) -> String {
    let first = app
        .post(
            "/api/v1/agents/customer-service/run",
            Some(&user.access_token),
            json!({"message": "Where is my <order> #42?"}),
        )
        .await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    let id = first.str("/convId");
    app.post(
        "/api/v1/agents/customer-service/run",
        Some(&user.access_token),
        json!({"message": "I want to talk to a human", "convId": id}),
    )
    .await;
    id
}

async fn escalate(app: &TestApp, user: &TestUser, id: &str, body: Value) -> TestResponse {
    app.post(
        &format!("/api/v1/agents/conversations/{id}/escalate"),
        Some(&user.access_token),
        body,
    )
    .await
}

fn contact() -> String {
    format!("support-{}@acme.test", Uuid::new_v4().simple())
}

#[tokio::test]
async fn when_a_member_escalates_the_contact_gets_the_transcript_once_and_the_conversation_is_marked()
 {
    let (app, _k) = knowledge_app(Embedder::offline(), local_queue().0, agents_api::routes()).await;
    let ada = app.user("Ada").await;
    let to = contact();
    set_intake(
        &app,
        &ada,
        json!({"companyName": "Acme & Co", "escalationEmail": to.to_uppercase()}),
    )
    .await;
    let id = conversation(&app, &ada).await;

    let res = escalate(&app, &ada, &id, json!({"reason": "Angry <customer>"})).await;
    assert_eq!(res.status, StatusCode::ACCEPTED, "{}", res.body);
    assert_eq!(res.body["alreadyEscalated"], false);
    assert_eq!(res.body["conversationId"], id.as_str());

    let mail: Vec<_> = outbox_mail(&app.db_url)
        .await
        .into_iter()
        .filter(|m| m.kind == EmailKind::Escalation)
        .collect();
    assert_eq!(mail.len(), 1);
    assert_eq!(mail[0].to, to);
    assert!(mail[0].text.contains("user: Where is my <order> #42?"));
    assert!(mail[0].text.contains("user: I want to talk to a human"));
    assert!(mail[0].text.contains("assistant: "));
    assert!(mail[0].text.contains("Reason: Angry <customer>"));
    assert!(mail[0].text.contains(&ada.email), "who escalated");

    ses_mailer(&moto_sdk().await)
        .await
        .send(&mail[0])
        .await
        .unwrap();
    let sent = ses_sent_to(&to).await;
    assert_eq!(sent.len(), 1);
    assert!(sent[0].subject.starts_with("Escalation: "));
    assert!(
        sent[0].body.contains("Where is my &lt;order&gt; #42?"),
        "{}",
        sent[0].body
    );
    assert!(sent[0].body.contains("Acme &amp; Co"));

    // Again: nothing more is sent.
    let again = escalate(&app, &ada, &id, json!({})).await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.body["alreadyEscalated"], true);
    assert_eq!(again.body["escalatedAt"], res.body["escalatedAt"]);
    let escalations = outbox_mail(&app.db_url)
        .await
        .iter()
        .filter(|m| m.kind == EmailKind::Escalation)
        .count();
    assert_eq!(escalations, 1);
    let row = app
        .sql()
        .await
        .query_one(
            "SELECT escalated_at IS NOT NULL, escalated_by FROM conversations WHERE id = $1",
            &[&id.parse::<Uuid>().unwrap()],
        )
        .await
        .unwrap();
    assert!(row.get::<_, bool>(0));
    assert_eq!(row.get::<_, Option<Uuid>>(1), Some(ada.id));
}

#[tokio::test]
async fn when_escalation_cannot_or_may_not_happen_the_refusal_says_why_and_nothing_is_sent() {
    let (app, _k) = knowledge_app(Embedder::offline(), local_queue().0, agents_api::routes()).await;
    let ada = app.user("Ada").await;
    let id = conversation(&app, &ada).await;

    // No escalation contact in the intake.
    let no_contact = escalate(&app, &ada, &id, json!({})).await;
    assert_eq!(no_contact.status, StatusCode::CONFLICT);
    assert!(
        no_contact.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("escalationEmail")
    );

    // Turned off in the intake.
    set_intake(
        &app,
        &ada,
        json!({"companyName": "Acme", "escalationEmail": contact(), "subsystems": {"customerService": true, "escalation": false}}),
    )
    .await;
    let off = escalate(&app, &ada, &id, json!({})).await;
    assert_eq!(off.status, StatusCode::CONFLICT);
    set_intake(
        &app,
        &ada,
        json!({"companyName": "Acme", "escalationEmail": contact()}),
    )
    .await;

    // A viewer may read but not escalate; another workspace's member gets a 404.
    let vera = app.member("Vera", &ada, Role::Viewer).await;
    let as_viewer = escalate(&app, &vera, &id, json!({})).await;
    assert_eq!(
        as_viewer.status,
        StatusCode::NOT_FOUND,
        "Vera's token names her own workspace"
    );
    let as_viewer = app
        .send_with(
            http::Method::POST,
            &format!("/api/v1/agents/conversations/{id}/escalate"),
            Some(&vera.access_token),
            Some(json!({})),
            &[("x-workspace-id", &ada.workspace_id.to_string())],
        )
        .await;
    assert_eq!(as_viewer.status, StatusCode::FORBIDDEN);
    let eve = app.user("Eve").await;
    let foreign = escalate(&app, &eve, &id, json!({})).await;
    assert_eq!(foreign.status, StatusCode::NOT_FOUND);
    let unknown = escalate(&app, &ada, &Uuid::now_v7().to_string(), json!({})).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    let too_long = escalate(&app, &ada, &id, json!({"reason": "x".repeat(1001)})).await;
    assert_eq!(too_long.code(), "validation_failed");

    assert_eq!(
        outbox_mail(&app.db_url)
            .await
            .iter()
            .filter(|m| m.kind == EmailKind::Escalation)
            .count(),
        0,
        "no refused escalation sent anything"
    );
    // With everything in place, it goes.
    assert_eq!(
        escalate(&app, &ada, &id, json!({})).await.status,
        StatusCode::ACCEPTED
    );
}

#[tokio::test]
async fn when_the_escalate_event_arrives_through_api_gateway_it_is_served() {
    let (app, _k) = knowledge_app(Embedder::offline(), local_queue().0, agents_api::routes()).await;
    let ada = app.user("Ada").await;
    set_intake(
        &app,
        &ada,
        json!({"companyName": "Acme", "escalationEmail": contact()}),
    )
    .await;
    let id = conversation(&app, &ada).await;
    let path = format!(
        "{}/../../events/agents-escalate.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(path)
        .unwrap()
        .replace("REPLACE_WITH_ACCESS_TOKEN", &ada.access_token)
        .replace("REPLACE_WITH_WORKSPACE_ID", &ada.workspace_id.to_string())
        .replace("REPLACE_WITH_CONVERSATION_ID", &id);
    let request = lambda_http::request::from_str(&text)
        .unwrap()
        .map(|b| axum::body::Body::from(b.to_vec()));
    let res = app.call(request).await;
    assert_eq!(res.status, StatusCode::ACCEPTED, "{}", res.body);
}
