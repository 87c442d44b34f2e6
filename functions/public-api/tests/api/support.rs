//! What the public tests set up: a workspace with a publishable key for the shop's origin, its agent
//! over an OpenAI double that records every call, the member routes beside the public ones (to prove
//! each credential opens only its own side), and visitors opening sessions.

use http::Method;
use serde_json::{Value, json};
use studio::knowledge::Embedder;
use studio::state::KnowledgeState;
use studio_testing::{
    TestApp, TestResponse, TestUser, chat_chunk, chat_completion, knowledge_app_with, local_queue,
    openai_llm, publishable_key,
};
use uuid::Uuid;
use wiremock::matchers::{body_partial_json, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// The tenant's site, on the key's list.
pub const SHOP: &str = "https://shop.example.com";
/// What the OpenAI double answers.
pub const ANSWER: &str = "Refunds take five days.";

/// `k` first: fields drop in order, and the vector store must flush before the app removes its directory.
pub struct Public {
    pub _k: KnowledgeState,
    pub app: TestApp,
    /// The workspace's owner.
    pub ada: TestUser,
    pub key_id: Uuid,
    /// A publishable key allowing [`SHOP`] and `https://*.example.org`.
    pub key: String,
    pub llm: MockServer,
}

/// The OpenAI chat API doubled: a streamed answer when asked to stream, else [`ANSWER`] at once.
async fn llm_double() -> MockServer {
    let server = MockServer::start().await;
    let streamed = [
        chat_chunk(
            json!({"role": "assistant", "content": "Refunds take "}),
            None,
        ),
        chat_chunk(json!({"content": "five days."}), None),
        chat_chunk(
            Value::Null,
            Some(json!({"prompt_tokens": 90, "completion_tokens": 6, "total_tokens": 96})),
        ),
        "data: [DONE]\n\n".to_owned(),
    ]
    .concat();
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .and(body_partial_json(json!({"stream": true})))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "text/event-stream")
                .set_body_string(streamed),
        )
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(ResponseTemplate::new(200).set_body_json(chat_completion(ANSWER)))
        .with_priority(2)
        .mount(&server)
        .await;
    server
}

/// The public routes (and the member agents routes) over a fresh database; Ada's workspace has an intake
/// with an escalation contact, a publishable key, and widget settings that do not hand a question with
/// no knowledge-base context to a person (so that the agent answers here; that hand-over has its own
/// test).
pub async fn setup() -> Public {
    setup_with(&[]).await
}

/// [`setup`] with extra configuration values.
pub async fn setup_with(extra: &[(&str, &str)]) -> Public {
    let llm = llm_double().await;
    let routes = public_api::routes()
        .merge(public_api::stream_routes())
        .merge(agents_api::routes());
    let (app, k) = knowledge_app_with(
        Embedder::offline(),
        openai_llm(&format!("{}/v1", llm.uri()), 5),
        local_queue().0,
        routes,
        extra,
    )
    .await;
    let ada = app.user("Ada").await;
    app.set_intake(
        &ada,
        json!({"companyName": "Acme", "escalationEmail": "help@acme.test", "greeting": "Hi! How can we help?"}),
    )
    .await;
    set_widget(&app, &ada, json!({"autoEscalateWithoutContext": false})).await;
    let (key_id, key) = publishable_key(&app, &ada, &[SHOP, "https://*.example.org"]).await;
    Public {
        _k: k,
        app,
        ada,
        key_id,
        key,
        llm,
    }
}

/// Saves widget settings for `owner`'s workspace (fields left out at their defaults).
pub async fn set_widget(app: &TestApp, owner: &TestUser, settings: Value) {
    let mut full = json!({"requireIdentity": false, "autoEscalateWithoutContext": false, "humanWaitMinutes": 10});
    for (k, v) in settings.as_object().expect("an object") {
        full[k] = v.clone();
    }
    studio::repo::widget_settings::upsert(
        &app.sql().await,
        studio::WorkspaceId::from_trusted_source(owner.workspace_id),
        &full,
        owner.id,
    )
    .await
    .expect("save the widget settings");
}

