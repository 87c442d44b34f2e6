//! The crawl worker: the integration tests as one binary, a module per concern.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod worker;
