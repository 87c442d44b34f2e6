//! The ingest queue: its message and the queue itself, from [`crate::queue`] (the extract worker, which
//! links no knowledge adapter, sends the same message).

pub use crate::queue::{IngestMessage, MAX_ATTEMPTS, Queue, retry_delay};

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
