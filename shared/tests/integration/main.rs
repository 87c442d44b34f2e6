//! The domain crate's adapters and rules against real services: the integration tests as one binary, a module per route
//! file or concern (a route's test is in the module of its route file's name).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod erasure;
mod extract;
mod fetch;
#[cfg(feature = "local-model")]
mod local_model;
mod migrations;
mod quota;
mod ratelimit;
mod row_level_security;
mod secrets;
mod sentry;
mod vectors;
