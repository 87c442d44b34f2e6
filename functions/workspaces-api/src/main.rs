//! The workspaces route group on AWS Lambda (`/api/v1/workspaces/*`).

use studio::lambda::Responses;

#[tokio::main]
async fn main() -> Result<(), studio::lambda::Error> {
    // Exports are stored in, and downloaded from, the files bucket.
    let state = studio::lambda::app_state(&[studio::config::Need::Uploads]);
    studio::lambda::http(Responses::Buffered, workspaces_api::routes(), state).await
}
