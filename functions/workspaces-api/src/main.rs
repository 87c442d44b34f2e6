//! The workspaces route group on AWS Lambda (`/api/v1/workspaces/*`).

#[tokio::main]
async fn main() -> Result<(), studio::lambda::Error> {
    studio::lambda::http(workspaces_api::routes(), studio::lambda::app_state(&[])).await
}
