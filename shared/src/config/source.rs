//! Where configuration comes from: the environment, overlaid by one AWS Secrets Manager secret (a JSON
//! object with the same key names) when `APP_SECRETS_ARN` is set.

use super::ConfigError;
use std::collections::HashMap;
use std::fmt;

/// The raw key/value view configuration is built from: the environment, overlaid by the secret.
#[derive(Clone, Default)]
pub struct Source {
    values: HashMap<String, String>,
}

impl fmt::Debug for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Keys only: values may be secrets.
        let mut keys: Vec<_> = self.values.keys().collect();
        keys.sort();
        f.debug_struct("Source").field("keys", &keys).finish()
    }
}

impl Source {
    pub fn from_env() -> Self {
        Self {
            values: std::env::vars().collect(),
        }
    }

    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        Self {
            values: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }

    pub fn set(&mut self, key: impl Into<String>, value: impl Into<String>) {
        self.values.insert(key.into(), value.into());
    }

    /// Sets `key` only when it is absent or empty (used by the devserver for generated dev values).
    pub fn set_default(&mut self, key: &str, value: impl Into<String>) -> bool {
        if self.get(key).is_none() {
            self.values.insert(key.to_owned(), value.into());
            true
        } else {
            false
        }
    }

    /// A present, non-empty value. An empty variable counts as unset: it never silently becomes "".
    pub fn get(&self, key: &str) -> Option<&str> {
        self.values
            .get(key)
            .map(String::as_str)
            .map(str::trim)
            .filter(|v| !v.is_empty())
    }

    pub(crate) fn required(&self, key: &'static str) -> Result<&str, ConfigError> {
        self.get(key).ok_or(ConfigError::Missing(key))
    }

    pub(crate) fn parsed<T: std::str::FromStr>(
        &self,
        key: &'static str,
        default: T,
    ) -> Result<T, ConfigError>
    where
        T::Err: fmt::Display,
    {
        match self.get(key) {
            None => Ok(default),
            Some(raw) => raw.parse().map_err(|e: T::Err| ConfigError::Invalid {
                name: key,
                reason: format!("{raw:?}: {e}"),
            }),
        }
    }

    /// Overlays a Secrets Manager JSON object: its values win. Non-string values are used as their JSON text.
    pub fn overlay_secret_json(&mut self, json: &str, arn: &str) -> Result<(), ConfigError> {
        let object: serde_json::Map<String, serde_json::Value> = serde_json::from_str(json)
            .map_err(|e| ConfigError::Secret {
                arn: arn.to_owned(),
                reason: format!("the secret must be a JSON object of configuration keys ({e})"),
            })?;
        for (key, value) in object {
            let value = match value {
                serde_json::Value::String(s) => s,
                serde_json::Value::Null => continue,
                other => other.to_string(),
            };
            self.values.insert(key, value);
        }
        Ok(())
    }

    /// The environment plus, when `APP_SECRETS_ARN` is set, the secret's values (which win).
    pub async fn load() -> Result<Self, ConfigError> {
        Self::from_env().with_secret().await
    }

    /// Overlays the secret named by this source's `APP_SECRETS_ARN`, if any.
    pub async fn with_secret(mut self) -> Result<Self, ConfigError> {
        if let Some(arn) = self.get("APP_SECRETS_ARN").map(str::to_owned) {
            let json = fetch_secret(&arn).await?;
            self.overlay_secret_json(&json, &arn)?;
            tracing::info!("configuration secret loaded");
        }
        Ok(self)
    }
}

/// Fetches a secret's string through the AWS SDK. `AWS_ENDPOINT_URL` (e.g. a moto server) is honoured by
/// the SDK's own configuration loader.
pub async fn fetch_secret(arn: &str) -> Result<String, ConfigError> {
    let client = aws_sdk_secretsmanager::Client::new(crate::aws::config().await);
    let out = client
        .get_secret_value()
        .secret_id(arn)
        .send()
        .await
        .map_err(|e| ConfigError::Secret {
            arn: arn.to_owned(),
            reason: format!("{}", aws_sdk_secretsmanager::error::DisplayErrorContext(&e)),
        })?;
    out.secret_string()
        .map(str::to_owned)
        .ok_or_else(|| ConfigError::Secret {
            arn: arn.to_owned(),
            reason: "the secret has no SecretString (binary secrets are not supported)".into(),
        })
}
