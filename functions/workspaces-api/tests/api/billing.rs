//! The billing view: plan, status, limits and usage, for admins only.

use http::{Method, StatusCode};
use studio::Role;
use studio_testing::TestApp;

#[tokio::test]
async fn when_an_admin_reads_billing_the_plan_limits_and_usage_show_and_members_are_refused() {
    let app = TestApp::new(workspaces_api::routes()).await;
    let owner = app.user("Owner").await;
    let member = app.user("Member").await;
    app.add_member(owner.workspace_id, member.id, Role::Member)
        .await;
    let path = format!("/api/v1/workspaces/{}/billing", owner.workspace_id);
    let res = app.get(&path, Some(&owner.access_token)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(
        (res.body["plan"].as_str(), res.body["status"].as_str()),
        (Some("free"), Some("none"))
    );
    assert_eq!(res.body["usage"]["members"], 2);
    assert_eq!(res.body["limits"]["members"], 3);
    // The chat limit is named after what it counts: turns.
    assert_eq!(res.body["limits"]["chatTurnsPerMonth"], 200);
    assert_eq!(res.body["usage"]["chatTurnsThisMonth"], 0);
    assert_eq!(res.body["usage"]["pendingInvitations"], 0);
    assert!(res.body["limits"].get("chatMessagesPerMonth").is_none());
    app.sql()
        .await
        .execute(
            "UPDATE workspaces SET plan = 'pro', billing_status = 'active' WHERE id = $1",
            &[&owner.workspace_id],
        )
        .await
        .unwrap();
    let pro = app.get(&path, Some(&owner.access_token)).await;
    assert_eq!(
        (
            pro.body["plan"].as_str(),
            pro.body["limits"]["members"].as_u64()
        ),
        (Some("pro"), Some(10))
    );
    let ws = owner.workspace_id.to_string();
    let denied = app
        .send_with(
            Method::GET,
            &path,
            Some(&member.access_token),
            None,
            &[("x-workspace-id", &ws)],
        )
        .await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);
    let stranger = app.user("Stranger").await;
    assert_eq!(
        app.get(&path, Some(&stranger.access_token)).await.status,
        StatusCode::NOT_FOUND
    );
}
