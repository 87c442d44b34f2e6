//! `POST /api/v1/public/stream`: the visitor's turn as server-sent events — or, while a person has the
//! conversation, `status` then `done` without asking the model.

use crate::support::*;
use http::{Method, StatusCode};
use serde_json::json;
use studio_testing::assert_error;

#[tokio::test]
async fn when_a_visitor_streams_a_turn_the_answer_arrives_in_pieces_and_is_saved() {
    let p = setup().await;
    let v = p.visitor().await;
    let res = v
        .post(
            &p.app,
            "/api/v1/public/stream",
            json!({"message": "Refunds?"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(res.headers["access-control-allow-origin"], SHOP);
    let events = res.sse_events();
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["sources", "delta", "delta", "done"]);
    let conv = events[3].1["convId"].as_str().unwrap().to_owned();
    let view = v
        .get(&p.app, &format!("/api/v1/public/conversations/{conv}"))
        .await;
    assert_eq!(view.body["messages"][1]["content"], ANSWER);
}

#[tokio::test]
async fn when_a_person_has_the_conversation_the_stream_says_so_without_asking_the_model() {
    let p = setup().await;
    let v = p.visitor().await;
    let conv = v.say(&p.app, "Refunds?", None).await.str("/convId");
    let handoff = v
        .post(
            &p.app,
            &format!("/api/v1/public/conversations/{conv}/handoff"),
            json!({}),
        )
        .await;
    assert_eq!(handoff.status, StatusCode::OK, "{}", handoff.body);
    let res = v
        .post(
            &p.app,
            "/api/v1/public/stream",
            json!({"message": "Anyone there?", "convId": conv}),
        )
        .await;
    let events = res.sse_events();
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["status", "done"]);
    assert_eq!(events[0].1["status"], "waiting_for_human");
    assert_eq!(
        p.llm_calls().await,
        1,
        "only the first turn asked the model"
    );
    let view = v
        .get(&p.app, &format!("/api/v1/public/conversations/{conv}"))
        .await;
    let last = view.body["messages"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["content"], "Anyone there?");
}

#[tokio::test]
async fn when_a_stream_comes_from_a_page_the_key_does_not_allow_it_is_refused() {
    let p = setup().await;
    let v = p.visitor().await;
    let res = call(
        &p.app,
        Method::POST,
        "/api/v1/public/stream",
        Some(&v.session),
        Some("https://evil.test"),
        Some(json!({"message": "hi"})),
    )
    .await;
    assert_error(&res, StatusCode::FORBIDDEN, "origin_not_allowed");
    assert_eq!(p.llm_calls().await, 0);
}
