//! The LLM: OpenAI's chat completions (or any compatible server) through async-openai, or — locally, with
//! no key — an offline extractive answer quoting the retrieved context, clearly marked as such.

use crate::agent::prompt::ContextChunk;
use crate::agent::{Message, TokenUsage};
use crate::config::KnowledgeConfig;
use async_openai::Client;
use async_openai::config::OpenAIConfig;
use async_openai::types::chat::{CreateChatCompletionRequest, CreateChatCompletionResponse};

#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    pub text: String,
    pub usage: TokenUsage,
}

/// The model did not answer (after its retries, or within the timeout); nothing should be saved. The
/// cause stays attached as the error's source, so the log shows the whole chain.
#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    #[error("the language model failed: the request could not be built")]
    Request(#[source] serde_json::Error),
    #[error("the language model failed: the API call failed")]
    Api(#[source] async_openai::error::OpenAIError),
    #[error("the language model failed: the model returned no text")]
    NoText,
}

pub const OFFLINE_NOTE: &str =
    "(Offline answer: no language model is configured, so this reply quotes the knowledge base.)";

#[derive(Clone)]
pub struct Llm {
    kind: Kind,
    model: String,
    temperature: f32,
}

#[derive(Clone)]
enum Kind {
    OpenAi(Box<Client<OpenAIConfig>>),
    Offline,
}

impl std::fmt::Debug for Llm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.kind {
            Kind::OpenAi(_) => "openai",
            Kind::Offline => "offline",
        };
        f.debug_struct("Llm")
            .field("kind", &kind)
            .field("model", &self.model)
            .finish()
    }
}

impl Llm {
    pub fn from_config(cfg: &KnowledgeConfig) -> anyhow::Result<Self> {
        match &cfg.openai_api_key {
            Some(key) => {
                let client = super::openai::client(cfg, key, cfg.chat_timeout)?;
                Ok(Self {
                    kind: Kind::OpenAi(Box::new(client)),
                    model: cfg.chat_model.clone(),
                    temperature: cfg.chat_temperature,
                })
            }
            None => {
                tracing::warn!(
                    "OPENAI_API_KEY is not set: the agent answers OFFLINE by quoting the knowledge base (local use only)"
                );
                Ok(Self::offline())
            }
        }
    }

    pub fn offline() -> Self {
        Self {
            kind: Kind::Offline,
            model: "offline-extractive".into(),
            temperature: 0.0,
        }
    }

    pub fn model(&self) -> &str {
        &self.model
    }

    /// The chat-completion request for these messages; a streamed one asks for the usage at its end.
    fn request(
        &self,
        messages: &[Message],
        stream: bool,
    ) -> Result<CreateChatCompletionRequest, LlmError> {
        let mut body = serde_json::json!({
            "model": self.model,
            "messages": messages,
            "temperature": self.temperature,
        });
        if stream {
            body["stream"] = true.into();
            body["stream_options"] = serde_json::json!({"include_usage": true});
        }
        serde_json::from_value(body).map_err(LlmError::Request)
    }

    /// Answers the prompt; the offline kind answers from `context` alone, quoting what best matches the
    /// last user message (analysed in `language`).
    pub async fn complete(
        &self,
        messages: &[Message],
        context: &[ContextChunk],
        language: &str,
    ) -> Result<Completion, LlmError> {
        match &self.kind {
            Kind::Offline => Ok(extractive(question(messages), language, context)),
            Kind::OpenAi(client) => {
                let request = self.request(messages, false)?;
                let response: CreateChatCompletionResponse =
                    client.chat().create(request).await.map_err(LlmError::Api)?;
                let text = response
                    .choices
                    .into_iter()
                    .next()
                    .and_then(|c| c.message.content)
                    .filter(|t| !t.trim().is_empty())
                    .ok_or(LlmError::NoText)?;
                let usage = response.usage;
                Ok(Completion {
                    text,
                    usage: TokenUsage {
                        prompt_tokens: usage.as_ref().map_or(0, |u| u.prompt_tokens),
                        completion_tokens: usage.as_ref().map_or(0, |u| u.completion_tokens),
                    },
                })
            }
        }
    }
}

/// The question a prompt asks: its last user message.
fn question(messages: &[Message]) -> &str {
    messages
        .iter()
        .rev()
        .find(|m| m.role == crate::agent::message::MessageRole::User)
        .map_or("", |m| m.content.as_str())
}

/// A piece of a streamed answer: text, and at the end the token usage.
#[derive(Debug, Clone, PartialEq)]
pub enum Piece {
    Text(String),
    Usage(TokenUsage),
}

