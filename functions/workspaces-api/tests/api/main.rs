//! The workspaces function: the integration tests as one binary, a module per route
//! file or concern (a route's test is in the module of its route file's name).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod api_keys;
mod audit;
mod billing;
mod database_down;
mod export;
mod identity;
mod intake;
mod invitations;
mod lambda_event;
mod tenant;
mod usage;
mod widget;
mod workspaces;
