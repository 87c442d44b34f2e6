//! The public function (visitors on a tenant's site): the integration tests as one binary, a module per
//! route file (a route's test is in the module of its route file's name) plus the CORS layer.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod budgets;
mod conversations;
mod cors;
mod messages;
mod sessions;
mod stream;
mod support;
mod widget;
