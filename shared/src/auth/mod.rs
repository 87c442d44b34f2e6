//! Passwords, access tokens (JWT) and refresh tokens.

pub mod jwt;
pub mod password;
pub mod refresh;

pub use jwt::{AccessClaims, JwtKeys};
pub use password::Passwords;
