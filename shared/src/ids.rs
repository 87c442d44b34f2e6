//! Identifiers and roles. A [`WorkspaceId`] is the proof that a tenant was resolved from a trusted source:
//! in a request only the workspace extractor makes one (after the membership check).

use serde::{Deserialize, Serialize};
use std::fmt;
use utoipa::ToSchema;
use uuid::Uuid;

/// A workspace (tenant) id that has been checked. There is deliberately no `From<Uuid>` and no
/// `Deserialize`: client input never becomes a `WorkspaceId` without the membership check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct WorkspaceId(Uuid);

impl WorkspaceId {
    /// For ids that come from a row we just read or wrote, or from a message our own API produced —
    /// never from a request. Requests get theirs from [`crate::auth::Tenant`].
    pub fn from_trusted_source(id: Uuid) -> Self {
        Self(id)
    }

    pub fn as_uuid(&self) -> &Uuid {
        &self.0
    }
}

impl fmt::Display for WorkspaceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A member's role in a workspace, lowest to highest.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Viewer,
    Member,
    Admin,
    Owner,
}

impl Role {
    pub const fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Member => "member",
            Role::Admin => "admin",
            Role::Owner => "owner",
        }
    }

    /// Parses the value stored in the database; anything else is a corrupted row.
    pub fn from_db(s: &str) -> Result<Self, crate::ApiError> {
        match s {
            "viewer" => Ok(Role::Viewer),
            "member" => Ok(Role::Member),
            "admin" => Ok(Role::Admin),
            "owner" => Ok(Role::Owner),
            other => Err(crate::ApiError::internal(anyhow::anyhow!(
                "unknown role {other:?} stored in workspace_members"
            ))),
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
