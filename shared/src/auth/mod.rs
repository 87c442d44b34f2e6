//! Passwords, access tokens (JWT), refresh tokens, and the authorization proofs use cases take.

pub mod jwt;
pub mod password;
pub mod refresh;
pub mod tenant;

pub use jwt::{AccessClaims, JwtKeys};
pub use password::Passwords;
pub use tenant::{
    Actor, Admin, AnyRole, MemberRole, MinRole, Owner, PlatformAdmin, Tenant, Viewer,
};
