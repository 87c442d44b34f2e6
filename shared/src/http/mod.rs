//! The middleware of the old system as axum extractors and layers:
//! `requireAuth` → [`AuthUser`], `adminAuth` → [`PlatformAdmin`], `requireWorkspace` + `requireRole` → [`Tenant`], body validation →
//! [`ValidJson`], plus CORS, request ids, body limits and JSON 404/405s in [`app`].

mod admin_auth;
pub mod app;
mod auth;
pub mod extract;
pub mod fields;
pub mod idempotency;
pub mod public;
pub mod ratelimit;
pub mod request_id;
#[cfg(feature = "knowledge")]
pub mod sse;
mod tenant;

pub use admin_auth::{ADMIN_KEY_HEADER, admin_key_matches};
pub use app::{MAX_BODY_BYTES, app, health};
pub use auth::AuthUser;
pub use extract::{OptionalJson, Path, Query, ValidJson};
