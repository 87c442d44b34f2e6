//! The streaming chat turn on AWS Lambda. A Lambda in response-streaming mode streams every route it
//! serves, so this function serves only the stream route (plus its health), behind a Function URL with
//! the same JWT auth, CORS and limits as the API (all enforced in code by the shared router layers).

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    studio::telemetry::init();
    let state = studio::lambda::knowledge_state().await?;
    lambda_http::run_with_streaming_response(studio::http::app(agents_api::stream_routes(), state))
        .await
}
