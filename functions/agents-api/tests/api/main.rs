//! The agents function (knowledge base, agent, streamed turn): the integration tests as one binary, a module per route
//! file or concern (a route's test is in the module of its route file's name).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod chat;
mod database_down;
mod inbox;
mod knowledge;
mod lambda_event;
mod outbox;
mod quota;
mod secret_keys;
mod sources;
mod stream;
mod support;
mod uploads;
mod visitors;
