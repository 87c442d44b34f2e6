//! Invitations as clients see them: invite (admin+, owners invite owners), the mail through the moto
//! server's SES, accept by the invited address only, revoke, expiry, duplicates, the members quota, and
//! another tenant's invitation.

use http::StatusCode;
use serde_json::json;
use studio::Role;
use studio::billing::Plan;
use studio::email::{EmailKind, EmailMessage};
use studio_testing::{
    TestApp, TestResponse, TestUser, assert_error, moto_sdk, outbox_mail, ses_mailer, ses_sent_to,
    set_plan, token_in,
};
use uuid::Uuid;

async fn app() -> TestApp {
    TestApp::new(workspaces_api::routes()).await
}

fn invitations(ws: Uuid) -> String {
    format!("/api/v1/workspaces/{ws}/invitations")
}

fn address(name: &str) -> String {
    format!("{name}-{}@example.com", Uuid::new_v4().simple())
}

/// Registers an account with exactly this address.
async fn register(app: &TestApp, email: &str, name: &str) -> String {
    studio::services::auth::register(
        &app.state,
        email,
        "correct horse battery".to_owned().into(),
        name,
        None,
    )
    .await
    .unwrap()
    .tokens
    .access_token
}

async fn invite(app: &TestApp, by: &TestUser, email: &str, role: &str) -> TestResponse {
    app.post(
        &invitations(by.workspace_id),
        Some(&by.access_token),
        json!({"email": email, "role": role}),
    )
    .await
}

async fn accept(app: &TestApp, token: &str, access: &str) -> TestResponse {
    app.post(
        &format!("/api/v1/invitations/{token}/accept"),
        Some(access),
        json!({}),
    )
    .await
}

async fn invitation_mail(app: &TestApp, to: &str) -> EmailMessage {
    outbox_mail(&app.db_url)
        .await
        .into_iter()
        .rev()
        .find(|m| m.kind == EmailKind::Invitation && m.to == to)
        .expect("an invitation mail")
}

#[tokio::test]
async fn when_an_admin_invites_someone_without_an_account_they_register_accept_and_join() {
    let app = app().await;
    let ada = app.user("Ada").await;
    let grace_email = address("grace");
    let res = invite(&app, &ada, &grace_email.to_uppercase(), "member").await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    assert_eq!(res.body["status"], "pending");
    assert_eq!(res.body["email"], grace_email.as_str());
    assert_eq!(res.body["role"], "member");

    // The mail, through SES: who invited, to which workspace, and the link.
    let mail = invitation_mail(&app, &grace_email).await;
    let token = token_in(&mail);
    ses_mailer(&moto_sdk().await)
        .await
        .send(&mail)
        .await
        .unwrap();
    let sent = ses_sent_to(&grace_email).await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].subject, "Ada invited you to Ada's workspace");
    assert!(sent[0].body.contains(&format!("/invitations/{token}")));

    // Grace has no account yet: she registers with the invited address, then accepts.
    let grace = register(&app, &grace_email, "Grace").await;
    let accepted = accept(&app, &token, &grace).await;
    assert_eq!(accepted.status, StatusCode::OK, "{}", accepted.body);
    assert_eq!(accepted.body["workspaceId"], ada.workspace_id.to_string());
    assert_eq!(accepted.body["role"], "member");
    let members = app
        .get(
            &format!("/api/v1/workspaces/{}/members", ada.workspace_id),
            Some(&grace),
        )
        .await;
    assert_eq!(members.status, StatusCode::OK);
    assert_eq!(members.body["items"].as_array().unwrap().len(), 2);

    // Used up.
    let again = accept(&app, &token, &grace).await;
    assert_eq!(again.code(), "invalid_token");
    let listed = app
        .get(&invitations(ada.workspace_id), Some(&ada.access_token))
        .await;
    assert_eq!(listed.body["items"][0]["status"], "accepted");
}

