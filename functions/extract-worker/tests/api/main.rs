//! The extract worker: the integration tests as one binary, a module per route file or concern.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod worker;
