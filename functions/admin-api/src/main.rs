//! The admin route group on AWS Lambda (`/api/v1/admin/*`).

#[tokio::main]
async fn main() -> Result<(), studio::lambda::Error> {
    let state =
        async { Ok(admin_api::AdminState::new(studio::lambda::knowledge_state().await?).await) };
    studio::lambda::http(admin_api::routes(), state).await
}
