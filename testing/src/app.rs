//! The app called in-process, as a client sees it: requests, answers, registered users.

use crate::*;
use axum::Router;
use axum::body::Body;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value;
use studio::AppState;
use tokio_postgres::types::{FromSql, ToSql};
use tower::ServiceExt;
use uuid::Uuid;

/// What a client saw.
#[derive(Debug)]
pub struct TestResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl TestResponse {
    /// The error code of an error body.
    pub fn code(&self) -> &str {
        self.body["error"]["code"]
            .as_str()
            .unwrap_or("<no error code>")
    }

    /// The `items` of a page.
    pub fn items(&self) -> &[Value] {
        self.body["items"]
            .as_array()
            .unwrap_or_else(|| panic!("no items in {}", self.body))
    }

    /// The fields a `400 validation_failed` answer names, in its order (panics on any other answer).
    pub fn invalid_fields(&self) -> Vec<String> {
        crate::assert_error(self, StatusCode::BAD_REQUEST, "validation_failed");
        self.body["error"]["details"]
            .as_array()
            .unwrap_or_else(|| panic!("no details in {}", self.body))
            .iter()
            .map(|d| d["field"].as_str().unwrap_or("<no field>").to_owned())
            .collect()
    }

    /// The (event, data) pairs of a server-sent-events body.
    pub fn sse_events(&self) -> Vec<(String, Value)> {
        self.body
            .as_str()
            .unwrap_or_default()
            .split("\n\n")
            .filter_map(|block| {
                let mut name = None;
                let mut data = None;
                for line in block.lines() {
                    if let Some(n) = line.strip_prefix("event: ") {
                        name = Some(n.to_owned());
                    } else if let Some(d) = line.strip_prefix("data: ") {
                        data = serde_json::from_str(d).ok();
                    }
                }
                Some((name?, data?))
            })
            .collect()
    }

    pub fn str(&self, pointer: &str) -> String {
        self.body
            .pointer(pointer)
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("{pointer} missing in {}", self.body))
            .to_owned()
    }
}

/// The app, served in-process, with its own database.
#[derive(Debug, Clone)]
pub struct TestApp {
    pub router: Router,
    pub state: AppState,
    pub db_url: String,
    /// Directories (e.g. the embedded vector store's) that live as long as the app.
    keep: Vec<std::sync::Arc<TempDir>>,
}

/// The password every user [`TestApp::user`] registers has.
pub const TEST_PASSWORD: &str = "correct horse battery";

/// A registered user with a workspace of their own.
#[derive(Debug, Clone)]
pub struct TestUser {
    pub id: Uuid,
    pub email: String,
    pub workspace_id: Uuid,
    pub access_token: String,
    pub refresh_token: String,
}

impl TestApp {
    pub async fn new(routes: Router<AppState>) -> Self {
        let db = TestDb::new().await;
        Self::with_state(routes, state(&db.url), db.url)
    }

    pub fn with_state(routes: Router<AppState>, state: AppState, db_url: String) -> Self {
        Self {
            router: studio::http::app(routes, state.clone()),
            state,
            db_url,
            keep: Vec::new(),
        }
    }

    /// A router over another state (e.g. the knowledge state), with the core state for helpers.
    pub fn with_router(router: Router, state: AppState, db_url: String) -> Self {
        Self {
            router,
            state,
            db_url,
            keep: Vec::new(),
        }
    }

    /// Keeps `dir` until the app (and every clone of it) is dropped.
    pub fn keeping(mut self, dir: TempDir) -> Self {
        self.keep.push(std::sync::Arc::new(dir));
        self
    }

    pub async fn call(&self, request: Request<Body>) -> TestResponse {
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("infallible router");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        TestResponse {
            status,
            headers,
            body,
        }
    }

    pub async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> TestResponse {
        self.send_with(method, path, token, body, &[]).await
    }

