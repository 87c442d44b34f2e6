//! The public side's use cases: a visitor's session ([`sessions`]) and what a visitor does in it
//! ([`chat`]: a turn, their conversations, feedback, a CSAT rating, asking for a person). Each takes a
//! proof made by `crate::http::public` — a checked [`crate::auth::visitor::PublishableKey`] or
//! [`crate::auth::visitor::VisitorSession`] — so it acts only for that visitor in that workspace.

pub mod budgets;
#[cfg(feature = "knowledge")]
pub mod chat;
pub mod sessions;
