//! The customer-service agent: RAG prompt, history, sources, failures that write nothing, idempotency,
//! conversations and feedback — with the OpenAI chat API doubled by wiremock.

mod escalation;
mod feedback;

use crate::support::{conversation_view, counts, llm_at};
use http::{Method, StatusCode};
use serde_json::{Value, json};
use studio::Role;
use studio::knowledge::{Embedder, Llm};
use studio::state::KnowledgeState;
use studio_testing::{
    TestApp, TestResponse, TestUser, assert_error, chat_completion, ingest_indexed,
    knowledge_app_with, local_queue,
};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

async fn setup(
    llm: Llm,
    extra: &[(&str, &str)],
) -> (
    TestApp,
    KnowledgeState,
    TestUser,
    tokio::sync::mpsc::UnboundedReceiver<String>,
) {
    let (queue, rx) = local_queue();
    let (app, k) =
        knowledge_app_with(Embedder::offline(), llm, queue, agents_api::routes(), extra).await;
    let user = app.user("Ada").await;
    (app, k, user, rx)
}

async fn ingest(
    app: &TestApp,
    k: &KnowledgeState,
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<String>,
    user: &TestUser,
    title: &str,
    text: &str,
) -> String {
    let res = ingest_indexed(
        app,
        k,
        rx,
        &user.access_token,
        json!([{"title": title, "content": text}]),
    )
    .await;
    res.body["documentIds"][0].as_str().unwrap().to_owned()
}

async fn set_company(app: &TestApp, user: &TestUser, name: &str) {
    app.set_intake(user, json!({"companyName": name})).await;
}

async fn llm_server(reply: &str) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(ResponseTemplate::new(200).set_body_json(chat_completion(reply)))
        .mount(&server)
        .await;
    server
}

async fn sent_prompts(server: &MockServer) -> Vec<Value> {
    server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect()
}

/// The agents routes over an OpenAI double that answers every turn with `reply`, with the `extra`
/// settings, and Ada (with the queue of her ingestions).
async fn answering(
    reply: &str,
    extra: &[(&str, &str)],
) -> (
    MockServer,
    TestApp,
    KnowledgeState,
    TestUser,
    tokio::sync::mpsc::UnboundedReceiver<String>,
) {
    let server = llm_server(reply).await;
    let (app, k, ada, rx) = setup(llm_at(&server, 5), extra).await;
    (server, app, k, ada, rx)
}

async fn run(app: &TestApp, user: &TestUser, body: Value) -> TestResponse {
    app.post(
        "/api/v1/agents/customer-service/run",
        Some(&user.access_token),
        body,
    )
    .await
}

/// A turn saying `message` as `user`, with the idempotency key `key`.
async fn run_keyed(app: &TestApp, user: &TestUser, message: &str, key: &str) -> TestResponse {
    app.send_with(
        Method::POST,
        "/api/v1/agents/customer-service/run",
        Some(&user.access_token),
        Some(json!({"message": message})),
        &[("idempotency-key", key)],
    )
    .await
}

/// `user` rates the answer `message` with `body`.
async fn give_feedback(app: &TestApp, user: &TestUser, message: &str, body: Value) -> TestResponse {
    app.post(
        &format!("/api/v1/agents/messages/{message}/feedback"),
        Some(&user.access_token),
        body,
    )
    .await
}

