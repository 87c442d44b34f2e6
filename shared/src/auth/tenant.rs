//! The authorization proofs a use case takes: [`Tenant<R>`] (a caller checked as a member of a workspace
//! with at least role `R`, a person or, where the route allows it, a secret key with a scope) and [`PlatformAdmin`] (an operator). Only this crate can make one — the HTTP
//! extractors in `crate::http` do, after checking the token and the membership — so a service that takes
//! one cannot be called for a workspace its caller was not checked against.

use crate::auth::api_keys::Scope;
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

/// Who may act through a route: a person only ([`Person`], the default), or also a workspace's secret key
/// with one of [`Access::SCOPES`] ([`Chat`], [`Ingest`], and [`OrRead`] of either for the GET routes).
pub trait Access: Send + Sync + 'static {
    /// The scopes that let a secret key through; empty: people only.
    const SCOPES: &'static [Scope];
    /// What the proof records of the caller: a user id for [`Person`], a [`Caller`] otherwise.
    type Caller: Copy + std::fmt::Debug + Send + Sync;
    fn caller(of: Self::Caller) -> Caller;
    /// A member calling.
    fn user(id: Uuid) -> Self::Caller;
    /// A secret key calling, where keys may (`None` for [`Person`]).
    fn key(id: Uuid) -> Option<Self::Caller>;
}

/// People only: routes about members, billing, keys, the intake, the account.
#[derive(Debug)]
pub struct Person;
/// A person, or a secret key with the `chat` scope.
#[derive(Debug)]
pub struct Chat;
/// A person, or a secret key with the `ingest` scope.
#[derive(Debug)]
pub struct Ingest;
/// A person, or a secret key with `A`'s scope or `read` (the GET routes of the agents group).
#[derive(Debug)]
pub struct OrRead<A>(PhantomData<A>);

impl Access for Person {
    const SCOPES: &'static [Scope] = &[];
    type Caller = Uuid;
    fn caller(of: Uuid) -> Caller {
        Caller::User(of)
    }
    fn user(id: Uuid) -> Uuid {
        id
    }
    fn key(_: Uuid) -> Option<Uuid> {
        None
    }
}

/// The accesses a secret key may have, each with the scopes that open it.
macro_rules! key_access {
    ($($access:ty => $scopes:expr;)*) => {$(
        impl Access for $access {
            const SCOPES: &'static [Scope] = $scopes;
            type Caller = Caller;
            fn caller(of: Caller) -> Caller {
                of
            }
            fn user(id: Uuid) -> Caller {
                Caller::User(id)
            }
            fn key(id: Uuid) -> Option<Caller> {
                Some(Caller::Key(id))
            }
        }
    )*};
}

key_access! {
    Chat => &[Scope::Chat];
    Ingest => &[Scope::Ingest];
    OrRead<Chat> => &[Scope::Chat, Scope::Read];
    OrRead<Ingest> => &[Scope::Ingest, Scope::Read];
}

/// Who acts in a workspace: a member, one of its secret keys (as a `member`, with no user), or a visitor
/// on its site (through the public routes only: no [`Tenant`] proof holds one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    User(Uuid),
    Key(Uuid),
    Visitor(Uuid),
    /// The platform acting on the workspace's standing instruction (a website source's crawl, on its
    /// schedule): no user, key or visitor.
    Platform,
}

impl Caller {
    /// The user, for the columns that record one (null when a key acted).
    pub const fn user_id(self) -> Option<Uuid> {
        match self {
            Caller::User(id) => Some(id),
            Caller::Key(_) | Caller::Visitor(_) | Caller::Platform => None,
        }
    }

    /// The key, for the `api_key_id` columns (null when a person acted).
    pub const fn api_key_id(self) -> Option<Uuid> {
        match self {
            Caller::Key(id) => Some(id),
            Caller::User(_) | Caller::Visitor(_) | Caller::Platform => None,
        }
    }

    /// The visitor, for the `visitor_id` columns.
    pub const fn visitor_id(self) -> Option<Uuid> {
        match self {
            Caller::Visitor(id) => Some(id),
            Caller::User(_) | Caller::Key(_) | Caller::Platform => None,
        }
    }
}

/// A checked tenant: the workspace, the caller, and the caller's role there (at least `R`; a secret key
/// acts as `member`). `A` says who may call: with the default [`Person`], `caller` is the user's id.
#[derive(Debug)]
pub struct Tenant<R: MinRole = Viewer, A: Access = Person> {
    pub workspace_id: WorkspaceId,
    pub caller: A::Caller,
    pub role: Role,
    _min: PhantomData<(R, A)>,
}

impl<R: MinRole, A: Access> Tenant<R, A> {
    /// The proof, once the caller's membership (or key) and role were checked (by the HTTP extractor).
    pub(crate) fn checked(workspace_id: WorkspaceId, caller: A::Caller, role: Role) -> Self {
        Self {
            workspace_id,
            caller,
            role,
            _min: PhantomData,
        }
    }

    /// Who acts: a member or a key.
    pub fn actor(&self) -> Caller {
        A::caller(self.caller)
    }
}

impl<R: MinRole> Tenant<R, Person> {
    /// The member acting (routes for people only).
    pub fn user_id(&self) -> Uuid {
        self.caller
    }

    /// The audit log's actor for what this member does in the workspace.
    pub fn audit_actor(&self) -> Actor {
        Actor::Member(self.caller)
    }
}

impl<R: MinRole, A: Access> Clone for Tenant<R, A> {
    fn clone(&self) -> Self {
        Self::checked(self.workspace_id, self.caller, self.role)
    }
}

/// An authenticated operator of the platform (the `X-Admin-Key` or a platform admin's token).
#[derive(Debug, Clone, Copy)]
pub struct PlatformAdmin {
    pub actor: Actor,
}

/// Who acted, as the audit log records it: the shared admin key or a platform admin's account (the
/// operators), a workspace's member, or one of its API keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    AdminKey,
    PlatformAdmin(Uuid),
    Member(Uuid),
    ApiKey(Uuid),
}

impl Actor {
    pub const fn kind(self) -> &'static str {
        match self {
            Actor::AdminKey => "admin_key",
            Actor::PlatformAdmin(_) => "platform_admin",
            Actor::Member(_) => "member",
            Actor::ApiKey(_) => "api_key",
        }
    }

    pub const fn user_id(self) -> Option<Uuid> {
        match self {
            Actor::AdminKey | Actor::ApiKey(_) => None,
            Actor::PlatformAdmin(id) | Actor::Member(id) => Some(id),
        }
    }

    pub const fn api_key_id(self) -> Option<Uuid> {
        match self {
            Actor::ApiKey(id) => Some(id),
            _ => None,
        }
    }
}
