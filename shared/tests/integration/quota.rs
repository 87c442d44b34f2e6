//! The members quota, checked where members are added (invitations call it).

use studio::billing::{Consumption, Plan, check_quota};
use studio_testing::{TestApp, TestDb, set_plan};

#[tokio::test]
async fn when_members_would_pass_the_plan_limit_the_check_is_402_naming_members() {
    let db = TestDb::new().await;
    let app = TestApp::with_state(
        axum::Router::new(),
        studio_testing::state(&db.url),
        db.url.clone(),
    );
    let owner = app.user("Owner").await;
    let ws = studio::WorkspaceId::from_trusted_source(owner.workspace_id);
    let client = app.sql().await;
    // Free: 3 members. The owner is one; two more fit exactly.
    check_quota(&client, ws, Consumption::Members(2))
        .await
        .expect("at the limit");
    let err = check_quota(&client, ws, Consumption::Members(3))
        .await
        .expect_err("past the limit");
    assert_eq!(err.code, studio::ErrorCode::QuotaExceeded);
    assert_eq!(err.details.as_ref().unwrap()["limit"], "members");
    set_plan(&app, owner.workspace_id, Plan::Pro).await;
    check_quota(&client, ws, Consumption::Members(3))
        .await
        .expect("pro allows 10");
}
