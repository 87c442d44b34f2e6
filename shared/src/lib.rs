//! The domain crate every Soft Systems Studio function links.
//!
//! One place per concern: [`config`] reads configuration once per cold start, [`db`] owns the pool and the
//! migrations, [`error`] is the one table of error codes, [`auth`] holds passwords and tokens, [`http`] the
//! middleware of the old system as axum extractors and layers, [`repo`] every SQL statement per aggregate,
//! [`services`] the use cases the route groups call, and [`billing`] plans, quotas and Stripe.
//!
//! The modules stand on five floors — base (`error`, `ids`, `tls`, `telemetry`, `config`, `aws`, `text`),
//! model (`auth`, `agent`, `paging`, `billing::plan`), adapters (`db`, `queue`, `ratelimit`, `repo`,
//! `outbox`, `email`, `knowledge`, `billing::stripe`), use cases (`services`, `billing`, `state`) and edges
//! (`http`, `lambda`, `openapi`) — and no file uses a module above its own floor (checked by a
//! test in `layers.rs`).

pub mod agent;
pub mod auth;
pub mod aws;
pub mod billing;
pub mod config;
#[cfg(feature = "crawl")]
pub mod crawl;
pub mod db;
pub mod email;
pub mod error;
#[cfg(feature = "extract")]
pub mod extract;
pub mod fetch;
pub mod http;
pub mod ids;
#[cfg(feature = "knowledge")]
pub mod knowledge;
pub mod lambda;
#[cfg(test)]
mod layers;
pub mod openapi;
pub mod outbox;
pub mod paging;
pub mod queue;
pub mod ratelimit;
pub mod repo;
pub mod services;
pub mod state;
pub mod storage;
pub mod telemetry;
pub mod text;
pub mod tls;

pub use config::Config;
pub use error::{ApiError, ErrorCode};
pub use ids::{Role, WorkspaceId};
pub use state::AppState;
