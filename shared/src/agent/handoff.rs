//! Who has a conversation — the agent, nobody yet, a person, or nobody any more — and the moves between
//! them the server allows. Pure, tested on its own; the services apply it inside the transaction that
//! locks the conversation.
//!
//! ```text
//!   bot ──visitor asks / member escalates / nothing to answer from──▶ waiting_for_human
//!   bot, waiting_for_human, resolved ──member replies or takes it──▶ human
//!   waiting_for_human, human ──member hands it back──▶ bot
//!   any ──member resolves──▶ resolved
//!   resolved ──visitor writes──▶ bot          resolved ──visitor asks──▶ waiting_for_human
//! ```
//! While `waiting_for_human` or `human` the LLM is never called: the visitor's messages are kept for
//! the team.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConversationStatus {
    /// The agent answers.
    Bot,
    /// A person was asked for; the agent is silent.
    WaitingForHuman,
    /// A person has it; the agent is silent.
    Human,
    /// Closed by the team; the visitor may rate it, and writing again reopens it with the agent.
    Resolved,
}

/// What happens to a conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// The visitor writes a message.
    VisitorWrites,
    /// The visitor asks for a person (or the agent has nothing to answer from).
    HandoffAsked,
    /// A member writes a reply.
    MemberReplies,
    /// A member sets the status.
    MemberSets(ConversationStatus),
}

/// A move the state machine does not allow, said for the caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a conversation that is {from} cannot become {to}")]
pub struct NotAllowed {
    pub from: ConversationStatus,
    pub to: ConversationStatus,
}

impl ConversationStatus {
    pub const ALL: [ConversationStatus; 4] = [
        ConversationStatus::Bot,
        ConversationStatus::WaitingForHuman,
        ConversationStatus::Human,
        ConversationStatus::Resolved,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            ConversationStatus::Bot => "bot",
            ConversationStatus::WaitingForHuman => "waiting_for_human",
            ConversationStatus::Human => "human",
            ConversationStatus::Resolved => "resolved",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == value)
    }

    /// Whether the agent answers the visitor's messages.
    pub const fn agent_answers(self) -> bool {
        matches!(self, ConversationStatus::Bot | ConversationStatus::Resolved)
    }

    /// The status after `event`; the same status when nothing changes (asking twice, replying again).
    pub fn after(self, event: Event) -> Result<Self, NotAllowed> {
        use ConversationStatus::*;
        let to = match event {
            Event::VisitorWrites => match self {
                Resolved => Bot,
                other => other,
            },
            Event::HandoffAsked => match self {
                Bot | Resolved | WaitingForHuman => WaitingForHuman,
                Human => Human,
            },
            Event::MemberReplies => Human,
            Event::MemberSets(to) => {
                let allowed = match to {
                    Bot => matches!(self, WaitingForHuman | Human | Bot),
                    WaitingForHuman => matches!(self, Bot | WaitingForHuman),
                    Human => matches!(self, Bot | WaitingForHuman | Human | Resolved),
                    Resolved => true,
                };
                if !allowed {
                    return Err(NotAllowed { from: self, to });
                }
                to
            }
        };
        Ok(to)
    }
}

impl std::fmt::Display for ConversationStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
#[allow(clippy::expect_used)]
mod tests {
    use super::ConversationStatus::*;
    use super::*;

    #[test]
    fn a_status_round_trips_through_its_stored_name() {
        for s in ConversationStatus::ALL {
            assert_eq!(ConversationStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(ConversationStatus::parse("closed"), None);
    }

    #[test]
    fn when_a_visitor_asks_for_a_person_the_agent_goes_silent_until_the_team_hands_it_back() {
        let waiting = Bot.after(Event::HandoffAsked).expect("ask");
        assert_eq!(waiting, WaitingForHuman);
        assert!(!waiting.agent_answers());
        assert_eq!(waiting.after(Event::VisitorWrites), Ok(WaitingForHuman));
        assert_eq!(waiting.after(Event::HandoffAsked), Ok(WaitingForHuman));
        let human = waiting.after(Event::MemberReplies).expect("reply");
        assert_eq!(human, Human);
        assert!(!human.agent_answers());
        // A visitor asking again while a person has it changes nothing.
        assert_eq!(human.after(Event::HandoffAsked), Ok(Human));
        assert_eq!(human.after(Event::MemberSets(Bot)), Ok(Bot));
        assert!(Bot.agent_answers());
    }

    #[test]
    fn when_resolved_the_visitor_reopens_it_by_writing_or_asking() {
        let resolved = Human.after(Event::MemberSets(Resolved)).expect("resolve");
        assert_eq!(resolved.after(Event::VisitorWrites), Ok(Bot));
        assert_eq!(resolved.after(Event::HandoffAsked), Ok(WaitingForHuman));
        assert_eq!(resolved.after(Event::MemberReplies), Ok(Human));
    }

    #[test]
    fn when_a_member_asks_for_a_move_the_machine_does_not_have_it_is_refused() {
        for (from, to) in [
            (Human, WaitingForHuman),
            (Resolved, WaitingForHuman),
            (Resolved, Bot),
        ] {
            let err = from.after(Event::MemberSets(to)).expect_err("not allowed");
            assert_eq!(err, NotAllowed { from, to });
            assert!(err.to_string().contains(to.as_str()), "{err}");
        }
        for from in ConversationStatus::ALL {
            assert_eq!(from.after(Event::MemberSets(Resolved)), Ok(Resolved));
        }
    }
}
