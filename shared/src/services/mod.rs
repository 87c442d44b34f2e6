//! The use cases the route groups call: plain async functions over the state, returning API types.

#[cfg(feature = "knowledge")]
pub mod admin;
pub mod agent_config;
pub mod api_keys;
pub mod audit;
pub mod auth;
#[cfg(feature = "knowledge")]
pub mod chat;
#[cfg(feature = "knowledge")]
pub mod demo;
pub mod idempotency;
pub mod identities;
pub mod identity;
pub mod invitations;
#[cfg(feature = "knowledge")]
pub mod jobs;
#[cfg(feature = "knowledge")]
pub mod knowledge;
pub mod public;
#[cfg(feature = "knowledge")]
pub mod reindex;
#[cfg(feature = "knowledge")]
pub mod sources;
pub mod uploads;
pub mod widget;
pub mod workspaces;
