//! OpenAI doubles (wiremock): embeddings and chat completions, and the adapters pointed at them.

use crate::*;
use serde_json::Value;
use studio::Config;

/// An embedder that talks to an OpenAI-compatible server at `base_url` (a wiremock double).
pub fn openai_embedder(base_url: &str, dimensions: u32) -> studio::knowledge::Embedder {
    let mut src = source("postgres://unused@127.0.0.1/unused");
    src.set("OPENAI_API_KEY", "sk-test");
    src.set("OPENAI_BASE_URL", base_url);
    src.set("EMBEDDING_DIMENSIONS", dimensions.to_string());
    src.set("OPENAI_TIMEOUT_SECONDS", "5");
    let cfg = Config::from_source(&src).expect("config");
    studio::knowledge::Embedder::from_config(&cfg.knowledge).expect("embedder")
}

/// Answers `POST /v1/embeddings` like OpenAI: one vector per input, in order (the offline embedder's
/// vectors, so similar texts are close), and counts the inputs it was sent.
#[derive(Debug, Clone, Default)]
pub struct EmbeddingsDouble {
    pub dimensions: usize,
    pub inputs: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl EmbeddingsDouble {
    pub fn new(dimensions: usize) -> Self {
        Self {
            dimensions,
            inputs: Default::default(),
        }
    }

    /// Every input text the double has been asked to embed, in order.
    pub fn seen(&self) -> Vec<String> {
        self.inputs.lock().expect("lock").clone()
    }
}

impl wiremock::Respond for EmbeddingsDouble {
    fn respond(&self, request: &wiremock::Request) -> wiremock::ResponseTemplate {
        let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
        let inputs: Vec<String> = match &body["input"] {
            Value::String(s) => vec![s.clone()],
            Value::Array(items) => items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
            _ => Vec::new(),
        };
        self.inputs
            .lock()
            .expect("lock")
            .extend(inputs.iter().cloned());
        let data: Vec<Value> = inputs
            .iter()
            .enumerate()
            .map(|(i, text)| {
                serde_json::json!({
                    "object": "embedding",
                    "index": i,
                    "embedding": studio::knowledge::embedder::offline_vector(text, self.dimensions),
                })
            })
            .collect();
        wiremock::ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "object": "list",
            "data": data,
            "model": body["model"],
            "usage": {"prompt_tokens": 1, "total_tokens": 1},
        }))
    }
}

/// An LLM that talks to an OpenAI-compatible server at `base_url` (a wiremock double).
pub fn openai_llm(base_url: &str, timeout_secs: u64) -> studio::knowledge::Llm {
    let mut src = source("postgres://unused@127.0.0.1/unused");
    src.set("OPENAI_API_KEY", "sk-test");
    src.set("OPENAI_BASE_URL", base_url);
    src.set("CHAT_TIMEOUT_SECONDS", timeout_secs.to_string());
    src.set("CHAT_MODEL", "gpt-test");
    let cfg = Config::from_source(&src).expect("config");
    studio::knowledge::Llm::from_config(&cfg.knowledge).expect("llm")
}

/// One server-sent event of OpenAI's streaming chat API: a `delta` (none when null) and, on the last,
/// the `usage`.
pub fn chat_chunk(delta: Value, usage: Option<Value>) -> String {
    let mut c = serde_json::json!({"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-test",
        "choices": if delta.is_null() { serde_json::json!([]) } else { serde_json::json!([{"index": 0, "delta": delta, "finish_reason": null}]) }});
    if let Some(u) = usage {
        c["usage"] = u;
    }
    format!("data: {c}\n\n")
}

/// A chat-completions answer as OpenAI sends it.
pub fn chat_completion(text: &str) -> Value {
    serde_json::json!({
        "id": "chatcmpl-test", "object": "chat.completion", "created": 1_795_577_400u32, "model": "gpt-test",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 120, "completion_tokens": 12, "total_tokens": 132}
    })
}
