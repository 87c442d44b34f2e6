//! The auth function: the integration tests as one binary, a module per route
//! file or concern (a route's test is in the module of its route file's name).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod auth;
mod default_workspace;
mod erasure;
mod export;
mod identities;
mod lambda_event;
mod password_reset;
mod support;
mod tokens;
