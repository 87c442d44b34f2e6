//! What public traffic may cost the tenant, enforced on the server (an `Origin` check stops other
//! sites' pages, not scripts that fake the header): requests per client IP, per publishable key and per
//! visitor; and for a message, the conversation's cap, the visitor's daily messages and the workspace's
//! daily LLM tokens. Every limit of one request is checked in one limiter round trip (one script), and a
//! request one limit refuses counts against none. The caps come from the workspace's widget settings,
//! the windows from configuration.

use crate::agent::widget::Budgets;
use crate::error::{ApiError, ErrorCode};
use crate::ids::WorkspaceId;
use crate::ratelimit::{Decision, Limit};
use crate::state::AppState;
use http::HeaderValue;
use serde_json::json;
use std::time::Duration;
use uuid::Uuid;

/// A budget's name, as a 429's `details.limit` says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Budget {
    Ip,
    Key,
    Visitor,
    ConversationMessages,
    VisitorDailyMessages,
    WorkspaceDailyTokens,
}

impl Budget {
    pub const fn name(self) -> &'static str {
        match self {
            Budget::Ip => "ip",
            Budget::Key => "key",
            Budget::Visitor => "visitor",
            Budget::ConversationMessages => "conversation_messages",
            Budget::VisitorDailyMessages => "visitor_daily_messages",
            Budget::WorkspaceDailyTokens => "workspace_daily_tokens",
        }
    }

    /// What the visitor is told (the widget shows it), and whether to offer leaving an email.
    const fn explained(self) -> (&'static str, bool) {
        match self {
            Budget::Ip | Budget::Key | Budget::Visitor => (
                "Too many requests in a short time: wait a moment and try again.",
                false,
            ),
            Budget::ConversationMessages => (
                "This conversation has reached its message limit: start a new conversation, or leave an email and the team will get back to you.",
                true,
            ),
            Budget::VisitorDailyMessages => (
                "You have sent as many messages as the chat takes in a day: leave an email and the team will get back to you, or come back tomorrow.",
                true,
            ),
            Budget::WorkspaceDailyTokens => (
                "The assistant is not available for the rest of the day: leave an email and the team will get back to you.",
                true,
            ),
        }
    }
}

/// Who is asking: the workspace, its key, the client's IP and the visitor (once there is a session).
#[derive(Debug, Clone, Copy)]
pub struct Asker<'a> {
    pub workspace: WorkspaceId,
    pub key: Uuid,
    pub ip: &'a str,
    pub visitor: Option<Uuid>,
}

/// A message being sent: its conversation (a new one's id chosen beforehand) and the workspace's caps.
#[derive(Debug, Clone, Copy)]
pub struct Message<'a> {
    pub conversation: Uuid,
    pub budgets: &'a Budgets,
}

/// The counter the workspace's public LLM tokens are added to (after each answer) and checked against.
pub fn tokens_key(workspace: WorkspaceId) -> String {
    format!("rl:pub:tokens:{workspace}")
}

/// Where an answer's tokens are counted: the workspace's daily token counter.
#[derive(Debug, Clone)]
pub struct TokenMeter {
    pub key: String,
    pub window: Duration,
}

impl TokenMeter {
    pub fn for_workspace(state: &AppState, workspace: WorkspaceId) -> Self {
        Self {
            key: tokens_key(workspace),
            window: state.config.public.day,
        }
    }

    /// Adds an answer's tokens (after it was saved); a limiter failure is logged, never the visitor's.
    pub async fn add(&self, state: &AppState, tokens: u64) {
        if let Err(e) = state.limiter.add(&self.key, tokens, self.window).await {
            tracing::warn!(
                error = format!("{e:#}"),
                "could not count an answer's tokens against the daily budget"
            );
        }
    }
}

