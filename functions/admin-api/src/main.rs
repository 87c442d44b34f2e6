//! The admin route group on AWS Lambda (`/api/v1/admin/*`).

use studio::lambda::Responses;

#[tokio::main]
async fn main() -> Result<(), studio::lambda::Error> {
    let state =
        async { Ok(admin_api::AdminState::new(studio::lambda::knowledge_state().await?).await) };
    studio::lambda::http(Responses::Buffered, admin_api::routes(), state).await
}
