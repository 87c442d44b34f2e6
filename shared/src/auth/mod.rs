//! Passwords, access tokens (JWT), refresh tokens, workspace keys, signed identity, visitors, and the
//! authorization proofs use cases take.

pub mod api_keys;
pub mod identity;
pub mod jwt;
pub mod oidc;
pub mod password;
pub mod refresh;
pub mod tenant;
pub mod visitor;

pub use jwt::{AccessClaims, JwtKeys};
pub use password::Passwords;
pub use tenant::{
    Access, Actor, Admin, AnyRole, Caller, Chat, Ingest, MemberRole, MinRole, OrRead, Owner,
    Person, PlatformAdmin, Tenant, Viewer,
};
