//! How long what is deleted stays restorable before the purge removes it for good.

use chrono::{DateTime, Utc};

/// The soft-delete retention (`SOFT_DELETE_RETENTION_DAYS`): `purge-deleted` hard-deletes what was
/// deleted longer ago, and until then a deleted workspace can be restored (`services::admin`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    pub days: u32,
}

impl Retention {
    pub fn of(config: &crate::config::Config) -> Self {
        Self {
            days: config.ops.retention_days,
        }
    }

    /// The days as the purge's SQL takes them (`deleted_at < now() - make_interval(days => …)`).
    pub fn sql_days(self) -> i32 {
        i32::try_from(self.days).unwrap_or(i32::MAX)
    }

    /// When something deleted at `deleted_at` becomes due for the purge.
    pub fn purge_after(self, deleted_at: DateTime<Utc>) -> DateTime<Utc> {
        deleted_at + chrono::Duration::days(i64::from(self.days))
    }
}
