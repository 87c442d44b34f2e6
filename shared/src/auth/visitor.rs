//! The tenant's customers on its website: visitor tokens, visitor session tokens, and the proofs the
//! public routes take ([`PublishableKey`] to open a session, [`VisitorSession`] for everything after).
//!
//! Both tokens are 256 random bits from the OS behind a prefix (`vt_` for a visitor token, which the
//! widget keeps to continue an anonymous visitor's conversations; `vs_` for a session token, which lasts
//! at most an hour). Only their SHA-256 is stored. Only this crate makes a proof — the HTTP extractors in
//! `crate::http::public` do, after checking the key or the session against the database and the request's
//! `Origin` against the key's list — so a service that takes one cannot act for another visitor.

use super::Caller;
use crate::ids::WorkspaceId;
use uuid::Uuid;

/// The prefix of a visitor token.
pub const VISITOR_TOKEN_PREFIX: &str = "vt_";
/// The prefix of a visitor session token.
pub const SESSION_TOKEN_PREFIX: &str = "vs_";

/// Whether a bearer token claims to be a visitor session token (by its prefix).
pub fn is_session_token(token: &str) -> bool {
    token.starts_with(SESSION_TOKEN_PREFIX)
}

/// A publishable key checked for the request's origin: it may open visitor sessions of its workspace.
#[derive(Debug, Clone)]
pub struct PublishableKey {
    pub workspace_id: WorkspaceId,
    pub key_id: Uuid,
    /// The request's origin, allowed by the key.
    pub origin: String,
}

/// A live visitor session, checked: its key not revoked, its workspace active, the request from the
/// origin it was opened for (and still allowed by the key).
#[derive(Debug, Clone)]
pub struct VisitorSession {
    pub workspace_id: WorkspaceId,
    pub visitor_id: Uuid,
    pub key_id: Uuid,
    pub origin: String,
    /// Whether the visitor is an end user the tenant signed (else anonymous).
    pub identified: bool,
}

impl PublishableKey {
    pub(crate) fn checked(workspace_id: WorkspaceId, key_id: Uuid, origin: String) -> Self {
        Self {
            workspace_id,
            key_id,
            origin,
        }
    }
}

impl VisitorSession {
    pub(crate) fn checked(
        workspace_id: WorkspaceId,
        visitor_id: Uuid,
        key_id: Uuid,
        origin: String,
        identified: bool,
    ) -> Self {
        Self {
            workspace_id,
            visitor_id,
            key_id,
            origin,
            identified,
        }
    }

    /// Who acts: the visitor.
    pub const fn caller(&self) -> Caller {
        Caller::Visitor(self.visitor_id)
    }
}

#[cfg(test)]
#[allow(clippy::expect_used)]
mod tests {
    use super::*;
    use crate::auth::refresh::{generate_prefixed, is_prefixed_token};

    #[test]
    fn when_tokens_are_made_they_carry_their_prefix_and_only_well_formed_ones_pass() {
        let (session, hash) = generate_prefixed(SESSION_TOKEN_PREFIX).expect("rng");
        assert!(is_session_token(&session));
        assert!(is_prefixed_token(&session, SESSION_TOKEN_PREFIX));
        assert_eq!(hash, crate::auth::refresh::hash(&session));
        let (visitor, _) = generate_prefixed(VISITOR_TOKEN_PREFIX).expect("rng");
        assert!(!is_session_token(&visitor));
        assert!(!is_prefixed_token(&visitor, SESSION_TOKEN_PREFIX));
        for bad in [
            "vs_",
            "vs_short",
            &format!("{session}x"),
            &format!("{}!", &session[..session.len() - 1]),
        ] {
            assert!(!is_prefixed_token(bad, SESSION_TOKEN_PREFIX), "{bad}");
        }
    }
}