#[tokio::test]
async fn when_a_customer_asks_the_prompt_carries_company_context_and_history_and_the_turn_is_saved()
{
    let (server, app, k, ada, mut rx) = answering("Refunds take 5 business days.", &[]).await;
    set_company(&app, &ada, "Acme").await;
    let doc = ingest(
        &app,
        &k,
        &mut rx,
        &ada,
        "Refund policy",
        "Refunds are issued within 5 business days.",
    )
    .await;

    let first = run(&app, &ada, json!({"message": "How long do refunds take?"})).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    assert_eq!(first.body["reply"], "Refunds take 5 business days.");
    assert_eq!(first.body["sources"][0]["documentId"], doc.as_str());
    assert_eq!(
        (
            first.body["usage"]["promptTokens"].as_u64(),
            first.body["usage"]["completionTokens"].as_u64()
        ),
        (Some(120), Some(12))
    );
    // Recorded in the workspace's usage: the answer's tokens, and the embeddings of the document's
    // chunks (at ingestion) and of the question.
    assert_eq!(
        app.usage_today(ada.workspace_id, "chat").await,
        (1, 120, 12)
    );
    let (embeddings, embedded_tokens, _) = app.usage_today(ada.workspace_id, "embedding").await;
    assert!(
        embeddings >= 2 && embedded_tokens > 0,
        "{embeddings} {embedded_tokens}"
    );
    let prompt = &sent_prompts(&server).await[0];
    assert_eq!(prompt["model"], "gpt-test");
    assert!((prompt["temperature"].as_f64().unwrap() - 0.7).abs() < 1e-6);
    let system = prompt["messages"][0]["content"].as_str().unwrap();
    assert!(
        system.contains("customer service agent for Acme")
            && system.contains("within 5 business days"),
        "{system}"
    );
    assert_eq!(
        prompt["messages"].as_array().unwrap().last().unwrap()["content"],
        "How long do refunds take?"
    );

    let conv = first.str("/convId");
    let second = run(
        &app,
        &ada,
        json!({"message": "And exchanges?", "convId": conv}),
    )
    .await;
    assert_eq!(second.body["convId"], conv.as_str());
    let prompt = &sent_prompts(&server).await[1];
    let roles: Vec<&str> = prompt["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, vec!["system", "user", "assistant", "user"]);
    assert_eq!(
        prompt["messages"][2]["content"],
        "Refunds take 5 business days."
    );

    let shown = conversation_view(&app, &ada, &conv).await;
    assert_eq!(shown.body["title"], "How long do refunds take?");
    let messages = shown.body["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 4);
    assert_eq!(messages[1]["sources"][0]["title"], "Refund policy");
    assert!(messages[0].get("sources").is_none());
}

#[tokio::test]
async fn when_history_is_over_the_budget_only_the_newest_turns_are_sent() {
    let (server, app, _k, ada, _rx) = answering(
        &"A fairly long answer about shipping options. ".repeat(4),
        &[("CHAT_HISTORY_TOKENS", "120")],
    )
    .await;
    let mut conv: Option<String> = None;
    for i in 0..6 {
        let mut body =
            json!({"message": format!("Question number {i} about shipping to country {i}")});
        if let Some(c) = &conv {
            body["convId"] = json!(c);
        }
        conv = Some(run(&app, &ada, body).await.str("/convId"));
    }
    let last = sent_prompts(&server).await.pop().unwrap();
    let history: Vec<&Value> = last["messages"].as_array().unwrap()[1..].iter().collect();
    // 10 earlier turns exist; the budget keeps only the newest few, in order, ending with the new question.
    assert!(
        history.len() < 11 && history.len() >= 2,
        "{}",
        history.len()
    );
    assert_eq!(
        history.last().unwrap()["content"],
        "Question number 5 about shipping to country 5"
    );
    assert!(
        history
            .iter()
            .all(|m| m["content"] != "Question number 0 about shipping to country 0")
    );
}

#[tokio::test]
async fn when_another_workspace_has_the_same_text_sources_come_only_from_the_callers_workspace() {
    let (server, app, k, ada, mut rx) = answering("Answer.", &[]).await;
    let bob = app.user("Bob").await;
    let mine = ingest(
        &app,
        &k,
        &mut rx,
        &ada,
        "Ada's warranty",
        "The warranty lasts two years.",
    )
    .await;
    let theirs = ingest(
        &app,
        &k,
        &mut rx,
        &bob,
        "Bob's warranty",
        "The warranty lasts two years.",
    )
    .await;
    let res = run(&app, &ada, json!({"message": "How long is the warranty?"})).await;
    let ids: Vec<&str> = res.body["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["documentId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![mine.as_str()]);
    assert!(
        !sent_prompts(&server).await[0]
            .to_string()
            .contains("Bob's warranty")
    );
    assert_ne!(mine, theirs);
}

#[tokio::test]
async fn when_the_llm_fails_or_times_out_the_answer_is_503_and_nothing_is_written() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(ResponseTemplate::new(500).set_body_json(json!({"error": {"message": "boom", "type": "server_error", "param": null, "code": null}})))
        .mount(&server)
        .await;
    let (app, _k, ada, _rx) = setup(llm_at(&server, 5), &[]).await;
    let res = run(&app, &ada, json!({"message": "Hello?"})).await;
    assert_error(&res, StatusCode::SERVICE_UNAVAILABLE, "llm_unavailable");
    assert!(res.headers.contains_key("retry-after"));

    let slow = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(chat_completion("late"))
                .set_delay(std::time::Duration::from_secs(3)),
        )
        .mount(&slow)
        .await;
    let (app2, _k2, bob, _rx2) = setup(llm_at(&slow, 1), &[]).await;
    let res = run(&app2, &bob, json!({"message": "Hello?"})).await;
    assert_eq!(res.code(), "llm_unavailable");
    for app in [&app, &app2] {
        assert_eq!(counts(app).await, (0, 0), "no partial conversation");
    }
}