    pub async fn send_with(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> TestResponse {
        let mut builder = Request::builder().method(method).uri(path);
        if let Some(token) = token {
            builder = builder.header("authorization", format!("Bearer {token}"));
        }
        for (k, v) in headers {
            builder = builder.header(*k, *v);
        }
        let request = match body {
            Some(json) => builder
                .header("content-type", "application/json")
                .body(Body::from(json.to_string())),
            None => builder.body(Body::empty()),
        };
        self.call(request.expect("request")).await
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> TestResponse {
        self.send(Method::GET, path, token, None).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> TestResponse {
        self.send(Method::POST, path, token, Some(body)).await
    }

    pub async fn patch(&self, path: &str, token: Option<&str>, body: Value) -> TestResponse {
        self.send(Method::PATCH, path, token, Some(body)).await
    }

    pub async fn delete(&self, path: &str, token: Option<&str>) -> TestResponse {
        self.send(Method::DELETE, path, token, None).await
    }

    /// Registers a user through the auth service (any route group's tests can use it).
    pub async fn user(&self, name: &str) -> TestUser {
        let email = format!(
            "{}-{}@example.com",
            name.to_lowercase(),
            Uuid::new_v4().simple()
        );
        let out = studio::services::auth::register(
            &self.state,
            &email,
            TEST_PASSWORD.to_owned().into(),
            name,
            None,
        )
        .await
        .expect("register");
        TestUser {
            id: out.user.id,
            email,
            workspace_id: out.workspace.id,
            access_token: out.tokens.access_token,
            refresh_token: out.tokens.refresh_token,
        }
    }

    /// Adds `user` to `workspace` with `role`, directly in the database (invitations come later).
    pub async fn add_member(&self, workspace: Uuid, user: Uuid, role: studio::Role) {
        let client = admin_client(&self.db_url).await;
        let workspace = studio::WorkspaceId::from_trusted_source(workspace);
        studio::repo::members::insert(&client, workspace, user, role)
            .await
            .expect("add member");
    }

    /// Registers `name` (a workspace of their own included) and adds them to `owner`'s workspace with
    /// `role`.
    pub async fn member(&self, name: &str, owner: &TestUser, role: studio::Role) -> TestUser {
        let user = self.user(name).await;
        self.add_member(owner.workspace_id, user.id, role).await;
        user
    }

    /// Saves `intake` as the user's workspace's intake (and the agent configuration mapped from it).
    pub async fn set_intake(&self, user: &TestUser, intake: Value) {
        let parsed: studio::agent::Intake =
            serde_json::from_value(intake.clone()).expect("an intake");
        let config = serde_json::to_value(studio::agent::AgentConfig::from_intake(&parsed))
            .expect("config json");
        studio::repo::intakes::upsert(
            &admin_client(&self.db_url).await,
            studio::WorkspaceId::from_trusted_source(user.workspace_id),
            &intake,
            &config,
            user.id,
        )
        .await
        .expect("save the intake");
    }

    pub async fn sql(&self) -> tokio_postgres::Client {
        admin_client(&self.db_url).await
    }

    /// Runs `statement` directly in the database (arranging rows behind the app's back); the rows it
    /// changed.
    pub async fn execute(&self, statement: &str, params: &[&(dyn ToSql + Sync)]) -> u64 {
        self.sql()
            .await
            .execute(statement, params)
            .await
            .unwrap_or_else(|e| panic!("{statement}: {e}"))
    }

    /// The workspace's recorded usage of `kind` (`chat` or `embedding`) today, over every model:
    /// (calls, prompt tokens, completion tokens).
    pub async fn usage_today(&self, workspace: Uuid, kind: &str) -> (i64, i64, i64) {
        let row = self
            .sql()
            .await
            .query_one(
                "SELECT COALESCE(sum(calls), 0)::bigint, COALESCE(sum(prompt_tokens), 0)::bigint,
                        COALESCE(sum(completion_tokens), 0)::bigint
                   FROM usage_daily
                  WHERE workspace_id = $1 AND kind = $2 AND day = (now() AT TIME ZONE 'UTC')::date",
                &[&workspace, &kind],
            )
            .await
            .expect("usage");
        (row.get(0), row.get(1), row.get(2))
    }

    /// The one value `query` selects (a count, a column of one row), read directly from the database.
    pub async fn value<T: for<'a> FromSql<'a>>(
        &self,
        query: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> T {
        self.sql()
            .await
            .query_one(query, params)
            .await
            .unwrap_or_else(|e| panic!("{query}: {e}"))
            .get(0)
    }
}
