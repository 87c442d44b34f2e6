//! The middleware of the old system as axum extractors and layers:
//! `requireAuth` → [`AuthUser`], `adminAuth` → [`PlatformAdmin`], `requireWorkspace` + `requireRole` → [`Tenant`], body validation →
//! [`ValidJson`], plus CORS, request ids, body limits and JSON 404/405s in [`app`].

mod admin_auth;
pub mod app;
mod auth;
pub mod email;
pub mod extract;
pub mod fields;
pub mod idempotency;
pub mod outbound;
pub mod paging;
pub mod ratelimit;
pub mod request_id;
mod tenant;

pub use admin_auth::{ADMIN_KEY_HEADER, PlatformAdmin, admin_key_matches};
pub use app::{MAX_BODY_BYTES, app, health};
pub use auth::AuthUser;
pub use extract::{OptionalJson, Path, Query, ValidJson, not_blank};
pub use fields::{free_text, free_text_not_blank, single_line};
pub use paging::{Page, PageParams};
pub use tenant::{Admin, AnyRole, MemberRole, MinRole, Owner, Tenant, Viewer};