#[tokio::test]
async fn when_a_turn_is_retried_with_the_same_idempotency_key_the_first_answer_returns_without_a_second_llm_call()
 {
    let (server, app, _k, ada, _rx) = answering("Once.", &[]).await;
    let send = |msg: &'static str| run_keyed(&app, &ada, msg, "turn-1");
    let first = send("Hi").await;
    let again = send("Hi").await;
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(first.body, again.body);
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
    assert_eq!(send("Something else").await.status, StatusCode::CONFLICT);
    assert_eq!(counts(&app).await.1, 2);
    // The record names the member whose turn it is: erasing the account purges it.
    let owner: Option<uuid::Uuid> = app
        .value(
            "SELECT user_id FROM idempotency_keys WHERE key = 'turn-1'",
            &[],
        )
        .await;
    assert_eq!(owner, Some(ada.id));
}

#[tokio::test]
async fn when_two_turns_with_the_same_idempotency_key_race_the_committed_one_wins_and_one_turn_is_saved()
 {
    let (_server, app, _k, ada, _rx) = answering("Once.", &[]).await;
    let send = || run_keyed(&app, &ada, "Hi", "race-1");
    let (a, b) = tokio::join!(send(), send());
    assert_eq!((a.status, b.status), (StatusCode::OK, StatusCode::OK));
    assert_eq!(a.body, b.body, "both answer with the committed turn");
    assert_eq!(counts(&app).await.1, 2);
}

#[tokio::test]
async fn when_no_llm_is_configured_the_offline_answer_quotes_the_knowledge_base_and_says_so() {
    let (app, k, ada, mut rx) = setup(Llm::offline(), &[]).await;
    ingest(
        &app,
        &k,
        &mut rx,
        &ada,
        "Opening hours",
        "We are open 9 to 5, Monday to Friday.",
    )
    .await;
    let res = run(
        &app,
        &ada,
        json!({"message": "When are you open on Monday?"}),
    )
    .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let reply = res.str("/reply");
    assert!(
        reply.contains("9 to 5") && reply.contains("Offline answer"),
        "{reply}"
    );
}

#[tokio::test]
async fn when_the_offline_answer_quotes_it_picks_the_sentences_that_answer_the_question() {
    let (app, k, ada, mut rx) = setup(Llm::offline(), &[]).await;
    // The answer is deep in a long document, after sentences on other topics.
    let long = "Welcome to Acme, the home of fine anvils. Our company was founded in 1902. \
                We ship anvils to every continent. Our catalogue lists forty models. \
                Customers love our service. Refunds are paid to the original card within five business days. \
                Our office dog is called Rex.";
    ingest(&app, &k, &mut rx, &ada, "About Acme", long).await;
    let res = run(
        &app,
        &ada,
        json!({"message": "How many days until my refund is paid?"}),
    )
    .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let reply = res.str("/reply");
    let quoted = reply
        .split("From \"About Acme\": ")
        .nth(1)
        .unwrap_or_else(|| panic!("a quote: {reply}"));
    assert!(
        quoted.starts_with("Refunds are paid to the original card within five business days."),
        "the answering sentence first: {reply}"
    );
    assert!(
        !reply.contains("founded in 1902"),
        "not the document's opening: {reply}"
    );
}

