//! Test support for the workspace's integration tests, used only as a dev-dependency: a fresh database
//! per test ([`db`]), the app called in-process ([`app`]), private PostgreSQL instances ([`postgres`]),
//! doubles for the third-party HTTP APIs that cannot run here ([`openai`], [`upstash`]), the moto server
//! ([`aws`]), mail ([`mail`]), captured logs ([`logs`]) and the fixtures tests share ([`fixtures`]).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::missing_panics_doc)]

pub mod app;
pub mod aws;
pub mod db;
pub mod dir;
/// Files for the upload tests, used by path (`files::pdf`), not re-exported.
pub mod files;
pub mod fixtures;
pub mod knowledge;
pub mod logs;
pub mod mail;
/// A local identity provider for the OIDC tests, used by path (`oidc::TestProvider`).
pub mod oidc;
pub mod openai;
pub mod postgres;
pub mod upstash;

pub use app::*;
pub use aws::*;
pub use db::*;
pub use dir::*;
pub use fixtures::*;
pub use knowledge::*;
pub use logs::*;
pub use mail::*;
pub use openai::*;
pub use postgres::*;
pub use upstash::*;