/// Checks (and counts) one public request against every budget it falls under, in one round trip.
/// Answers the tightest decision (for the `RateLimit-*` headers), or `429 rate_limited` naming the
/// budget (`details.limit`) with `Retry-After`. A limiter that cannot be reached fails open or closed
/// as `RATE_LIMIT_API_FAIL_OPEN` says.
pub async fn check(
    state: &AppState,
    who: &Asker<'_>,
    message: Option<&Message<'_>>,
) -> Result<Option<Decision>, ApiError> {
    let cfg = &state.config.public;
    let mut named: Vec<(Budget, Limit)> = vec![
        (
            Budget::Ip,
            Limit::window(format!("rl:pub:ip:{}", who.ip), cfg.per_ip, cfg.rate_window),
        ),
        (
            Budget::Key,
            Limit::window(
                format!("rl:pub:key:{}", who.key),
                cfg.per_key,
                cfg.rate_window,
            ),
        ),
    ];
    if let Some(visitor) = who.visitor {
        named.push((
            Budget::Visitor,
            Limit::window(
                format!("rl:pub:visitor:{visitor}"),
                cfg.per_visitor,
                cfg.rate_window,
            ),
        ));
        if let Some(m) = message {
            named.push((
                Budget::ConversationMessages,
                Limit::window(
                    format!("rl:pub:conv:{}", m.conversation),
                    u64::from(m.budgets.messages_per_conversation),
                    cfg.conversation_window,
                ),
            ));
            named.push((
                Budget::VisitorDailyMessages,
                Limit::window(
                    format!("rl:pub:visitor-day:{visitor}"),
                    u64::from(m.budgets.messages_per_visitor_per_day),
                    cfg.day,
                ),
            ));
            named.push((
                Budget::WorkspaceDailyTokens,
                Limit::counter(
                    tokens_key(who.workspace),
                    m.budgets.workspace_daily_tokens,
                    cfg.day,
                ),
            ));
        }
    }
    let limits: Vec<Limit> = named.iter().map(|(_, l)| l.clone()).collect();
    match state.limiter.check_all(&limits).await {
        Ok((true, decisions)) => Ok(decisions.into_iter().min_by_key(|d| d.remaining)),
        Ok((false, decisions)) => {
            let (budget, decision) = named
                .iter()
                .zip(&decisions)
                .find(|(_, d)| !d.allowed)
                .map(|((b, _), d)| (*b, *d))
                .ok_or_else(|| {
                    ApiError::internal(anyhow::anyhow!("a refusal without a refusing limit"))
                })?;
            // Whole seconds, rounded up: a client that waits Retry-After is admitted.
            let reset = decision.reset.as_secs() + u64::from(decision.reset.subsec_nanos() > 0);
            let retry = reset.max(1);
            let (message, offer_email) = budget.explained();
            tracing::info!(workspace_id = %who.workspace, limit = budget.name(), "public budget reached");
            Err(ApiError::new(ErrorCode::RateLimited, message)
                .with_details(
                    json!({"limit": budget.name(), "retryAfter": retry, "offerEmail": offer_email}),
                )
                .with_header(http::header::RETRY_AFTER, HeaderValue::from(retry))
                .with_header(
                    http::HeaderName::from_static("ratelimit-limit"),
                    HeaderValue::from(decision.limit),
                )
                .with_header(
                    http::HeaderName::from_static("ratelimit-remaining"),
                    HeaderValue::from(0u64),
                )
                .with_header(
                    http::HeaderName::from_static("ratelimit-reset"),
                    HeaderValue::from(reset),
                ))
        }
        Err(e) if state.config.rate_limits.api_fail_open => {
            tracing::warn!(
                error = format!("{e:#}"),
                "rate limiter unreachable; the public budgets fail open"
            );
            Ok(None)
        }
        Err(e) => {
            tracing::error!(
                error = format!("{e:#}"),
                "rate limiter unreachable; the public budgets fail closed"
            );
            Err(ApiError::unavailable("rate limiter", e))
        }
    }
}
