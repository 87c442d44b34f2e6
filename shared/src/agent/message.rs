//! A conversation's message as the agent reads it — who wrote it ([`MessageRole`]) and what — and the
//! tokens a turn used ([`TokenUsage`]): one type each, from the prompt through the model to the stored row.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Who wrote a message (`messages.role`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MessageRole {
    /// The instructions the agent is given (only in prompts, never stored by a turn).
    System,
    /// The person asking.
    User,
    /// The agent's answer.
    Assistant,
    /// A member of the team's reply, once a person has the conversation.
    Human,
}

impl MessageRole {
    pub const fn as_str(self) -> &'static str {
        match self {
            MessageRole::System => "system",
            MessageRole::User => "user",
            MessageRole::Assistant => "assistant",
            MessageRole::Human => "human",
        }
    }

    /// The role stored as `name`, if it is one.
    pub fn parse(name: &str) -> Option<Self> {
        [
            MessageRole::System,
            MessageRole::User,
            MessageRole::Assistant,
            MessageRole::Human,
        ]
        .into_iter()
        .find(|r| r.as_str() == name)
    }

    /// Whether a message of this role is part of the conversation the model is shown as history.
    pub const fn is_history(self) -> bool {
        matches!(
            self,
            MessageRole::User | MessageRole::Assistant | MessageRole::Human
        )
    }

    /// The role a message of this role takes in a prompt: a person's reply speaks for the workspace, as
    /// the agent does (the model knows only system, user and assistant).
    pub const fn in_prompt(self) -> Self {
        match self {
            MessageRole::Human => MessageRole::Assistant,
            other => other,
        }
    }
}

impl std::fmt::Display for MessageRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One message of a prompt or of a conversation's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Message {
    pub role: MessageRole,
    pub content: String,
}

impl Message {
    pub fn new(role: MessageRole, content: impl Into<String>) -> Self {
        Self {
            role,
            content: content.into(),
        }
    }
}

/// The tokens one chat turn used (named `TokenUsage` in the API document: `Usage` is the billing view's).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokenUsage {
    pub prompt_tokens: u32,
    pub completion_tokens: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_role_round_trips_through_its_stored_name_and_only_known_names_parse() {
        for role in [
            MessageRole::System,
            MessageRole::User,
            MessageRole::Assistant,
            MessageRole::Human,
        ] {
            assert_eq!(MessageRole::parse(role.as_str()), Some(role));
            assert_eq!(
                serde_json::to_value(role).expect("json"),
                serde_json::json!(role.as_str())
            );
        }
        assert_eq!(MessageRole::parse("person"), None);
        assert!(!MessageRole::System.is_history());
        assert!(MessageRole::User.is_history() && MessageRole::Assistant.is_history());
        // A person's reply is history the model sees as the workspace speaking.
        assert!(MessageRole::Human.is_history());
        assert_eq!(MessageRole::Human.in_prompt(), MessageRole::Assistant);
        assert_eq!(MessageRole::User.in_prompt(), MessageRole::User);
    }
}
