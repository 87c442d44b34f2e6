//! The budgets that protect the tenant's bill, through the Upstash limiter over a real Redis: per IP, per
//! key and per visitor; a conversation's message cap, a visitor's daily messages and the workspace's daily
//! LLM tokens. Each reaches a `429 rate_limited` naming it (`details.limit`) with `Retry-After`, the
//! refused request asks no model and stores nothing, and each resets when its window ends (windows
//! shortened by configuration). Every limit of one request is one limiter round trip.

use crate::support::*;
use http::{Method, StatusCode};
use serde_json::json;
use std::time::Duration;
use studio_testing::{TestResponse, UpstashDouble, assert_error};

/// The public setup on Upstash (over the test Redis) with `extra` limits.
async fn on_upstash(extra: &[(&str, &str)]) -> (Public, UpstashDouble) {
    let upstash = UpstashDouble::start().await;
    let mut config = vec![
        ("UPSTASH_REDIS_REST_URL", upstash.url.as_str()),
        ("UPSTASH_REDIS_REST_TOKEN", upstash.token.as_str()),
    ];
    config.extend_from_slice(extra);
    (setup_with(&config).await, upstash)
}

/// `POST /api/v1/public/sessions` with the key, from the shop's page, as the client at `ip`.
async fn open_from(p: &Public, ip: &str) -> TestResponse {
    p.app
        .send_with(
            Method::POST,
            "/api/v1/public/sessions",
            Some(&p.key),
            Some(json!({})),
            &[("origin", SHOP), ("x-forwarded-for", ip)],
        )
        .await
}

fn refused_by(res: &TestResponse, limit: &str) -> u64 {
    assert_error(res, StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    assert_eq!(res.body["error"]["details"]["limit"], limit, "{}", res.body);
    assert_eq!(
        res.headers["access-control-allow-origin"], SHOP,
        "the page can read why"
    );
    assert_eq!(res.headers["ratelimit-remaining"], "0");
    res.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .expect("Retry-After in seconds")
}

async fn wait(secs: u64) {
    tokio::time::sleep(Duration::from_secs(secs) + Duration::from_millis(200)).await;
}

#[tokio::test]
async fn when_a_visitor_polls_too_fast_the_visitor_budget_refuses_until_its_window_moves_on() {
    let (p, upstash) = on_upstash(&[
        ("PUBLIC_RATE_PER_VISITOR", "3"),
        ("PUBLIC_RATE_WINDOW_SECS", "2"),
    ])
    .await;
    let v = p.visitor().await;
    for _ in 0..3 {
        let ok = v.get(&p.app, "/api/v1/public/conversations").await;
        assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
        assert!(ok.headers.contains_key("ratelimit-remaining"));
    }
    let before = upstash.served();
    let refused = v.get(&p.app, "/api/v1/public/conversations").await;
    let retry = refused_by(&refused, "visitor");
    assert!((1..=2).contains(&retry), "{retry}");
    assert_eq!(
        upstash.served() - before,
        1,
        "one limiter round trip for every limit"
    );
    // Another visitor of the same page is not affected.
    let other = p.visitor().await;
    assert_eq!(
        other
            .get(&p.app, "/api/v1/public/conversations")
            .await
            .status,
        StatusCode::OK
    );
    wait(retry).await;
    let again = v.get(&p.app, "/api/v1/public/conversations").await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.body);
}

#[tokio::test]
async fn when_one_ip_opens_too_many_sessions_the_ip_budget_refuses_and_stores_nothing() {
    let (p, _upstash) = on_upstash(&[
        ("PUBLIC_RATE_PER_IP", "2"),
        ("PUBLIC_RATE_WINDOW_SECS", "2"),
    ])
    .await;
    for _ in 0..2 {
        let res = open_from(&p, "198.51.100.7").await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    }
    let refused = open_from(&p, "198.51.100.7").await;
    let retry = refused_by(&refused, "ip");
    let visitors: i64 = p.app.value("SELECT count(*) FROM visitors", &[]).await;
    assert_eq!(visitors, 2);
    let elsewhere = open_from(&p, "198.51.100.8").await;
    assert_eq!(elsewhere.status, StatusCode::CREATED);
    wait(retry).await;
    let later = open_from(&p, "198.51.100.7").await;
    assert_eq!(later.status, StatusCode::CREATED, "{}", later.body);
}

