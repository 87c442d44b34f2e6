//! What a client of `/api/v1/workspaces/*` sees, against a real PostgreSQL: the routes, the role matrix,
//! and tenant isolation.

use http::{Method, StatusCode};
use serde_json::{Value, json};
use studio::Role;
use studio_testing::{TestApp, TestUser, assert_error};

async fn app() -> TestApp {
    TestApp::new(workspaces_api::routes()).await
}

fn ws(id: impl std::fmt::Display) -> String {
    format!("/api/v1/workspaces/{id}")
}

#[tokio::test]
async fn when_a_workspace_is_created_the_creator_owns_it_and_sees_it_listed() {
    let app = app().await;
    let ada = app.user("Ada").await;
    let res = app
        .post(
            "/api/v1/workspaces",
            Some(&ada.access_token),
            json!({"name": "  Support Team "}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    assert_eq!(
        (
            res.body["name"].as_str(),
            res.body["slug"].as_str(),
            res.body["role"].as_str()
        ),
        (Some("Support Team"), Some("support-team"), Some("owner"))
    );
    assert_eq!(res.body["plan"], "free");
    // The same name again gets its own slug.
    let again = app
        .post(
            "/api/v1/workspaces",
            Some(&ada.access_token),
            json!({"name": "Support Team"}),
        )
        .await;
    assert_ne!(again.body["slug"], res.body["slug"]);
    assert!(again.str("/slug").starts_with("support-team-"));

    let list = app.get("/api/v1/workspaces", Some(&ada.access_token)).await;
    assert_eq!(list.status, StatusCode::OK);
    assert_eq!(
        list.body["items"].as_array().unwrap().len(),
        3,
        "{}",
        list.body
    );
    assert_eq!(list.body["nextCursor"], serde_json::Value::Null);

    let shown = app.get(&ws(res.str("/id")), Some(&ada.access_token)).await;
    assert_eq!(shown.status, StatusCode::OK);
    assert_eq!(shown.body["id"], res.body["id"]);
}

#[tokio::test]
async fn when_creating_with_bad_input_or_no_token_nothing_is_created() {
    let app = app().await;
    let ada = app.user("Ada").await;
    for body in [
        json!({}),
        json!({"name": ""}),
        json!({"name": "   "}),
        json!({"name": "x".repeat(101)}),
        json!({"name": "ok", "plan": "pro"}),
    ] {
        let res = app
            .post("/api/v1/workspaces", Some(&ada.access_token), body.clone())
            .await;
        assert_eq!(
            (res.status, res.code()),
            (StatusCode::BAD_REQUEST, "validation_failed"),
            "{body}"
        );
    }
    assert_eq!(
        app.post("/api/v1/workspaces", None, json!({"name": "x"}))
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    let count: i64 = app.value("SELECT count(*) FROM workspaces", &[]).await;
    assert_eq!(count, 1, "only the registration's workspace");
}

#[tokio::test]
async fn when_listing_in_pages_the_cursor_walks_every_workspace_once() {
    let app = app().await;
    let ada = app.user("Ada").await;
    for i in 0..4 {
        app.post(
            "/api/v1/workspaces",
            Some(&ada.access_token),
            json!({"name": format!("WS {i}")}),
        )
        .await;
    }
    let mut seen = Vec::new();
    let mut path = "/api/v1/workspaces?limit=2".to_owned();
    loop {
        let page = app.get(&path, Some(&ada.access_token)).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        let items = page.body["items"].as_array().unwrap();
        assert!(items.len() <= 2);
        seen.extend(items.iter().map(|i| i["id"].as_str().unwrap().to_owned()));
        match page.body["nextCursor"].as_str() {
            Some(c) => path = format!("/api/v1/workspaces?limit=2&cursor={c}"),
            None => break,
        }
    }
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!((seen.len(), unique.len()), (5, 5));

    for bad in [
        "limit=0",
        "limit=101",
        "limit=abc",
        "cursor=garbage",
        "sort=name",
    ] {
        let path = format!("/api/v1/workspaces?{bad}");
        let res = app.get(&path, Some(&ada.access_token)).await;
        assert_eq!(
            (res.status, res.code()),
            (StatusCode::BAD_REQUEST, "validation_failed"),
            "{bad}"
        );
    }
}

struct Team {
    app: TestApp,
    workspace: uuid::Uuid,
    owner: TestUser,
    admin: TestUser,
    member: TestUser,
    viewer: TestUser,
}

async fn team() -> Team {
    let app = app().await;
    let owner = app.user("Owner").await;
    let (admin, member, viewer) = (
        app.user("Admin").await,
        app.user("Member").await,
        app.user("Viewer").await,
    );
    let workspace = owner.workspace_id;
    app.add_member(workspace, admin.id, Role::Admin).await;
    app.add_member(workspace, member.id, Role::Member).await;
    app.add_member(workspace, viewer.id, Role::Viewer).await;
    Team {
        app,
        workspace,
        owner,
        admin,
        member,
        viewer,
    }
}

#[tokio::test]
async fn when_each_role_calls_each_route_the_role_matrix_holds() {
    let t = team().await;
    let w = t.workspace;
    // (caller, method, path, body, expected status) — for mutating routes a fresh team keeps cases independent.
    let read_cases = [
        (&t.viewer, StatusCode::OK),
        (&t.member, StatusCode::OK),
        (&t.admin, StatusCode::OK),
        (&t.owner, StatusCode::OK),
    ];
    for (user, expected) in read_cases {
        assert_eq!(
            t.app.get(&ws(w), Some(&user.access_token)).await.status,
            expected
        );
        let members = t
            .app
            .get(&format!("{}/members", ws(w)), Some(&user.access_token))
            .await;
        assert_eq!(members.status, expected);
        assert_eq!(members.body["items"].as_array().unwrap().len(), 4);
    }
    for (user, expected) in [
        (&t.viewer, StatusCode::FORBIDDEN),
        (&t.member, StatusCode::FORBIDDEN),
        (&t.admin, StatusCode::OK),
        (&t.owner, StatusCode::OK),
    ] {
        let res = t
            .app
            .patch(&ws(w), Some(&user.access_token), json!({"name": "Renamed"}))
            .await;
        assert_eq!(res.status, expected, "rename by {}", user.email);
        if expected == StatusCode::FORBIDDEN {
            assert_eq!(res.code(), "forbidden");
        }
    }
    for (user, expected) in [
        (&t.viewer, StatusCode::FORBIDDEN),
        (&t.member, StatusCode::FORBIDDEN),
        (&t.admin, StatusCode::OK),
    ] {
        let res = t
            .app
            .patch(
                &format!("{}/members/{}", ws(w), t.viewer.id),
                Some(&user.access_token),
                json!({"role": "member"}),
            )
            .await;
        assert_eq!(res.status, expected, "role change by {}", user.email);
    }
    for user in [&t.viewer, &t.member, &t.admin] {
        let res = t.app.delete(&ws(w), Some(&user.access_token)).await;
        assert_eq!(
            res.status,
            StatusCode::FORBIDDEN,
            "delete by {}",
            user.email
        );
    }
    // A member cannot remove someone else; an admin can.
    assert_eq!(
        t.app
            .delete(
                &format!("{}/members/{}", ws(w), t.viewer.id),
                Some(&t.member.access_token)
            )
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        t.app
            .delete(
                &format!("{}/members/{}", ws(w), t.viewer.id),
                Some(&t.admin.access_token)
            )
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    let deleted = t.app.delete(&ws(w), Some(&t.owner.access_token)).await;
    assert_eq!(deleted.status, StatusCode::ACCEPTED, "{}", deleted.body);
    assert_eq!(deleted.body["id"], json!(w));
    // The answer says when it is purged for good: SOFT_DELETE_RETENTION_DAYS (30) after the deletion.
    let at = |p: &str| chrono::DateTime::parse_from_rfc3339(&deleted.str(p)).unwrap();
    assert_eq!(
        at("/purgeAt") - at("/deletedAt"),
        chrono::Duration::days(30)
    );
    assert!(
        (chrono::Utc::now() - at("/deletedAt").to_utc())
            .num_seconds()
            .abs()
            < 60
    );
    // Deleting it again: it is not there any more.
    assert_eq!(
        t.app
            .delete(&ws(w), Some(&t.owner.access_token))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    // Deleted: gone for everyone, including its owner.
    assert_eq!(
        t.app.get(&ws(w), Some(&t.owner.access_token)).await.status,
        StatusCode::NOT_FOUND
    );
    let listed = t
        .app
        .get("/api/v1/workspaces", Some(&t.admin.access_token))
        .await;
    assert!(listed.items().iter().all(|i| i["id"] != json!(w)));
}

#[tokio::test]
async fn when_a_member_of_workspace_a_calls_any_workspace_b_route_it_is_404() {
    let app = app().await;
    let a = app.user("Alice").await;
    let b = app.user("Bob").await;
    let target = b.workspace_id;
    let cases = [
        (Method::GET, ws(target), None),
        (Method::PATCH, ws(target), Some(json!({"name": "pwned"}))),
        (Method::DELETE, ws(target), None),
        (Method::GET, format!("{}/members", ws(target)), None),
        (
            Method::PATCH,
            format!("{}/members/{}", ws(target), b.id),
            Some(json!({"role": "viewer"})),
        ),
        (
            Method::DELETE,
            format!("{}/members/{}", ws(target), b.id),
            None,
        ),
    ];
    for (method, path, body) in cases {
        // The path's workspace wins over a header naming the caller's own workspace.
        let res = app
            .send_with(
                method.clone(),
                &path,
                Some(&a.access_token),
                body,
                &[("x-workspace-id", &a.workspace_id.to_string())],
            )
            .await;
        assert_eq!(
            (res.status, res.code()),
            (StatusCode::NOT_FOUND, "not_found"),
            "{method} {path}"
        );
    }
    // A workspace that does not exist at all answers exactly the same: the 404 confirms nothing.
    let other = app.get(&ws(target), Some(&a.access_token)).await;
    let missing = app
        .get(&ws(uuid::Uuid::new_v4()), Some(&a.access_token))
        .await;
    assert_eq!(other.status, missing.status);
    assert_eq!(
        other.body["error"]["message"],
        missing.body["error"]["message"]
    );
    assert_eq!(
        app.get(&ws("not-a-uuid"), Some(&a.access_token))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let name: String = app
        .sql()
        .await
        .query_one("SELECT name FROM workspaces WHERE id = $1", &[&target])
        .await
        .unwrap()
        .get(0);
    assert_ne!(name, "pwned");
}

#[tokio::test]
async fn when_a_member_is_removed_their_next_request_is_refused() {
    let t = team().await;
    let path = ws(t.workspace);
    assert_eq!(
        t.app.get(&path, Some(&t.member.access_token)).await.status,
        StatusCode::OK
    );
    let removed = t
        .app
        .delete(
            &format!("{path}/members/{}", t.member.id),
            Some(&t.admin.access_token),
        )
        .await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT);
    // Same, still unexpired token: membership is read per request.
    assert_eq!(
        t.app.get(&path, Some(&t.member.access_token)).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn when_ownership_changes_only_owners_act_and_the_last_owner_stays() {
    let t = team().await;
    let m = |u: &TestUser| format!("{}/members/{}", ws(t.workspace), u.id);
    // The last owner can neither be demoted nor leave.
    let demote = t
        .app
        .patch(
            &m(&t.owner),
            Some(&t.owner.access_token),
            json!({"role": "admin"}),
        )
        .await;
    assert_error(&demote, StatusCode::CONFLICT, "conflict");
    let leave = t
        .app
        .delete(&m(&t.owner), Some(&t.owner.access_token))
        .await;
    assert_eq!(leave.status, StatusCode::CONFLICT);
    // Admins cannot grant owner, demote or remove an owner.
    assert_eq!(
        t.app
            .patch(
                &m(&t.admin),
                Some(&t.admin.access_token),
                json!({"role": "owner"})
            )
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        t.app
            .patch(
                &m(&t.owner),
                Some(&t.admin.access_token),
                json!({"role": "viewer"})
            )
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        t.app
            .delete(&m(&t.owner), Some(&t.admin.access_token))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    // An owner grants owner; then the first owner may step down and leave.
    let grant = t
        .app
        .patch(
            &m(&t.admin),
            Some(&t.owner.access_token),
            json!({"role": "owner"}),
        )
        .await;
    assert_eq!(
        (grant.status, grant.body["role"].as_str()),
        (StatusCode::OK, Some("owner")),
        "{}",
        grant.body
    );
    assert_eq!(
        t.app
            .patch(
                &m(&t.owner),
                Some(&t.owner.access_token),
                json!({"role": "member"})
            )
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        t.app
            .delete(&m(&t.owner), Some(&t.owner.access_token))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    // Anyone may leave.
    assert_eq!(
        t.app
            .delete(&m(&t.viewer), Some(&t.viewer.access_token))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    // Unknown member, bad role, bad user id.
    assert_eq!(
        t.app
            .patch(
                &m(&t.viewer),
                Some(&t.admin.access_token),
                json!({"role": "member"})
            )
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let bad_role = t
        .app
        .patch(
            &m(&t.member),
            Some(&t.admin.access_token),
            json!({"role": "superuser"}),
        )
        .await;
    assert_error(&bad_role, StatusCode::BAD_REQUEST, "validation_failed");
    let bad_id = t
        .app
        .patch(
            &format!("{}/members/nope", ws(t.workspace)),
            Some(&t.admin.access_token),
            json!({"role": "member"}),
        )
        .await;
    assert_error(&bad_id, StatusCode::BAD_REQUEST, "validation_failed");
}

#[tokio::test]
async fn when_two_owners_demote_each_other_at_once_one_owner_remains() {
    let t = team().await;
    let m = |u: &TestUser| format!("{}/members/{}", ws(t.workspace), u.id);
    t.app
        .patch(
            &m(&t.admin),
            Some(&t.owner.access_token),
            json!({"role": "owner"}),
        )
        .await;
    let (admin_path, owner_path) = (m(&t.admin), m(&t.owner));
    let (a, b) = tokio::join!(
        t.app.patch(
            &admin_path,
            Some(&t.owner.access_token),
            json!({"role": "member"})
        ),
        t.app.patch(
            &owner_path,
            Some(&t.admin.access_token),
            json!({"role": "member"})
        ),
    );
    let mut statuses = [a.status.as_u16(), b.status.as_u16()];
    statuses.sort_unstable();
    assert!(
        statuses == [200, 403] || statuses == [200, 409],
        "{statuses:?}"
    );
    let owners: i64 = t
        .app
        .sql()
        .await
        .query_one(
            "SELECT count(*) FROM workspace_members WHERE role = 'owner'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    // The team's owner workspace, plus each user's own registration workspace.
    let in_team: i64 = t
        .app
        .sql()
        .await
        .query_one(
            "SELECT count(*) FROM workspace_members WHERE role = 'owner' AND workspace_id = $1",
            &[&t.workspace],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(in_team, 1);
    assert!(owners >= 1);
}

#[tokio::test]
async fn when_an_account_is_deleted_its_unexpired_token_loses_workspace_access_at_once() {
    let t = team().await;
    assert_eq!(
        t.app
            .get(&ws(t.workspace), Some(&t.member.access_token))
            .await
            .status,
        StatusCode::OK
    );
    t.app
        .sql()
        .await
        .execute(
            "UPDATE users SET deleted_at = now() WHERE id = $1",
            &[&t.member.id],
        )
        .await
        .unwrap();
    assert_eq!(
        t.app
            .get(&ws(t.workspace), Some(&t.member.access_token))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

/// The members page runs under row-level security: without the memberships' tenant policy it lists no
/// one (its query runs as `studio_app`), with it the workspace's members.
#[tokio::test]
async fn when_the_memberships_policy_is_taken_away_the_members_route_lists_no_one() {
    let app = TestApp::new(workspaces_api::routes()).await;
    let ada = app.user("Ada").await;
    let path = format!("/api/v1/workspaces/{}/members", ada.workspace_id);
    let res = app.get(&path, Some(&ada.access_token)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(res.body["items"].as_array().unwrap().len(), 1);
    let owner = studio_testing::admin_client(&app.db_url).await;
    owner
        .batch_execute("DROP POLICY tenant ON workspace_members")
        .await
        .unwrap();
    let res = app.get(&path, Some(&ada.access_token)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(
        res.body["items"].as_array().unwrap().len(),
        0,
        "{}",
        res.body
    );
}

#[tokio::test]
async fn when_an_admin_sets_the_conversation_retention_it_is_shown_audited_and_bad_values_are_refused()
 {
    let app = TestApp::new(workspaces_api::routes()).await;
    let ada = app.user("Ada").await;
    let admin = app.member("Bob", &ada, Role::Admin).await;
    let member = app.member("Cy", &ada, Role::Member).await;
    let eve = app.user("Eve").await;
    let path = format!("/api/v1/workspaces/{}/retention", ada.workspace_id);
    let put = |token: &str, body: Value| {
        let (app, path, token) = (&app, path.clone(), token.to_owned());
        async move { app.send(Method::PUT, &path, Some(&token), Some(body)).await }
    };

    let shown = app
        .get(
            &format!("/api/v1/workspaces/{}", ada.workspace_id),
            Some(&ada.access_token),
        )
        .await;
    assert_eq!(
        shown.body["conversationRetentionDays"],
        Value::Null,
        "kept by default"
    );

    let set = put(&admin.access_token, json!({"conversationDays": 30})).await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.body);
    assert_eq!(set.body["conversationRetentionDays"], 30);
    let shown = app
        .get(
            &format!("/api/v1/workspaces/{}", ada.workspace_id),
            Some(&member.access_token),
        )
        .await;
    assert_eq!(shown.body["conversationRetentionDays"], 30);

    for bad in [
        json!({"conversationDays": 0}),
        json!({"conversationDays": 3651}),
        json!({"conversationDays": "30"}),
        json!({"days": 30}),
    ] {
        let res = put(&ada.access_token, bad.clone()).await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{bad}: {}", res.body);
    }
    assert_error(
        &put(&member.access_token, json!({"conversationDays": 1})).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    assert_error(
        &put(&eve.access_token, json!({"conversationDays": 1})).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    // Null keeps them again.
    let cleared = put(&ada.access_token, json!({"conversationDays": null})).await;
    assert_eq!(cleared.status, StatusCode::OK);
    assert_eq!(cleared.body["conversationRetentionDays"], Value::Null);
    let audited: i64 = app
        .value(
            "SELECT count(*) FROM audit_log WHERE workspace_id = $1 AND action = 'workspace.retention'",
            &[&ada.workspace_id],
        )
        .await;
    assert_eq!(audited, 2);
}
