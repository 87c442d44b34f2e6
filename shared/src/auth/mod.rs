//! Passwords, access tokens (JWT), refresh tokens, and the authorization proofs use cases take.

pub mod api_keys;
pub mod identity;
pub mod jwt;
pub mod password;
pub mod refresh;
pub mod tenant;

pub use jwt::{AccessClaims, JwtKeys};
pub use password::Passwords;
pub use tenant::{
    Access, Actor, Admin, AnyRole, Caller, Chat, Ingest, MemberRole, MinRole, OrRead, Owner,
    Person, PlatformAdmin, Tenant, Viewer,
};
