//! The customer-service agent's domain: a workspace's intake mapped into its agent configuration, and the
//! prompt templates the old system used. Pure functions, tested on their own.

pub mod handoff;
pub mod intake;
pub mod message;
pub mod prompt;
pub mod requests;
pub mod widget;

pub use handoff::ConversationStatus;
pub use intake::{AgentConfig, Intake, Subsystems, Tone};
pub use message::{Message, MessageRole, TokenUsage};
