//! The authorization proofs a use case takes: [`Tenant<R>`] (a caller checked as a member of a workspace
//! with at least role `R`) and [`PlatformAdmin`] (an operator). Only this crate can make one — the HTTP
//! extractors in `crate::http` do, after checking the token and the membership — so a service that takes
//! one cannot be called for a workspace its caller was not checked against.

use crate::ids::{Role, WorkspaceId};
use std::marker::PhantomData;
use uuid::Uuid;

/// The lowest role a route accepts.
pub trait MinRole: Send + Sync + 'static {
    const ROLE: Role;
}

/// Read access.
#[derive(Debug)]
pub struct Viewer;
/// Chat and ingest.
#[derive(Debug)]
pub struct MemberRole;
/// Members, configuration, deleting documents, reading billing.
#[derive(Debug)]
pub struct Admin;
/// Billing changes, deleting the workspace.
#[derive(Debug)]
pub struct Owner;
/// Any member (same as [`Viewer`]); for routes that decide per action, e.g. leaving a workspace.
pub type AnyRole = Viewer;

impl MinRole for Viewer {
    const ROLE: Role = Role::Viewer;
}
impl MinRole for MemberRole {
    const ROLE: Role = Role::Member;
}
impl MinRole for Admin {
    const ROLE: Role = Role::Admin;
}
impl MinRole for Owner {
    const ROLE: Role = Role::Owner;
}

/// A checked tenant: the workspace, the caller, and the caller's role there (at least `R`).
#[derive(Debug)]
pub struct Tenant<R: MinRole = Viewer> {
    pub workspace_id: WorkspaceId,
    pub user_id: Uuid,
    pub role: Role,
    _min: PhantomData<R>,
}

impl<R: MinRole> Tenant<R> {
    /// The proof, once the caller's membership and role were checked (by the HTTP extractor).
    pub(crate) fn checked(workspace_id: WorkspaceId, user_id: Uuid, role: Role) -> Self {
        Self {
            workspace_id,
            user_id,
            role,
            _min: PhantomData,
        }
    }
}

impl<R: MinRole> Clone for Tenant<R> {
    fn clone(&self) -> Self {
        Self {
            workspace_id: self.workspace_id,
            user_id: self.user_id,
            role: self.role,
            _min: PhantomData,
        }
    }
}

/// An authenticated operator of the platform (the `X-Admin-Key` or a platform admin's token).
#[derive(Debug, Clone, Copy)]
pub struct PlatformAdmin {
    pub actor: Actor,
}

/// Who acted: the shared admin key, or a platform admin's account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    AdminKey,
    PlatformAdmin(Uuid),
}

impl Actor {
    pub const fn kind(self) -> &'static str {
        match self {
            Actor::AdminKey => "admin_key",
            Actor::PlatformAdmin(_) => "platform_admin",
        }
    }

    pub const fn user_id(self) -> Option<Uuid> {
        match self {
            Actor::AdminKey => None,
            Actor::PlatformAdmin(id) => Some(id),
        }
    }
}
