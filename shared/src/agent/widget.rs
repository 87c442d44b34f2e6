//! The public widget's settings: what an admin saves (each text bounded and one line, the colour a
//! `#rrggbb` hex, the budgets within bounds), and the defaults a field left out takes — from the
//! workspace's agent configuration (its intake) where it has one.

use super::AgentConfig;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use validator::{Validate, ValidationError};

/// Minutes a visitor waits for a person before being offered to leave an email, by default.
pub const DEFAULT_HUMAN_WAIT_MINUTES: u32 = 10;
/// Days an anonymous visitor's conversations are kept after their last visit, by default.
pub const DEFAULT_ANONYMOUS_RETENTION_DAYS: u32 = 90;

/// What the public side may cost: enforced by the public routes (issue 14's later parts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Budgets {
    /// Visitor messages in one conversation, 1 to 1000 (default 50).
    #[validate(range(min = 1, max = 1000, message = "must be from 1 to 1000"))]
    pub messages_per_conversation: u32,
    /// Messages one visitor may send in a day, 1 to 10000 (default 200).
    #[validate(range(min = 1, max = 10000, message = "must be from 1 to 10000"))]
    pub messages_per_visitor_per_day: u32,
    /// LLM tokens the workspace's public traffic may use in a day, 1000 to 100000000 (default 1000000).
    #[validate(range(
        min = 1000,
        max = 100_000_000,
        message = "must be from 1000 to 100000000"
    ))]
    pub workspace_daily_tokens: u64,
}

impl Default for Budgets {
    fn default() -> Self {
        Self {
            messages_per_conversation: 50,
            messages_per_visitor_per_day: 200,
            workspace_daily_tokens: 1_000_000,
        }
    }
}

/// The widget's settings as an admin saves them (`PUT …/widget`); fields left out take their defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WidgetSettings {
    /// The name the widget shows; default: the company name from the intake (or the workspace's name).
    #[validate(
        length(min = 1, max = 80, message = "must be 1 to 80 characters"),
        custom(function = "crate::text::single_line")
    )]
    pub agent_name: Option<String>,
    /// The first message the widget shows; default: the intake's greeting.
    #[validate(
        length(min = 1, max = 300, message = "must be 1 to 300 characters"),
        custom(function = "crate::text::single_line")
    )]
    pub greeting: Option<String>,
    /// The widget's colour, `#rrggbb`; default: the widget's own.
    #[validate(custom(function = "hex_colour"))]
    pub brand_color: Option<String>,
    /// Refuse anonymous visitors: only end users with a signed identity token may chat.
    pub require_identity: bool,
    /// Hand a conversation to a person when the knowledge base has nothing to answer from.
    pub auto_escalate_without_context: bool,
    /// Minutes a visitor waits for a person before being offered to leave an email, 1 to 1440.
    #[validate(range(min = 1, max = 1440, message = "must be from 1 to 1440"))]
    pub human_wait_minutes: u32,
    /// Message caps and the daily token budget of public traffic; default when left out.
    #[validate(nested)]
    pub budgets: Option<Budgets>,
    /// Days an anonymous visitor (and their conversations) is kept after their last visit, 1 to 3650
    /// (default 90); signed end users are the tenant's to erase.
    #[validate(range(min = 1, max = 3650, message = "must be from 1 to 3650"))]
    pub anonymous_retention_days: Option<u32>,
}

/// `#rrggbb`, six hex digits.
pub fn hex_colour(value: &str) -> Result<(), ValidationError> {
    let ok = value.len() == 7
        && value.starts_with('#')
        && value[1..].bytes().all(|b| b.is_ascii_hexdigit());
    if ok {
        Ok(())
    } else {
        Err(ValidationError::new("colour")
            .with_message("must be a colour as #rrggbb (six hex digits)".into()))
    }
}

/// The settings the widget runs with: every field resolved.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EffectiveWidget {
    pub agent_name: String,
    pub greeting: String,
    /// `#rrggbb`, or null for the widget's own colour.
    pub brand_color: Option<String>,
    pub require_identity: bool,
    pub auto_escalate_without_context: bool,
    pub human_wait_minutes: u32,
    pub budgets: Budgets,
    pub anonymous_retention_days: u32,
}

impl EffectiveWidget {
    /// The saved settings (if any) over the defaults of the agent's configuration.
    pub fn resolve(saved: Option<&WidgetSettings>, agent: &AgentConfig) -> Self {
        let Some(saved) = saved else {
            return Self {
                agent_name: agent.company_name.clone(),
                greeting: agent.greeting.clone(),
                brand_color: None,
                require_identity: false,
                auto_escalate_without_context: agent.subsystems.escalation,
                human_wait_minutes: DEFAULT_HUMAN_WAIT_MINUTES,
                budgets: Budgets::default(),
                anonymous_retention_days: DEFAULT_ANONYMOUS_RETENTION_DAYS,
            };
        };
        Self {
            agent_name: saved
                .agent_name
                .clone()
                .unwrap_or_else(|| agent.company_name.clone()),
            greeting: saved
                .greeting
                .clone()
                .unwrap_or_else(|| agent.greeting.clone()),
            brand_color: saved.brand_color.as_ref().map(|c| c.to_ascii_lowercase()),
            require_identity: saved.require_identity,
            auto_escalate_without_context: saved.auto_escalate_without_context,
            human_wait_minutes: saved.human_wait_minutes,
            budgets: saved.budgets.unwrap_or_default(),
            anonymous_retention_days: saved
                .anonymous_retention_days
                .unwrap_or(DEFAULT_ANONYMOUS_RETENTION_DAYS),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn when_a_colour_is_not_six_hex_digits_it_is_refused() {
        for ok in ["#00ff7A", "#abcdef"] {
            assert!(hex_colour(ok).is_ok(), "{ok}");
        }
        for bad in ["00ff7a", "#0f0", "#00ff7g", "#00ff7a0", "red", "#ééé"] {
            assert!(hex_colour(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn when_nothing_is_saved_the_defaults_follow_the_agent_configuration() {
        let agent = AgentConfig::default_for("Acme");
        let w = EffectiveWidget::resolve(None, &agent);
        assert_eq!(w.agent_name, "Acme");
        assert_eq!(w.greeting, agent.greeting);
        assert!(w.auto_escalate_without_context && !w.require_identity);
        assert_eq!(w.budgets, Budgets::default());
        let saved: WidgetSettings = serde_json::from_value(serde_json::json!({
            "brandColor": "#ABCDEF", "requireIdentity": true, "autoEscalateWithoutContext": false,
            "humanWaitMinutes": 5}))
        .unwrap();
        let w = EffectiveWidget::resolve(Some(&saved), &agent);
        assert_eq!(
            (w.agent_name.as_str(), w.brand_color.as_deref()),
            ("Acme", Some("#abcdef"))
        );
        assert_eq!(w.human_wait_minutes, 5);
    }
}