#[tokio::test]
async fn when_roles_and_tenants_differ_viewers_cannot_chat_and_other_workspaces_get_404() {
    let (app, _k, ada, _rx) = setup(Llm::offline(), &[]).await;
    let viewer = app.member("Viewer", &ada, Role::Viewer).await;
    let ws = ada.workspace_id.to_string();
    let denied = app
        .send_with(
            Method::POST,
            "/api/v1/agents/customer-service/run",
            Some(&viewer.access_token),
            Some(json!({"message": "hi"})),
            &[("x-workspace-id", &ws)],
        )
        .await;
    assert_error(&denied, StatusCode::FORBIDDEN, "forbidden");

    let turn = run(&app, &ada, json!({"message": "Hello"})).await;
    let conv = turn.str("/convId");
    let message = turn.str("/messageId");
    let bob = app.user("Bob").await;
    for (m, p, body) in [
        (
            Method::GET,
            format!("/api/v1/agents/conversations/{conv}"),
            None,
        ),
        (
            Method::PATCH,
            format!("/api/v1/agents/conversations/{conv}"),
            Some(json!({"title": "pwned"})),
        ),
        (
            Method::DELETE,
            format!("/api/v1/agents/conversations/{conv}"),
            None,
        ),
        (
            Method::POST,
            format!("/api/v1/agents/messages/{message}/feedback"),
            Some(json!({"rating": "down"})),
        ),
    ] {
        let res = app.send(m.clone(), &p, Some(&bob.access_token), body).await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{m} {p}");
    }
    let cont = run(
        &app,
        &bob,
        json!({"message": "continue theirs", "convId": conv}),
    )
    .await;
    assert_eq!(cont.status, StatusCode::NOT_FOUND);

    let fb = give_feedback(
        &app,
        &ada,
        &message,
        json!({"rating": "up", "comment": "great"}),
    )
    .await;
    assert_eq!(fb.status, StatusCode::NO_CONTENT);
    let bad = give_feedback(&app, &ada, &message, json!({"rating": "meh"})).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    let viewer_fb = app
        .send_with(
            Method::POST,
            &format!("/api/v1/agents/messages/{message}/feedback"),
            Some(&viewer.access_token),
            Some(json!({"rating": "down"})),
            &[("x-workspace-id", &ws)],
        )
        .await;
    assert_eq!(viewer_fb.status, StatusCode::FORBIDDEN);
    let rating: String = app.value("SELECT rating FROM message_feedback", &[]).await;
    assert_eq!(rating, "up");

    let renamed = app
        .patch(
            &format!("/api/v1/agents/conversations/{conv}"),
            Some(&ada.access_token),
            json!({"title": "Greeting"}),
        )
        .await;
    assert_eq!(renamed.body["title"], "Greeting");
    let listed = app
        .get("/api/v1/agents/conversations", Some(&viewer.access_token))
        .await;
    assert_eq!(listed.status, StatusCode::OK);
    let listed = app
        .get("/api/v1/agents/conversations", Some(&ada.access_token))
        .await;
    assert_eq!(listed.body["items"][0]["title"], "Greeting");
    assert_eq!(
        app.delete(
            &format!("/api/v1/agents/conversations/{conv}"),
            Some(&ada.access_token)
        )
        .await
        .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        conversation_view(&app, &ada, &conv).await.status,
        StatusCode::NOT_FOUND
    );
    assert!(
        app.get("/api/v1/agents/conversations", Some(&ada.access_token))
            .await
            .body["items"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}
