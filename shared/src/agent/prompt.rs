//! The prompt the old system used: "a helpful customer service agent for {companyName}", the knowledge-base
//! context, the instructions, and the conversation history trimmed to a token budget (newest turns kept).

use super::AgentConfig;
use super::message::Message;

/// A retrieved chunk as the prompt shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct ContextChunk {
    pub title: String,
    pub text: String,
}

pub fn system_prompt(cfg: &AgentConfig, context: &[ContextChunk]) -> String {
    let mut p = format!(
        "You are a helpful customer service agent for {}.",
        cfg.company_name
    );
    if let Some(industry) = &cfg.industry {
        p.push_str(&format!(" The company works in {industry}."));
    }
    if let Some(site) = &cfg.website {
        p.push_str(&format!(" Its website is {site}."));
    }
    p.push_str(&format!("\n{}", cfg.tone.instruction()));
    if let Some(hours) = &cfg.business_hours {
        p.push_str(&format!("\nBusiness hours: {hours}."));
    }
    if cfg.languages.len() > 1 || cfg.languages.first().is_some_and(|l| l != "en") {
        p.push_str(&format!(
            "\nAnswer in the customer's language when it is one of: {}.",
            cfg.languages.join(", ")
        ));
    }
    if !cfg.topics_to_avoid.is_empty() {
        p.push_str(&format!(
            "\nDo not discuss: {}.",
            cfg.topics_to_avoid.join("; ")
        ));
    }
    p.push_str("\n\nKnowledge base context:\n");
    if context.is_empty() {
        p.push_str("(nothing relevant was found)\n");
    }
    for (i, c) in context.iter().enumerate() {
        p.push_str(&format!("[{}] {}\n{}\n\n", i + 1, c.title, c.text.trim()));
    }
    p.push_str(
        "\nInstructions:\n- Answer from the context above; do not invent facts, prices or policies.\n- Be concise.\n- If you are unsure or the context does not answer the question, say so",
    );
    if cfg.subsystems.escalation {
        match &cfg.escalation_email {
            Some(email) => p.push_str(&format!(" and offer to escalate to a human at {email}.")),
            None => p.push_str(" and offer to escalate to a human colleague."),
        }
    } else {
        p.push('.');
    }
    p
}

/// The newest turns whose tokens fit in `budget` (counted by `count`), oldest first.
pub fn trim_history(
    history: &[Message],
    budget: usize,
    count: impl Fn(&str) -> usize,
) -> &[Message] {
    let mut used = 0;
    let mut start = history.len();
    for (i, turn) in history.iter().enumerate().rev() {
        // A few tokens of message framing per turn, as the chat format adds them.
        let cost = count(&turn.content) + 4;
        if used + cost > budget {
            break;
        }
        used += cost;
        start = i;
    }
    &history[start..]
}

/// A new conversation's title from its first message: the first line, at most 60 characters.
pub fn title_from(message: &str) -> String {
    let line = message
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("New conversation");
    if line.chars().count() <= 60 {
        line.to_owned()
    } else {
        let cut: String = line.chars().take(57).collect();
        format!("{}...", cut.trim_end())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::{AgentConfig, Intake, MessageRole};

    fn cfg() -> AgentConfig {
        AgentConfig::from_intake(
            &serde_json::from_value::<Intake>(serde_json::json!({"companyName": "Acme", "escalationEmail": "help@acme.example", "topicsToAvoid": ["politics"]}))
                .expect("intake"),
        )
    }

    #[test]
    fn when_the_prompt_is_built_it_names_the_company_the_context_and_the_escalation() {
        let p = system_prompt(
            &cfg(),
            &[ContextChunk {
                title: "Refunds".into(),
                text: "Refunds take 5 days.".into(),
            }],
        );
        assert!(p.starts_with("You are a helpful customer service agent for Acme."));
        assert!(p.contains("[1] Refunds\nRefunds take 5 days."));
        assert!(p.contains("escalate to a human at help@acme.example"));
        assert!(p.contains("Do not discuss: politics."));
        assert!(p.contains("Be concise."));
    }

    #[test]
    fn when_history_exceeds_the_budget_the_newest_turns_are_kept() {
        let turns: Vec<Message> = (0..10)
            .map(|i| Message::new(MessageRole::User, format!("message {i} ").repeat(5)))
            .collect();
        let words = |s: &str| s.split_whitespace().count();
        let kept = trim_history(&turns, 3 * (10 + 4), words);
        assert_eq!(kept.len(), 3);
        assert_eq!(kept[2], turns[9]);
        assert!(trim_history(&turns, 0, words).is_empty());
        assert_eq!(trim_history(&turns, 10_000, words).len(), 10);
    }

    #[test]
    fn when_a_conversation_starts_its_title_comes_from_the_first_line() {
        assert_eq!(
            title_from("\n  Where is my order?\nIt was due Monday"),
            "Where is my order?"
        );
        let long = title_from(&"word ".repeat(40));
        assert!(long.ends_with("...") && long.chars().count() <= 60);
    }
}
