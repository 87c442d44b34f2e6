//! Signed identity: how long a rotated identity secret keeps verifying, and how long a token may live.

use super::{ConfigError, Source};
use std::time::Duration;

/// The longest lifetime (`exp - iat`) `IDENTITY_TOKEN_MAX_LIFETIME_SECS` may allow: a day.
pub const MAX_IDENTITY_TOKEN_LIFETIME_SECS: u64 = 24 * 3600;
/// The longest grace `IDENTITY_SECRET_GRACE_HOURS` may give a rotated secret: 30 days.
const MAX_GRACE_HOURS: u64 = 30 * 24;

#[derive(Debug, Clone)]
pub struct IdentityConfig {
    /// How long the previous identity secret keeps verifying after a rotation (0: not at all).
    pub secret_grace: Duration,
    /// The longest `exp - iat` of an identity token.
    pub token_max_lifetime: Duration,
}

impl IdentityConfig {
    pub(super) fn from_source(src: &Source) -> Result<Self, ConfigError> {
        let grace_hours = src.parsed("IDENTITY_SECRET_GRACE_HOURS", 24u64)?;
        if grace_hours > MAX_GRACE_HOURS {
            return Err(ConfigError::Invalid {
                name: "IDENTITY_SECRET_GRACE_HOURS",
                reason: format!("must be at most {MAX_GRACE_HOURS} (30 days)"),
            });
        }
        let lifetime = src.parsed("IDENTITY_TOKEN_MAX_LIFETIME_SECS", 3600u64)?;
        if lifetime == 0 || lifetime > MAX_IDENTITY_TOKEN_LIFETIME_SECS {
            return Err(ConfigError::Invalid {
                name: "IDENTITY_TOKEN_MAX_LIFETIME_SECS",
                reason: format!("must be from 1 to {MAX_IDENTITY_TOKEN_LIFETIME_SECS} (24 hours)"),
            });
        }
        Ok(Self {
            secret_grace: Duration::from_secs(grace_hours * 3600),
            token_max_lifetime: Duration::from_secs(lifetime),
        })
    }
}

#[cfg(test)]
#[allow(clippy::expect_used)]
mod tests {
    use super::*;

    fn read(pairs: &[(&str, &str)]) -> Result<IdentityConfig, ConfigError> {
        IdentityConfig::from_source(&Source::from_pairs(pairs.iter().copied()))
    }

    #[test]
    fn when_nothing_is_set_the_grace_is_a_day_and_tokens_live_an_hour() {
        let cfg = read(&[]).expect("defaults");
        assert_eq!(cfg.secret_grace, Duration::from_secs(24 * 3600));
        assert_eq!(cfg.token_max_lifetime, Duration::from_secs(3600));
    }

    #[test]
    fn when_a_lifetime_is_over_a_day_or_zero_it_is_refused_by_name() {
        for value in ["0", "86401"] {
            let err = read(&[("IDENTITY_TOKEN_MAX_LIFETIME_SECS", value)]).expect_err(value);
            assert!(
                err.to_string().contains("IDENTITY_TOKEN_MAX_LIFETIME_SECS"),
                "{err}"
            );
        }
        let cfg = read(&[
            ("IDENTITY_TOKEN_MAX_LIFETIME_SECS", "86400"),
            ("IDENTITY_SECRET_GRACE_HOURS", "0"),
        ])
        .expect("a day, no grace");
        assert_eq!(cfg.token_max_lifetime, Duration::from_secs(86400));
        assert_eq!(cfg.secret_grace, Duration::ZERO);
        let err = read(&[("IDENTITY_SECRET_GRACE_HOURS", "721")]).expect_err("too long");
        assert!(
            err.to_string().contains("IDENTITY_SECRET_GRACE_HOURS"),
            "{err}"
        );
    }
}
