//! The public side's use cases: a visitor's session ([`sessions`]) and what a visitor does in it
//! ([`chat`]: a turn, their conversations, feedback, a CSAT rating, asking for a person). Each takes a
//! proof made by `crate::http::public` — a checked [`crate::auth::visitor::PublishableKey`] or
//! [`crate::auth::visitor::VisitorSession`] — so it acts only for that visitor in that workspace.

pub mod budgets;
#[cfg(feature = "knowledge")]
pub mod chat;
pub mod sessions;

use uuid::Uuid;

/// Which conversation a visitor's message goes to: one of theirs, or a new one with an id chosen
/// beforehand (so that its message cap counts the first message too).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conversation {
    Existing(Uuid),
    New(Uuid),
}

impl Conversation {
    pub fn of(conv_id: Option<Uuid>, new_id: Uuid) -> Self {
        conv_id.map_or(Self::New(new_id), Self::Existing)
    }

    pub const fn id(self) -> Uuid {
        match self {
            Self::Existing(id) | Self::New(id) => id,
        }
    }

    pub const fn existing(self) -> Option<Uuid> {
        match self {
            Self::Existing(id) => Some(id),
            Self::New(_) => None,
        }
    }
}