#[tokio::test]
async fn when_a_key_is_used_from_many_ips_the_key_budget_still_holds() {
    let (p, _upstash) = on_upstash(&[
        ("PUBLIC_RATE_PER_KEY", "3"),
        ("PUBLIC_RATE_WINDOW_SECS", "2"),
    ])
    .await;
    let ips = ["203.0.113.1", "203.0.113.2", "203.0.113.3", "203.0.113.4"];
    let mut answers = Vec::new();
    for ip in ips {
        answers.push(open_from(&p, ip).await);
    }
    assert!(answers[..3].iter().all(|r| r.status == StatusCode::CREATED));
    let retry = refused_by(&answers[3], "key");
    wait(retry).await;
    assert_eq!(
        open_from(&p, "203.0.113.5").await.status,
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn when_a_conversation_reaches_its_cap_the_visitor_is_offered_to_leave_an_email() {
    let (p, _upstash) = on_upstash(&[("PUBLIC_CONVERSATION_WINDOW_SECS", "2")]).await;
    set_widget(
        &p.app,
        &p.ada,
        json!({"budgets": {"messagesPerConversation": 2, "messagesPerVisitorPerDay": 100, "workspaceDailyTokens": 1000000}}),
    )
    .await;
    let v = p.visitor().await;
    let conv = v.say(&p.app, "First", None).await.str("/convId");
    assert_eq!(
        v.say(&p.app, "Second", Some(&conv)).await.status,
        StatusCode::OK
    );
    let calls = p.llm_calls().await;
    let messages: i64 = p.app.value("SELECT count(*) FROM messages", &[]).await;
    let refused = v.say(&p.app, "Third", Some(&conv)).await;
    let retry = refused_by(&refused, "conversation_messages");
    assert_eq!(refused.body["error"]["details"]["offerEmail"], true);
    assert_eq!(
        p.llm_calls().await,
        calls,
        "a refused message asks no model"
    );
    let after: i64 = p.app.value("SELECT count(*) FROM messages", &[]).await;
    assert_eq!(after, messages, "and stores nothing");
    // A new conversation has its own cap.
    assert_eq!(
        v.say(&p.app, "New topic", None).await.status,
        StatusCode::OK
    );
    wait(retry).await;
    assert_eq!(
        v.say(&p.app, "Third, later", Some(&conv)).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn when_a_visitor_sends_their_daily_messages_they_wait_for_the_next_day() {
    let (p, _upstash) = on_upstash(&[("PUBLIC_BUDGET_DAY_SECS", "2")]).await;
    set_widget(
        &p.app,
        &p.ada,
        json!({"budgets": {"messagesPerConversation": 50, "messagesPerVisitorPerDay": 2, "workspaceDailyTokens": 1000000}}),
    )
    .await;
    let v = p.visitor().await;
    assert_eq!(v.say(&p.app, "One", None).await.status, StatusCode::OK);
    assert_eq!(v.say(&p.app, "Two", None).await.status, StatusCode::OK);
    let refused = v.say(&p.app, "Three", None).await;
    let retry = refused_by(&refused, "visitor_daily_messages");
    // Reading is not sending: the conversations still open.
    assert_eq!(
        v.get(&p.app, "/api/v1/public/conversations").await.status,
        StatusCode::OK
    );
    wait(retry).await;
    assert_eq!(
        v.say(&p.app, "Three, tomorrow", None).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn when_the_workspace_spends_its_daily_tokens_every_visitor_waits_for_the_next_day() {
    let (p, _upstash) = on_upstash(&[("PUBLIC_BUDGET_DAY_SECS", "3")]).await;
    // Each answer of the double uses 132 tokens.
    set_widget(
        &p.app,
        &p.ada,
        json!({"budgets": {"messagesPerConversation": 50, "messagesPerVisitorPerDay": 100, "workspaceDailyTokens": 200}}),
    )
    .await;
    let a = p.visitor().await;
    assert_eq!(a.say(&p.app, "One", None).await.status, StatusCode::OK);
    assert_eq!(
        a.say(&p.app, "Two", None).await.status,
        StatusCode::OK,
        "132 < 200 when asked"
    );
    let b = p.visitor().await;
    let refused = b.say(&p.app, "Three", None).await;
    let retry = refused_by(&refused, "workspace_daily_tokens");
    assert_eq!(p.llm_calls().await, 2);
    // The streamed turn counts the same budget.
    let streamed = b
        .post(&p.app, "/api/v1/public/stream", json!({"message": "Four"}))
        .await;
    refused_by(&streamed, "workspace_daily_tokens");
    wait(retry).await;
    assert_eq!(
        b.say(&p.app, "Three, tomorrow", None).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn when_the_limiter_is_down_the_public_budgets_fail_as_configured() {
    let closed = setup_with(&[
        ("UPSTASH_REDIS_REST_URL", "http://127.0.0.1:9"),
        ("UPSTASH_REDIS_REST_TOKEN", "t"),
        ("RATE_LIMIT_API_FAIL_OPEN", "false"),
    ])
    .await;
    let res = open(&closed.app, &closed.key, Some(SHOP), json!({})).await;
    assert_error(&res, StatusCode::SERVICE_UNAVAILABLE, "service_unavailable");
    let open_ = setup_with(&[
        ("UPSTASH_REDIS_REST_URL", "http://127.0.0.1:9"),
        ("UPSTASH_REDIS_REST_TOKEN", "t"),
    ])
    .await;
    let res = open(&open_.app, &open_.key, Some(SHOP), json!({})).await;
    assert_eq!(
        res.status,
        StatusCode::CREATED,
        "fails open by default: {}",
        res.body
    );
}
