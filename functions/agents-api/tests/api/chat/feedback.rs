//! What a tenant looks at to improve the agent: conversation views say who started them and whether they
//! were escalated, messages carry their rating, and `GET /api/v1/agents/feedback` lists the ratings with
//! the question and the answer, newest first, by rating, paged — of the caller's workspace only.

use crate::support::conversation_view;
use http::{Method, StatusCode};
use serde_json::{Value, json};
use studio::Role;
use studio::knowledge::Embedder;
use studio_testing::{TestApp, TestResponse, TestUser, knowledge_app, local_queue};

async fn setup() -> TestApp {
    let (app, _k) = knowledge_app(Embedder::offline(), local_queue().0, agents_api::routes()).await;
    app
}

async fn turn(app: &TestApp, user: &TestUser, message: &str) -> TestResponse {
    let res = app
        .post(
            "/api/v1/agents/customer-service/run",
            Some(&user.access_token),
            json!({"message": message}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    res
}

async fn rate(app: &TestApp, user: &TestUser, message_id: &str, body: Value) {
    let res = app
        .post(
            &format!("/api/v1/agents/messages/{message_id}/feedback"),
            Some(&user.access_token),
            body,
        )
        .await;
    assert_eq!(res.status, StatusCode::NO_CONTENT, "{}", res.body);
}

/// `GET /api/v1/agents/feedback` as `user`, naming the workspace `ws` in the header.
async fn feedback_in(app: &TestApp, user: &TestUser, ws: &str) -> TestResponse {
    app.send_with(
        Method::GET,
        "/api/v1/agents/feedback",
        Some(&user.access_token),
        None,
        &[("x-workspace-id", ws)],
    )
    .await
}

#[tokio::test]
async fn when_a_conversation_is_viewed_it_says_who_started_it_whether_it_was_escalated_and_each_rating()
 {
    let app = setup().await;
    let ada = app.user("Ada").await;
    app.set_intake(
        &ada,
        json!({"companyName": "Acme", "escalationEmail": "help@acme.test"}),
    )
    .await;
    let first = turn(&app, &ada, "Where is my order?").await;
    let conv = first.str("/convId");
    rate(
        &app,
        &ada,
        &first.str("/messageId"),
        json!({"rating": "down"}),
    )
    .await;

    let view = conversation_view(&app, &ada, &conv).await;
    assert_eq!(view.status, StatusCode::OK);
    assert_eq!(
        view.body["startedBy"],
        json!({"userId": ada.id, "visitorId": null})
    );
    assert_eq!(view.body["status"], "bot");
    assert_eq!(view.body["escalatedAt"], Value::Null);
    let ratings: Vec<&Value> = view.body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| &m["rating"])
        .collect();
    assert_eq!(ratings, vec![&Value::Null, &json!("down")]);

    // Escalating needs no body at all (it is optional), and then shows in every view.
    let escalated = app
        .send(
            Method::POST,
            &format!("/api/v1/agents/conversations/{conv}/escalate"),
            Some(&ada.access_token),
            None,
        )
        .await;
    assert_eq!(escalated.status, StatusCode::ACCEPTED, "{}", escalated.body);
    let at = escalated.str("/escalatedAt");
    let view = conversation_view(&app, &ada, &conv).await;
    assert_eq!(view.body["escalatedAt"], at.as_str());
    let list = app
        .get("/api/v1/agents/conversations", Some(&ada.access_token))
        .await;
    assert_eq!(list.body["items"][0]["escalatedAt"], at.as_str());
    assert_eq!(list.body["items"][0]["startedBy"]["userId"], json!(ada.id));
}

#[tokio::test]
async fn when_feedback_is_listed_it_pairs_each_rating_with_its_question_and_answer_newest_first() {
    let app = setup().await;
    let ada = app.user("Ada").await;
    let a = turn(&app, &ada, "How do refunds work?").await;
    let conv = a.str("/convId");
    let b = app
        .post(
            "/api/v1/agents/customer-service/run",
            Some(&ada.access_token),
            json!({"message": "And shipping?", "convId": conv}),
        )
        .await;
    let c = turn(&app, &ada, "Opening hours?").await;
    rate(
        &app,
        &ada,
        &a.str("/messageId"),
        json!({"rating": "down", "comment": "wrong policy"}),
    )
    .await;
    rate(&app, &ada, &b.str("/messageId"), json!({"rating": "up"})).await;
    rate(&app, &ada, &c.str("/messageId"), json!({"rating": "down"})).await;

    let all = app
        .get("/api/v1/agents/feedback", Some(&ada.access_token))
        .await;
    assert_eq!(all.status, StatusCode::OK, "{}", all.body);
    let items = all.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    assert_eq!(
        items[0]["messageId"],
        c.str("/messageId").as_str(),
        "newest first"
    );
    let second_turn = items.iter().find(|i| i["rating"] == "up").unwrap();
    assert_eq!(
        second_turn["question"], "And shipping?",
        "the question it answered, not the first one"
    );
    assert_eq!(second_turn["answer"], b.str("/reply").as_str());
    assert_eq!(second_turn["convId"], conv.as_str());

    let down = app
        .get(
            "/api/v1/agents/feedback?rating=down&limit=1",
            Some(&ada.access_token),
        )
        .await;
    assert_eq!(down.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(down.body["items"][0]["question"], "Opening hours?");
    let cursor = down.str("/nextCursor");
    let next = app
        .get(
            &format!("/api/v1/agents/feedback?rating=down&limit=1&cursor={cursor}"),
            Some(&ada.access_token),
        )
        .await;
    assert_eq!(next.body["items"][0]["question"], "How do refunds work?");
    assert_eq!(next.body["items"][0]["comment"], "wrong policy");
    assert_eq!(next.body["nextCursor"], Value::Null);

    // A deleted conversation's ratings leave the list.
    app.delete(
        &format!("/api/v1/agents/conversations/{conv}"),
        Some(&ada.access_token),
    )
    .await;
    let after = app
        .get("/api/v1/agents/feedback", Some(&ada.access_token))
        .await;
    assert_eq!(after.body["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn when_feedback_is_listed_viewers_may_read_other_workspaces_see_nothing_and_bad_filters_are_named()
 {
    let app = setup().await;
    let ada = app.user("Ada").await;
    let reply = turn(&app, &ada, "Hello").await;
    rate(
        &app,
        &ada,
        &reply.str("/messageId"),
        json!({"rating": "up"}),
    )
    .await;

    let viewer = app.member("Vera", &ada, Role::Viewer).await;
    let ws = ada.workspace_id.to_string();
    let seen = feedback_in(&app, &viewer, &ws).await;
    assert_eq!(seen.status, StatusCode::OK);
    assert_eq!(seen.body["items"].as_array().unwrap().len(), 1);

    let bob = app.user("Bob").await;
    let theirs = app
        .get("/api/v1/agents/feedback", Some(&bob.access_token))
        .await;
    assert_eq!(theirs.status, StatusCode::OK);
    assert!(theirs.body["items"].as_array().unwrap().is_empty());
    let forged = feedback_in(&app, &bob, &ws).await;
    assert_eq!(forged.status, StatusCode::NOT_FOUND, "{}", forged.body);

    let bad = app
        .get(
            "/api/v1/agents/feedback?rating=meh&limit=abc",
            Some(&ada.access_token),
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        bad.body["error"]["details"],
        json!([
            {"field": "limit", "message": "must be a number"},
            {"field": "rating", "message": "must be up or down"}
        ])
    );
    assert_eq!(
        app.get("/api/v1/agents/feedback", None).await.status,
        StatusCode::UNAUTHORIZED
    );
}
