//! The streamed turn: `sources`, then `delta`s, then `done` — or `error` with nothing saved — against the
//! OpenAI streaming chat API doubled by wiremock.

use crate::support::{conversation_view, counts, llm_at};
use http::StatusCode;
use serde_json::{Value, json};
use studio::Role;
use studio::knowledge::{Embedder, Llm};
use studio_testing::{
    TestApp, TestResponse, TestUser, assert_error, chat_chunk, knowledge_app_with, local_queue,
};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

async fn llm(body: String, status: u16) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(
            ResponseTemplate::new(status)
                .insert_header("content-type", "text/event-stream")
                .set_body_string(body),
        )
        .mount(&server)
        .await;
    server
}

async fn setup(llm: Llm) -> (TestApp, TestUser) {
    let (queue, _rx) = local_queue();
    let routes = agents_api::routes().merge(agents_api::stream_routes());
    let (app, _k) = knowledge_app_with(Embedder::offline(), llm, queue, routes, &[]).await;
    let user = app.user("Ada").await;
    (app, user)
}

/// The streaming routes over an OpenAI double that answers every turn with `status` and the SSE `body`,
/// and Ada.
async fn streaming(body: String, status: u16) -> (MockServer, TestApp, TestUser) {
    let server = llm(body, status).await;
    let (app, ada) = setup(llm_at(&server, 5)).await;
    (server, app, ada)
}

/// A streamed turn: `POST /api/v1/agents/customer-service/stream` with `body`, as `user`.
async fn stream(app: &TestApp, user: &TestUser, body: Value) -> TestResponse {
    app.post(
        "/api/v1/agents/customer-service/stream",
        Some(&user.access_token),
        body,
    )
    .await
}

#[tokio::test]
async fn when_a_turn_streams_sources_come_first_then_deltas_then_done_and_the_turn_is_saved() {
    let body = [
        chat_chunk(json!({"role": "assistant", "content": "Refunds "}), None),
        chat_chunk(json!({"content": "take 5 days."}), None),
        chat_chunk(
            Value::Null,
            Some(json!({"prompt_tokens": 50, "completion_tokens": 5, "total_tokens": 55})),
        ),
        "data: [DONE]\n\n".to_owned(),
    ]
    .concat();
    let (server, app, ada) = streaming(body, 200).await;
    let res = stream(&app, &ada, json!({"message": "Refunds?"})).await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(
        res.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let evs = res.sse_events();
    let names: Vec<&str> = evs.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        vec!["sources", "delta", "delta", "done"],
        "{:?}",
        res.body
    );
    assert!(evs[0].1.is_array());
    assert_eq!(evs[1].1["text"], "Refunds ");
    let done = &evs[3].1;
    assert_eq!(
        (
            done["usage"]["promptTokens"].as_u64(),
            done["usage"]["completionTokens"].as_u64()
        ),
        (Some(50), Some(5))
    );
    // The streamed answer's tokens (the final chunk's usage) are in the workspace's usage.
    assert_eq!(app.usage_today(ada.workspace_id, "chat").await, (1, 50, 5));
    let conv = done["convId"].as_str().unwrap();
    let saved = conversation_view(&app, &ada, conv).await;
    assert_eq!(saved.body["messages"][1]["content"], "Refunds take 5 days.");
    assert_eq!(saved.body["messages"][1]["id"], done["messageId"]);
    let sent: Value =
        serde_json::from_slice(&server.received_requests().await.unwrap()[0].body).unwrap();
    assert_eq!(sent["stream"], true);
}

#[tokio::test]
async fn when_the_model_fails_before_or_during_the_stream_an_error_event_ends_it_and_nothing_is_saved()
 {
    let (_server, app, ada) = streaming("{\"error\": {\"message\": \"down\", \"type\": \"server_error\", \"param\": null, \"code\": null}}".into(), 500).await;
    let res = stream(&app, &ada, json!({"message": "Hi"})).await;
    let evs = res.sse_events();
    assert_eq!(
        evs.first().map(|(n, _)| n.as_str()),
        Some("sources"),
        "{:?}",
        res.body
    );
    let (last, data) = evs.last().unwrap();
    assert_eq!(
        (last.as_str(), data["code"].as_str()),
        ("error", Some("llm_unavailable"))
    );
    assert_eq!(counts(&app).await, (0, 0));

    let broken = [
        chat_chunk(json!({"content": "Half an ans"}), None),
        "data: {\"choices\": [{\"delta\": \n\n".to_owned(),
    ]
    .concat();
    let (_server, app, ada) = streaming(broken, 200).await;
    let res = stream(&app, &ada, json!({"message": "Hi"})).await;
    let names: Vec<String> = res.sse_events().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names.first().map(String::as_str), Some("sources"));
    assert_eq!(names.last().map(String::as_str), Some("error"), "{names:?}");
    assert!(!names.contains(&"done".to_owned()));
    assert_eq!(counts(&app).await, (0, 0), "a half answer is never saved");
}

