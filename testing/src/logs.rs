//! What the code logged, captured per test thread.

use serde_json::Value;

/// What the code logged while a [`LogCapture`] was in scope on this thread (JSON lines, as on Lambda).
/// `#[tokio::test]`'s runtime runs spawned tasks on the test's thread, so their logs are caught too.
#[derive(Debug, Clone, Default)]
pub struct LogCapture {
    lines: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
}

/// Starts capturing this thread's logs; they are captured until the guard is dropped.
pub fn capture_logs() -> (LogCapture, tracing::subscriber::DefaultGuard) {
    let capture = LogCapture::default();
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_max_level(tracing::Level::INFO)
        .with_current_span(true)
        .with_span_list(true)
        .with_writer(move || LogWriter(writer.lines.clone()))
        .finish();
    (capture, tracing::subscriber::set_default(subscriber))
}

struct LogWriter(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl LogCapture {
    /// Every log line, parsed.
    pub fn events(&self) -> Vec<Value> {
        let bytes = self.lines.lock().unwrap().clone();
        String::from_utf8_lossy(&bytes)
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// The log lines at ERROR level.
    pub fn errors(&self) -> Vec<Value> {
        self.events()
            .into_iter()
            .filter(|e| e["level"] == "ERROR")
            .collect()
    }
}