/// A request to a public route with a bearer token and an `Origin` (none when `origin` is `None`).
pub async fn call(
    app: &TestApp,
    method: Method,
    path: &str,
    token: Option<&str>,
    origin: Option<&str>,
    body: Option<Value>,
) -> TestResponse {
    let headers: Vec<(&str, &str)> = origin.map(|o| ("origin", o)).into_iter().collect();
    app.send_with(method, path, token, body, &headers).await
}

/// `POST /api/v1/public/sessions` with `key` from `origin`.
pub async fn open(app: &TestApp, key: &str, origin: Option<&str>, body: Value) -> TestResponse {
    call(
        app,
        Method::POST,
        "/api/v1/public/sessions",
        Some(key),
        origin,
        Some(body),
    )
    .await
}

/// A visitor with an open session from [`SHOP`].
#[derive(Debug, Clone)]
pub struct Visitor {
    pub session: String,
    pub id: String,
    pub token: Option<String>,
}

impl Visitor {
    pub fn from(res: &TestResponse) -> Self {
        assert_eq!(res.status, http::StatusCode::CREATED, "{}", res.body);
        Self {
            session: res.str("/sessionToken"),
            id: res.str("/visitorId"),
            token: res.body["visitorToken"].as_str().map(str::to_owned),
        }
    }

    /// A request as this visitor, from [`SHOP`].
    pub async fn send(
        &self,
        app: &TestApp,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> TestResponse {
        call(app, method, path, Some(&self.session), Some(SHOP), body).await
    }

    pub async fn get(&self, app: &TestApp, path: &str) -> TestResponse {
        self.send(app, Method::GET, path, None).await
    }

    pub async fn post(&self, app: &TestApp, path: &str, body: Value) -> TestResponse {
        self.send(app, Method::POST, path, Some(body)).await
    }

    /// `POST /api/v1/public/messages`.
    pub async fn say(&self, app: &TestApp, message: &str, conv: Option<&str>) -> TestResponse {
        let mut body = json!({"message": message});
        if let Some(conv) = conv {
            body["convId"] = json!(conv);
        }
        self.post(app, "/api/v1/public/messages", body).await
    }
}

impl Public {
    /// A new anonymous visitor from [`SHOP`].
    pub async fn visitor(&self) -> Visitor {
        Visitor::from(&open(&self.app, &self.key, Some(SHOP), json!({})).await)
    }

    /// The end user `sub`, signed with `secret` for ten minutes, with an open session from [`SHOP`].
    pub async fn signed_in(&self, secret: &str, sub: &str) -> Visitor {
        let token = identity_token(secret, sub, 0, 600);
        Visitor::from(
            &open(
                &self.app,
                &self.key,
                Some(SHOP),
                json!({"identityToken": token}),
            )
            .await,
        )
    }

    /// How many times the agent's model was called.
    pub async fn llm_calls(&self) -> usize {
        self.llm.received_requests().await.map_or(0, |r| r.len())
    }
}

/// An identity token for `sub`, signed with `secret`, issued `iat_ago` seconds ago and living `lifetime`
/// seconds.
pub fn identity_token(secret: &str, sub: &str, iat_ago: i64, lifetime: i64) -> String {
    let now = chrono::Utc::now().timestamp();
    let iat = now - iat_ago;
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &json!({"sub": sub, "email": format!("{sub}@customers.test"), "iat": iat, "exp": iat + lifetime}),
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("sign")
}

/// Gives `owner`'s workspace an identity secret; returns it.
pub async fn identity_secret(app: &TestApp, owner: &TestUser) -> String {
    let secret = format!("ids_ws_{}", Uuid::new_v4().simple());
    studio::repo::identity_secrets::rotate(
        &app.sql().await,
        studio::WorkspaceId::from_trusted_source(owner.workspace_id),
        &secret,
        owner.id,
        0.0,
    )
    .await
    .expect("store the secret");
    secret
}
