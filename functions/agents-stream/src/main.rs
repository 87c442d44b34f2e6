//! The streamed chat turns on AWS Lambda. A Lambda in response-streaming mode streams every route it
//! serves, so this function serves only the stream routes — the member stream (plus its health) and the
//! visitors' public stream — behind a Function URL with the same auth, CORS and limits as the API (all
//! enforced in code by the shared router layers: JWT or key for members, session and per-key origins for
//! visitors).

use studio::lambda::Responses;

#[tokio::main]
async fn main() -> Result<(), studio::lambda::Error> {
    let state = studio::lambda::knowledge_state();
    studio::lambda::http(
        Responses::Streamed,
        agents_api::stream_routes().merge(public_api::stream_routes()),
        state,
    )
    .await
}