#[tokio::test]
async fn when_the_stream_is_asked_with_bad_input_a_wrong_role_or_another_tenants_conversation_it_is_a_plain_http_error()
 {
    let (app, ada) = setup(Llm::offline()).await;
    let viewer = app.member("Viewer", &ada, Role::Viewer).await;
    let ws = ada.workspace_id.to_string();
    let denied = app
        .send_with(
            http::Method::POST,
            "/api/v1/agents/customer-service/stream",
            Some(&viewer.access_token),
            Some(json!({"message": "hi"})),
            &[("x-workspace-id", &ws)],
        )
        .await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);
    assert_eq!(
        stream(&app, &ada, json!({"message": ""})).await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        app.post(
            "/api/v1/agents/customer-service/stream",
            None,
            json!({"message": "hi"})
        )
        .await
        .status,
        StatusCode::UNAUTHORIZED
    );
    let missing = stream(
        &app,
        &ada,
        json!({"message": "hi", "convId": uuid::Uuid::new_v4()}),
    )
    .await;
    assert_error(&missing, StatusCode::NOT_FOUND, "not_found");
    // Offline, the stream still works end to end.
    let ok = stream(&app, &ada, json!({"message": "hi"})).await;
    let names: Vec<String> = ok.sse_events().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names.first().map(String::as_str), Some("sources"));
    assert_eq!(names.last().map(String::as_str), Some("done"));
}

#[tokio::test]
async fn when_the_turn_cannot_be_saved_the_error_event_carries_the_request_id_and_the_cause_is_logged()
 {
    let (app, ada) = setup(Llm::offline()).await;
    // The database refuses the save, as it would a value it cannot store.
    app.sql()
        .await
        .batch_execute(
            "CREATE FUNCTION refuse_message() RETURNS trigger LANGUAGE plpgsql AS
               $$ BEGIN RAISE EXCEPTION 'disk quota exceeded for messages'; END $$;
             CREATE TRIGGER refuse_message BEFORE INSERT ON messages
               FOR EACH ROW EXECUTE FUNCTION refuse_message();",
        )
        .await
        .unwrap();
    let (logs, _guard) = studio_testing::capture_logs();
    let res = app
        .send_with(
            http::Method::POST,
            "/api/v1/agents/customer-service/stream",
            Some(&ada.access_token),
            Some(json!({"message": "hi"})),
            &[("x-request-id", "req-stream-save-1")],
        )
        .await;
    let evs = res.sse_events();
    let (last, data) = evs.last().unwrap();
    assert_eq!(last, "error", "{:?}", res.body);
    assert_eq!(data["code"], "internal");
    assert_eq!(data["requestId"], "req-stream-save-1");
    assert!(
        !data["message"].as_str().unwrap().contains("disk quota"),
        "the cause stays in the log"
    );
    let errors = logs.errors();
    let logged = errors
        .iter()
        .find(|e| e["fields"]["request_id"] == "req-stream-save-1")
        .unwrap_or_else(|| panic!("no error logged with the request id: {errors:?}"));
    assert!(
        logged["fields"]["error"]
            .as_str()
            .unwrap_or_default()
            .contains("disk quota exceeded for messages"),
        "the cause chain is logged: {logged}"
    );
    assert_eq!(counts(&app).await, (0, 0), "nothing half-saved");
}

#[tokio::test]
async fn when_the_workspace_turned_the_agent_off_run_and_stream_answer_agent_disabled() {
    let (app, ada) = setup(Llm::offline()).await;
    app.set_intake(
        &ada,
        json!({"companyName": "Acme", "subsystems": {"customerService": false, "escalation": true}}),
    )
    .await;
    for route in [
        "/api/v1/agents/customer-service/stream",
        "/api/v1/agents/customer-service/run",
    ] {
        let res = app
            .post(route, Some(&ada.access_token), json!({"message": "hi"}))
            .await;
        assert_eq!(
            (res.status, res.code()),
            (StatusCode::FORBIDDEN, "agent_disabled"),
            "{route}: {:?}",
            res.body
        );
        assert!(
            res.body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("subsystems.customerService")
        );
    }
    assert_eq!(counts(&app).await, (0, 0));
    // Turned back on, the agent answers again.
    app.set_intake(
        &ada,
        json!({"companyName": "Acme", "subsystems": {"customerService": true, "escalation": true}}),
    )
    .await;
    let res = app
        .post(
            "/api/v1/agents/customer-service/run",
            Some(&ada.access_token),
            json!({"message": "hi"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{:?}", res.body);
}