pub type PieceStream =
    std::pin::Pin<Box<dyn futures::Stream<Item = Result<Piece, LlmError>> + Send>>;

impl Llm {
    /// Streams the answer as it is generated.
    pub async fn stream(
        &self,
        messages: &[Message],
        context: &[ContextChunk],
        language: &str,
    ) -> Result<PieceStream, LlmError> {
        use futures::StreamExt;
        match &self.kind {
            Kind::Offline => {
                let text = extractive(question(messages), language, context).text;
                let words: Vec<Result<Piece, LlmError>> = text
                    .split_inclusive(' ')
                    .map(|w| Ok(Piece::Text(w.to_owned())))
                    .collect();
                Ok(Box::pin(futures::stream::iter(words)))
            }
            Kind::OpenAi(client) => {
                let request = self.request(messages, true)?;
                let stream = client
                    .chat()
                    .create_stream(request)
                    .await
                    .map_err(LlmError::Api)?;
                Ok(Box::pin(stream.flat_map(|chunk| {
                    let pieces: Vec<Result<Piece, LlmError>> = match chunk {
                        Err(e) => vec![Err(LlmError::Api(e))],
                        Ok(c) => {
                            let mut out = Vec::new();
                            if let Some(text) = c
                                .choices
                                .first()
                                .and_then(|ch| ch.delta.content.clone())
                                .filter(|t| !t.is_empty())
                            {
                                out.push(Ok(Piece::Text(text)));
                            }
                            if let Some(u) = c.usage {
                                out.push(Ok(Piece::Usage(TokenUsage {
                                    prompt_tokens: u.prompt_tokens,
                                    completion_tokens: u.completion_tokens,
                                })));
                            }
                            out
                        }
                    };
                    futures::stream::iter(pieces)
                })))
            }
        }
    }
}

/// The offline answer: the sentences of the retrieved chunks that best match the question (BM25 over
/// those sentences, in the workspace's language), quoted with their documents' titles, and a note
/// saying what this is. When no sentence shares a word with the question, the best chunk's opening.
pub fn extractive(question: &str, language: &str, context: &[ContextChunk]) -> Completion {
    let text = if context.is_empty() {
        format!(
            "I couldn't find this in the knowledge base. Would you like me to connect you with a human colleague?\n\n{OFFLINE_NOTE}"
        )
    } else {
        format!(
            "Here is what I found in the knowledge base:\n\n{}\n\n{OFFLINE_NOTE}",
            best_sentences(question, language, context).join("\n\n")
        )
    };
    Completion {
        text,
        usage: TokenUsage::default(),
    }
}

/// Sentences quoted in an offline answer, at most.
const EXTRACTIVE_SENTENCES: usize = 3;

/// The quotes of an offline answer: up to three best-matching sentences, grouped under their chunk's
/// title in the order of the best one of each chunk.
fn best_sentences(question: &str, language: &str, context: &[ContextChunk]) -> Vec<String> {
    let mut all: Vec<(usize, &str)> = Vec::new();
    for (i, chunk) in context.iter().enumerate() {
        all.extend(
            super::bm25::sentences(&chunk.text)
                .into_iter()
                .map(|s| (i, s)),
        );
    }
    let texts: Vec<&str> = all.iter().map(|(_, s)| *s).collect();
    let analyzer = super::bm25::Analyzer::for_language(language);
    let ranked = super::bm25::rank_sentences(&analyzer, question, &texts);
    if ranked.is_empty() {
        let first = &context[0];
        let excerpt: String = first.text.chars().take(400).collect();
        return vec![format!("From \"{}\": {}", first.title, excerpt.trim())];
    }
    let mut picked: Vec<(usize, Vec<&str>)> = Vec::new();
    for &i in ranked.iter().take(EXTRACTIVE_SENTENCES) {
        let (chunk, sentence) = all[i];
        match picked.iter_mut().find(|(c, _)| *c == chunk) {
            Some((_, sentences)) => sentences.push(sentence),
            None => picked.push((chunk, vec![sentence])),
        }
    }
    picked
        .into_iter()
        .map(|(chunk, sentences)| {
            let quoted: String = sentences.join(" ").chars().take(600).collect();
            format!("From \"{}\": {}", context[chunk].title, quoted)
        })
        .collect()
}

impl From<LlmError> for crate::ApiError {
    fn from(e: LlmError) -> Self {
        let mut err = crate::ApiError::new(
            crate::ErrorCode::LlmUnavailable,
            "The assistant could not answer right now; nothing was saved. Retry shortly.",
        )
        .with_header(
            http::header::RETRY_AFTER,
            http::HeaderValue::from_static("5"),
        );
        err.source = Some(e.into());
        err
    }
}
