//! The streaming chat turn on AWS Lambda. A Lambda in response-streaming mode streams every route it
//! serves, so this function serves only the stream route (plus its health), behind a Function URL with
//! the same JWT auth, CORS and limits as the API (all enforced in code by the shared router layers).

use studio::lambda::Responses;

#[tokio::main]
async fn main() -> Result<(), studio::lambda::Error> {
    let state = studio::lambda::knowledge_state();
    studio::lambda::http(Responses::Streamed, agents_api::stream_routes(), state).await
}
