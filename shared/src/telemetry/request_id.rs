//! The id of the request being served, as a task-local context: set by the HTTP middleware
//! ([`crate::http::request_id`]) for the request's task, read by whatever logs or answers on its behalf
//! (error bodies, audit entries, the outbox) without threading it through every signature.

use std::future::Future;

tokio::task_local! {
    static REQUEST_ID: String;
}

/// The id of the request being served on this task, if any.
pub fn current() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

/// Runs `fut` as the request `id`: [`current`] answers `id` inside it.
pub async fn scope<F: Future>(id: String, fut: F) -> F::Output {
    REQUEST_ID.scope(id, fut).await
}

/// Wraps work spawned off a request (a streamed answer's producer) so that it keeps the request's id and
/// log span: its errors are logged and answered with the same `requestId` as the request's own.
pub fn propagate<F: Future>(fut: F) -> impl Future<Output = F::Output> {
    let span = tracing::Span::current();
    let fut = tracing::Instrument::instrument(fut, span);
    let id = current();
    async move {
        match id {
            Some(id) => scope(id, fut).await,
            None => fut.await,
        }
    }
}
