//! A streamed turn's events as server-sent events (`event: <name>`, `data: <json>`), with keep-alives:
//! one rendering for the member stream and the public one.

use crate::services::chat::StreamEvent;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};

/// The events of `rx` as a `text/event-stream` answer, until the sender is done.
pub fn events(rx: tokio::sync::mpsc::Receiver<StreamEvent>) -> Response {
    let events = futures::stream::unfold(rx, |mut rx| async move {
        let event = rx.recv().await?;
        let sse = Event::default()
            .event(event.name())
            .json_data(&event)
            .unwrap_or_else(|_| Event::default().event("error"));
        Some((Ok::<_, std::convert::Infallible>(sse), rx))
    });
    Sse::new(events)
        .keep_alive(KeepAlive::default())
        .into_response()
}