#[tokio::test]
async fn when_another_account_accepts_it_is_refused_and_the_invitation_stays_open() {
    let app = app().await;
    let ada = app.user("Ada").await;
    let grace_email = address("grace");
    invite(&app, &ada, &grace_email, "viewer").await;
    let token = token_in(&invitation_mail(&app, &grace_email).await);

    let eve = app.user("Eve").await;
    let refused = accept(&app, &token, &eve.access_token).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(
        refused.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("another address")
    );
    let eve_sees = app
        .get(
            &format!("/api/v1/workspaces/{}", ada.workspace_id),
            Some(&eve.access_token),
        )
        .await;
    assert_eq!(eve_sees.status, StatusCode::NOT_FOUND, "Eve did not join");
    // Not signed in at all.
    let anonymous = app
        .post(
            &format!("/api/v1/invitations/{token}/accept"),
            None,
            json!({}),
        )
        .await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);

    let grace = register(&app, &grace_email, "Grace").await;
    let ok = accept(&app, &token, &grace).await;
    assert_eq!(
        (ok.status, ok.body["role"].as_str()),
        (StatusCode::OK, Some("viewer"))
    );
}

#[tokio::test]
async fn when_roles_are_too_low_invitations_are_refused_and_only_owners_invite_owners() {
    let app = app().await;
    let ada = app.user("Ada").await;
    let bob = app.user("Bob").await;
    app.add_member(ada.workspace_id, bob.id, Role::Member).await;
    let carol = app.user("Carol").await;
    app.add_member(ada.workspace_id, carol.id, Role::Admin)
        .await;
    // Three members fill the free plan: upgrade so that only roles decide here.
    set_plan(&app, ada.workspace_id, Plan::Pro).await;
    let as_member = app
        .post(
            &invitations(ada.workspace_id),
            Some(&bob.access_token),
            json!({"email": address("x"), "role": "viewer"}),
        )
        .await;
    assert_eq!(as_member.status, StatusCode::FORBIDDEN);
    let admin_invites_owner = app
        .post(
            &invitations(ada.workspace_id),
            Some(&carol.access_token),
            json!({"email": address("y"), "role": "owner"}),
        )
        .await;
    assert_eq!(admin_invites_owner.status, StatusCode::FORBIDDEN);
    let admin_invites_admin = app
        .post(
            &invitations(ada.workspace_id),
            Some(&carol.access_token),
            json!({"email": address("z"), "role": "admin"}),
        )
        .await;
    assert_eq!(admin_invites_admin.status, StatusCode::CREATED);
    let owner_invites_owner = invite(&app, &ada, &address("w"), "owner").await;
    assert_eq!(
        owner_invites_owner.status,
        StatusCode::CREATED,
        "{}",
        owner_invites_owner.body
    );
}

#[tokio::test]
async fn when_an_invitation_is_a_duplicate_or_malformed_it_is_refused() {
    let app = app().await;
    let ada = app.user("Ada").await;
    let grace = address("grace");
    assert_eq!(
        invite(&app, &ada, &grace, "member").await.status,
        StatusCode::CREATED
    );
    let twice = invite(&app, &ada, &grace.to_uppercase(), "admin").await;
    assert_eq!(twice.status, StatusCode::CONFLICT);
    assert!(
        twice.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("pending")
    );
    let member = invite(&app, &ada, &ada.email, "member").await;
    assert_eq!(member.status, StatusCode::CONFLICT);
    let bad = invite(&app, &ada, "not-an-address", "member").await;
    assert_eq!(bad.code(), "validation_failed");
    assert_eq!(bad.body["error"]["details"][0]["field"], "email");
    let bad_role = invite(&app, &ada, &address("h"), "superuser").await;
    assert_eq!(bad_role.status, StatusCode::BAD_REQUEST);
    let unknown_field = app
        .post(
            &invitations(ada.workspace_id),
            Some(&ada.access_token),
            json!({"email": address("i"), "role": "member", "admin": true}),
        )
        .await;
    assert_eq!(unknown_field.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        outbox_mail(&app.db_url)
            .await
            .iter()
            .filter(|m| m.kind == EmailKind::Invitation)
            .count(),
        1,
        "only the one accepted invitation was mailed"
    );
}

