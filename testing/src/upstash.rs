//! Upstash's REST protocol in front of a real Redis.

use axum::Router;
use axum::extract::State;
use http::StatusCode;
use serde_json::Value;
use uuid::Uuid;

/// A small server speaking Upstash's REST protocol (a JSON command array on `POST /`, an array of them on
/// `POST /pipeline`, a bearer token) in front of a real Redis — no package offers one. It counts the HTTP
/// requests it serves, so tests can check that a rate-limit check is one round trip.
#[derive(Debug, Clone)]
pub struct UpstashDouble {
    pub url: String,
    pub token: String,
    pub requests: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

fn redis_to_json(value: redis::Value) -> Value {
    match value {
        redis::Value::Nil => Value::Null,
        redis::Value::Int(i) => Value::from(i),
        redis::Value::BulkString(bytes) => {
            Value::String(String::from_utf8_lossy(&bytes).into_owned())
        }
        redis::Value::SimpleString(s) => Value::String(s),
        redis::Value::Okay => Value::String("OK".into()),
        redis::Value::Array(items) | redis::Value::Set(items) => {
            Value::Array(items.into_iter().map(redis_to_json).collect())
        }
        redis::Value::Double(d) => Value::from(d),
        redis::Value::Boolean(b) => Value::Bool(b),
        other => Value::String(format!("{other:?}")),
    }
}

async fn upstash_command(conn: &mut redis::aio::MultiplexedConnection, command: &Value) -> Value {
    let Some(parts) = command.as_array().filter(|p| !p.is_empty()) else {
        return serde_json::json!({"error": "ERR a command is a non-empty JSON array"});
    };
    let args: Vec<String> = parts
        .iter()
        .map(|p| p.as_str().map_or_else(|| p.to_string(), str::to_owned))
        .collect();
    let mut cmd = redis::cmd(&args[0]);
    for a in &args[1..] {
        cmd.arg(a);
    }
    match cmd.query_async::<redis::Value>(conn).await {
        Ok(v) => serde_json::json!({"result": redis_to_json(v)}),
        Err(e) => serde_json::json!({"error": e.to_string()}),
    }
}

/// What the double's handlers share: the Redis connection, the token a request must carry, and the count
/// of requests served.
#[derive(Clone)]
struct Served {
    conn: redis::aio::MultiplexedConnection,
    token: String,
    requests: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

type Answer = (StatusCode, axum::Json<Value>);

impl Served {
    /// Counts the request; a connection to serve it with if it carries the token, else the 401 to send.
    fn admit(
        &self,
        headers: &http::HeaderMap,
    ) -> Result<redis::aio::MultiplexedConnection, Answer> {
        self.requests
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let expected = format!("Bearer {}", self.token);
        if headers.get("authorization").and_then(|v| v.to_str().ok()) == Some(expected.as_str()) {
            Ok(self.conn.clone())
        } else {
            Err((
                StatusCode::UNAUTHORIZED,
                axum::Json(serde_json::json!({"error": "Unauthorized"})),
            ))
        }
    }
}

/// `POST /`: one command.
async fn single(
    State(served): State<Served>,
    headers: http::HeaderMap,
    axum::Json(command): axum::Json<Value>,
) -> Answer {
    let mut conn = match served.admit(&headers) {
        Ok(conn) => conn,
        Err(refused) => return refused,
    };
    let out = upstash_command(&mut conn, &command).await;
    let status = if out.get("error").is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    (status, axum::Json(out))
}

/// `POST /pipeline`: commands in order, an answer each.
async fn pipeline(
    State(served): State<Served>,
    headers: http::HeaderMap,
    axum::Json(commands): axum::Json<Vec<Value>>,
) -> Answer {
    let mut conn = match served.admit(&headers) {
        Ok(conn) => conn,
        Err(refused) => return refused,
    };
    let mut out = Vec::new();
    for c in &commands {
        out.push(upstash_command(&mut conn, c).await);
    }
    (StatusCode::OK, axum::Json(Value::Array(out)))
}

impl UpstashDouble {
    /// Serves on a free loopback port in front of `redis_url` (`TEST_REDIS_URL`, default the local Redis).
    pub async fn start() -> Self {
        use axum::routing::post;
        let redis_url =
            std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
        let client = redis::Client::open(redis_url.as_str()).expect("redis url");
        let conn = client
            .get_multiplexed_async_connection()
            .await
            .unwrap_or_else(|e| {
                panic!("cannot reach Redis at {redis_url}: {e}. Run the tests with scripts/test.sh")
            });
        let token = format!("upstash-test-{}", Uuid::new_v4().simple());
        let requests = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let served = Served {
            conn,
            token: token.clone(),
            requests: requests.clone(),
        };
        let app = Router::new()
            .route("/", post(single))
            .route("/pipeline", post(pipeline))
            .with_state(served);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            url,
            token,
            requests,
        }
    }

    pub fn served(&self) -> usize {
        self.requests.load(std::sync::atomic::Ordering::SeqCst)
    }
}
