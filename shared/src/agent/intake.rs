//! The intake form a workspace fills in, and the agent configuration it becomes.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use validator::{Validate, ValidationError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Tone {
    #[default]
    Friendly,
    Professional,
    Casual,
    Formal,
}

impl Tone {
    /// How the prompt asks the model to sound.
    pub const fn instruction(self) -> &'static str {
        match self {
            Tone::Friendly => "Be warm and friendly, and keep a positive tone.",
            Tone::Professional => "Be professional, precise and courteous.",
            Tone::Casual => "Be relaxed and conversational, like a helpful colleague.",
            Tone::Formal => "Be formal and polite; avoid slang and contractions.",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Subsystems {
    #[serde(default = "yes")]
    pub customer_service: bool,
    #[serde(default = "yes")]
    pub escalation: bool,
}

fn yes() -> bool {
    true
}

impl Default for Subsystems {
    fn default() -> Self {
        Self {
            customer_service: true,
            escalation: true,
        }
    }
}

fn short_items(items: &[String]) -> Result<(), ValidationError> {
    if items.len() > 20 || items.iter().any(|i| i.trim().is_empty() || i.len() > 200) {
        return Err(ValidationError::new("items")
            .with_message("at most 20 items of 1 to 200 characters".into()));
    }
    items.iter().try_for_each(|i| crate::text::single_line(i))
}

fn language_codes(items: &[String]) -> Result<(), ValidationError> {
    let ok = items.len() <= 20
        && items.iter().all(|l| {
            (2..=12).contains(&l.len()) && l.chars().all(|c| c.is_ascii_alphabetic() || c == '-')
        });
    if ok {
        Ok(())
    } else {
        Err(ValidationError::new("languages")
            .with_message("language codes like en or pt-BR, at most 20".into()))
    }
}

/// The intake form: only `companyName` is required.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Intake {
    #[validate(
        length(min = 1, max = 200, message = "must be 1 to 200 characters"),
        custom(function = "crate::text::single_line")
    )]
    pub company_name: String,
    #[validate(
        length(max = 200, message = "must be at most 200 characters"),
        custom(function = "crate::text::single_line")
    )]
    pub industry: Option<String>,
    #[validate(
        url(message = "must be a URL"),
        length(max = 2048, message = "must be at most 2048 characters")
    )]
    pub website: Option<String>,
    pub tone: Option<Tone>,
    #[validate(
        length(max = 500, message = "must be at most 500 characters"),
        custom(function = "crate::text::free_text")
    )]
    pub business_hours: Option<String>,
    #[validate(custom(function = "language_codes"))]
    pub languages: Option<Vec<String>>,
    #[serde(default, deserialize_with = "crate::text::email::trimmed_option")]
    #[validate(
        email(message = "must be an email address"),
        custom(function = "crate::text::single_line")
    )]
    pub escalation_email: Option<String>,
    #[validate(
        length(max = 1000, message = "must be at most 1000 characters"),
        custom(function = "crate::text::free_text")
    )]
    pub greeting: Option<String>,
    #[validate(custom(function = "short_items"))]
    pub topics_to_avoid: Option<Vec<String>>,
    pub subsystems: Option<Subsystems>,
}

/// What the agent runs with: the intake, normalised, with defaults filled in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AgentConfig {
    pub company_name: String,
    pub industry: Option<String>,
    pub website: Option<String>,
    pub tone: Tone,
    pub business_hours: Option<String>,
    pub languages: Vec<String>,
    pub escalation_email: Option<String>,
    pub greeting: String,
    pub topics_to_avoid: Vec<String>,
    pub subsystems: Subsystems,
}

fn clean(value: &Option<String>) -> Option<String> {
    value
        .as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

impl AgentConfig {
    /// Maps a validated intake into the agent's configuration.
    pub fn from_intake(intake: &Intake) -> Self {
        let company = intake.company_name.trim().to_owned();
        let mut languages: Vec<String> = intake
            .languages
            .clone()
            .unwrap_or_default()
            .iter()
            .map(|l| l.trim().to_owned())
            .collect();
        languages.dedup();
        if languages.is_empty() {
            languages.push("en".into());
        }
        Self {
            greeting: clean(&intake.greeting).unwrap_or_else(|| {
                format!("Hi! I'm the {company} assistant. How can I help you today?")
            }),
            company_name: company,
            industry: clean(&intake.industry),
            website: clean(&intake.website),
            tone: intake.tone.unwrap_or_default(),
            business_hours: clean(&intake.business_hours),
            languages,
            escalation_email: clean(&intake.escalation_email).map(|e| e.to_lowercase()),
            topics_to_avoid: intake
                .topics_to_avoid
                .clone()
                .unwrap_or_default()
                .iter()
                .map(|t| t.trim().to_owned())
                .collect(),
            subsystems: intake.subsystems.unwrap_or_default(),
        }
    }

    /// The configuration of a workspace that has not filled in its intake: its name, defaults elsewhere.
    pub fn default_for(workspace_name: &str) -> Self {
        Self::from_intake(&Intake {
            company_name: workspace_name.to_owned(),
            industry: None,
            website: None,
            tone: None,
            business_hours: None,
            languages: None,
            escalation_email: None,
            greeting: None,
            topics_to_avoid: None,
            subsystems: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn minimal() -> Intake {
        serde_json::from_value(serde_json::json!({"companyName": "  Acme Corp "}))
            .expect("minimal intake")
    }

    #[test]
    fn when_only_the_company_is_given_defaults_fill_the_rest() {
        let cfg = AgentConfig::from_intake(&minimal());
        assert_eq!(cfg.company_name, "Acme Corp");
        assert_eq!(cfg.tone, Tone::Friendly);
        assert_eq!(cfg.languages, vec!["en"]);
        assert!(cfg.greeting.contains("Acme Corp"));
        assert!(cfg.subsystems.escalation && cfg.subsystems.customer_service);
    }

    #[test]
    fn when_the_intake_is_complete_every_field_reaches_the_config() {
        let intake: Intake = serde_json::from_value(serde_json::json!({
            "companyName": "Acme", "industry": "Retail", "website": "https://acme.example", "tone": "formal",
            "businessHours": "Mon-Fri 9-17 CET", "languages": ["en", "de"], "escalationEmail": "Help@Acme.example",
            "greeting": "Welcome to Acme.", "topicsToAvoid": ["pricing of competitors"],
            "subsystems": {"customerService": true, "escalation": false}
        }))
        .expect("full intake");
        intake.validate().expect("valid");
        let cfg = AgentConfig::from_intake(&intake);
        assert_eq!(
            (cfg.tone, cfg.escalation_email.as_deref()),
            (Tone::Formal, Some("help@acme.example"))
        );
        assert_eq!(cfg.languages, vec!["en", "de"]);
        assert!(!cfg.subsystems.escalation);
        assert_eq!(cfg.topics_to_avoid, vec!["pricing of competitors"]);
    }
}