#[tokio::test]
async fn when_an_invitation_is_revoked_or_expired_its_link_stops_working() {
    let app = app().await;
    let ada = app.user("Ada").await;
    let grace_email = address("grace");
    let created = invite(&app, &ada, &grace_email, "member").await;
    let id = created.str("/id");
    let token = token_in(&invitation_mail(&app, &grace_email).await);
    let grace = register(&app, &grace_email, "Grace").await;

    // Another workspace's admin cannot touch it.
    let eve = app.user("Eve").await;
    let foreign = app
        .delete(
            &format!("/api/v1/workspaces/{}/invitations/{id}", eve.workspace_id),
            Some(&eve.access_token),
        )
        .await;
    assert_eq!(foreign.status, StatusCode::NOT_FOUND);

    let revoked = app
        .delete(
            &format!("{}/{id}", invitations(ada.workspace_id)),
            Some(&ada.access_token),
        )
        .await;
    assert_eq!(revoked.status, StatusCode::NO_CONTENT);
    let after = accept(&app, &token, &grace).await;
    assert_eq!(after.code(), "invalid_token");
    assert!(
        after.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("revoked")
    );
    let again = app
        .delete(
            &format!("{}/{id}", invitations(ada.workspace_id)),
            Some(&ada.access_token),
        )
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT);

    // A new invitation, which expires.
    assert_eq!(
        invite(&app, &ada, &grace_email, "member").await.status,
        StatusCode::CREATED
    );
    let token = token_in(&invitation_mail(&app, &grace_email).await);
    app.sql()
        .await
        .execute(
            "UPDATE invitations SET expires_at = now() - interval '1 second' WHERE revoked_at IS NULL",
            &[],
        )
        .await
        .unwrap();
    let expired = accept(&app, &token, &grace).await;
    assert_eq!(expired.code(), "invalid_token");
    assert!(
        expired.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("expired")
    );
    // An expired invitation does not block a new one.
    assert_eq!(
        invite(&app, &ada, &grace_email, "member").await.status,
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn when_the_plan_is_full_pending_invitations_count_and_the_next_is_refused() {
    let app = app().await;
    let ada = app.user("Ada").await;
    // Free plan: 3 members. Ada plus two pending invitations fill it.
    assert_eq!(
        invite(&app, &ada, &address("a"), "member").await.status,
        StatusCode::CREATED
    );
    assert_eq!(
        invite(&app, &ada, &address("b"), "member").await.status,
        StatusCode::CREATED
    );
    let full = invite(&app, &ada, &address("c"), "member").await;
    assert_error(&full, StatusCode::PAYMENT_REQUIRED, "quota_exceeded");
    assert_eq!(full.body["error"]["details"]["limit"], "members");
}

#[tokio::test]
async fn when_members_and_pending_invitations_fill_the_plan_the_refusal_counts_both_consistently() {
    let app = app().await;
    let ada = app.user("Ada").await;
    let bob = app.user("Bob").await;
    app.add_member(ada.workspace_id, bob.id, Role::Member).await;
    assert_eq!(
        invite(&app, &ada, &address("a"), "member").await.status,
        StatusCode::CREATED
    );
    let full = invite(&app, &ada, &address("b"), "member").await;
    assert_error(&full, StatusCode::PAYMENT_REQUIRED, "quota_exceeded");
    assert_eq!(
        full.body["error"]["message"],
        "The free plan allows 3 members, counting pending invitations; 2 members and 1 pending invitation use all 3. Revoke a pending invitation, remove a member or upgrade the plan to continue."
    );
    assert_eq!(
        full.body["error"]["details"],
        json!({"limit": "members", "max": 3, "used": 3, "plan": "free", "members": 2, "pendingInvitations": 1})
    );
    // The billing view counts the same way.
    let billing = app
        .get(
            &format!("/api/v1/workspaces/{}/billing", ada.workspace_id),
            Some(&ada.access_token),
        )
        .await;
    assert_eq!(billing.body["usage"]["members"], 2, "{}", billing.body);
    assert_eq!(billing.body["usage"]["pendingInvitations"], 1);
}

#[tokio::test]
async fn when_the_plan_was_downgraded_an_acceptance_is_refused_counting_members_only() {
    let app = app().await;
    let ada = app.user("Ada").await;
    set_plan(&app, ada.workspace_id, Plan::Pro).await;
    for name in ["Bob", "Cy"] {
        let u = app.user(name).await;
        app.add_member(ada.workspace_id, u.id, Role::Member).await;
    }
    let dora = address("dora");
    assert_eq!(
        invite(&app, &ada, &dora, "member").await.status,
        StatusCode::CREATED
    );
    set_plan(&app, ada.workspace_id, Plan::Free).await;
    let access = register(&app, &dora, "Dora").await;
    let token = token_in(&invitation_mail(&app, &dora).await);
    let refused = accept(&app, &token, &access).await;
    assert_error(&refused, StatusCode::PAYMENT_REQUIRED, "quota_exceeded");
    assert_eq!(
        refused.body["error"]["message"],
        "The free plan allows 3 members; 3 members use all 3. Remove a member or upgrade the plan to continue."
    );
    assert_eq!(
        refused.body["error"]["details"],
        json!({"limit": "members", "max": 3, "used": 3, "plan": "free", "members": 3})
    );
}

#[tokio::test]
async fn when_the_invitation_events_arrive_through_api_gateway_they_are_served() {
    let app = app().await;
    let ada = app.user("Ada").await;
    let event = |name: &str| {
        let path = format!("{}/../../events/{name}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(path)
            .unwrap()
            .replace("REPLACE_WITH_ACCESS_TOKEN", &ada.access_token)
            .replace("REPLACE_WITH_WORKSPACE_ID", &ada.workspace_id.to_string());
        lambda_http::request::from_str(&text)
            .unwrap()
            .map(|b| axum::body::Body::from(b.to_vec()))
    };
    let invited = app.call(event("workspaces-invite.json")).await;
    assert_eq!(invited.status, StatusCode::CREATED, "{}", invited.body);
    assert_eq!(invited.body["email"], "new.teammate@example.com");
    let accepted = app.call(event("invitations-accept.json")).await;
    assert_eq!(
        accepted.code(),
        "invalid_token",
        "the sample's token is unknown here"
    );
}

#[tokio::test]
async fn when_an_invited_address_has_surrounding_spaces_they_are_trimmed() {
    let app = app().await;
    let ada = app.user("Ada").await;
    let grace = address("grace");
    let res = invite(&app, &ada, &format!("  {grace}\t"), "member").await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    assert_eq!(res.body["email"], grace.as_str());
    let _ = invitation_mail(&app, &grace).await;
    let blank = invite(&app, &ada, "   ", "member").await;
    assert_eq!(blank.code(), "validation_failed");
    assert_eq!(blank.body["error"]["details"][0]["field"], "email");
}

#[tokio::test]
async fn when_an_invitation_is_accepted_its_workspace_becomes_the_default_the_next_token_acts_in() {
    let app = app().await;
    let ada = app.user("Ada").await;
    let grace_email = address("grace");
    let grace = studio::services::auth::register(
        &app.state,
        &grace_email,
        "correct horse battery".to_owned().into(),
        "Grace",
        None,
    )
    .await
    .unwrap();
    let own = grace.workspace.id;
    assert_eq!(
        invite(&app, &ada, &grace_email, "viewer").await.status,
        StatusCode::CREATED
    );
    let token = token_in(&invitation_mail(&app, &grace_email).await);
    let accepted = accept(&app, &token, &grace.tokens.access_token).await;
    assert_eq!(accepted.status, StatusCode::OK, "{}", accepted.body);
    assert_eq!(accepted.body["workspaceId"], ada.workspace_id.to_string());

    let me = studio::services::auth::me(&app.state, grace.user.id)
        .await
        .unwrap();
    assert_eq!(me.default_workspace_id, Some(ada.workspace_id));
    assert_eq!(me.workspaces.len(), 2);
    // The session's next token names the joined workspace, so requests without X-Workspace-Id land there.
    let pair = studio::services::auth::refresh(&app.state, &grace.tokens.refresh_token, None)
        .await
        .unwrap();
    assert_eq!(
        app.state.jwt.verify(&pair.access_token).unwrap().wid,
        Some(ada.workspace_id)
    );
    // Her own workspace stays hers; it is just not the default any more.
    assert!(me.workspaces.iter().any(|w| w.id == own));
}
