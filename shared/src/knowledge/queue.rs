//! The ingest queue's message; the queue itself is [`crate::queue::Queue`].

pub use crate::queue::{MAX_ATTEMPTS, Queue, retry_delay};

/// The message that announces an ingestion; our own API writes it (through the outbox), so the worker
/// may trust the workspace id it carries.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IngestMessage {
    pub ingestion_id: uuid::Uuid,
    pub workspace_id: uuid::Uuid,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn when_a_message_has_unknown_fields_it_is_rejected() {
        let ok: IngestMessage = serde_json::from_str(
            r#"{"ingestionId":"0190a1b2-0000-7000-8000-000000000001","workspaceId":"0190a1b2-0000-7000-8000-000000000002"}"#,
        )
        .expect("valid");
        assert_eq!(
            ok.ingestion_id.to_string(),
            "0190a1b2-0000-7000-8000-000000000001"
        );
        assert!(serde_json::from_str::<IngestMessage>(r#"{"ingestionId":"x"}"#).is_err());
    }
}
