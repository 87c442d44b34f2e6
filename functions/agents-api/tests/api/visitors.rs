//! A visitor's data on their request: exported whole and erased for good by the workspace's admins —
//! nobody else, and no other workspace — with the erasure in the workspace's audit log without their data.

use crate::support::{visitor_conversation, visitor_of};
use http::StatusCode;
use studio::Role;
use studio::agent::ConversationStatus;
use studio::knowledge::Embedder;
use studio_testing::{assert_error, knowledge_app, local_queue};
use uuid::Uuid;

#[tokio::test]
async fn when_an_admin_exports_a_visitor_they_get_who_it_is_and_every_conversation_with_its_messages()
 {
    let (app, _k) = knowledge_app(Embedder::offline(), local_queue().0, agents_api::routes()).await;
    let ada = app.user("Ada").await;
    let conv = visitor_conversation(&app, &ada, ConversationStatus::Bot, 0).await;
    let visitor = visitor_of(&app, &conv).await;
    let res = app
        .get(
            &format!("/api/v1/agents/visitors/{visitor}"),
            Some(&ada.access_token),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(res.body["visitor"]["id"], visitor.as_str());
    assert_eq!(res.body["visitor"]["anonymous"], true);
    let conversations = res.body["conversations"].as_array().unwrap();
    assert_eq!(conversations.len(), 1);
    assert_eq!(conversations[0]["id"], conv.as_str());
    assert_eq!(
        conversations[0]["messages"][0]["content"],
        "Where is my parcel?"
    );
    // The export reveals nothing of the visitor's token.
    assert!(!res.body.to_string().contains("token"), "{}", res.body);
}

#[tokio::test]
async fn when_an_admin_erases_a_visitor_everything_of_theirs_goes_and_the_log_keeps_no_personal_data()
 {
    let (app, _k) = knowledge_app(Embedder::offline(), local_queue().0, agents_api::routes()).await;
    let ada = app.user("Ada").await;
    let conv = visitor_conversation(&app, &ada, ConversationStatus::WaitingForHuman, 0).await;
    let visitor = visitor_of(&app, &conv).await;
    let other = visitor_conversation(&app, &ada, ConversationStatus::Bot, 0).await;
    let path = format!("/api/v1/agents/visitors/{visitor}");
    let res = app.delete(&path, Some(&ada.access_token)).await;
    assert_eq!(res.status, StatusCode::NO_CONTENT, "{}", res.body);
    for (sql, left) in [
        (
            "SELECT count(*) FROM visitors WHERE id = $1::text::uuid",
            0i64,
        ),
        (
            "SELECT count(*) FROM conversations WHERE visitor_id = $1::text::uuid",
            0,
        ),
    ] {
        assert_eq!(app.value::<i64>(sql, &[&visitor]).await, left, "{sql}");
    }
    let messages: i64 = app
        .value(
            "SELECT count(*) FROM messages WHERE conversation_id = $1::text::uuid",
            &[&conv],
        )
        .await;
    assert_eq!(messages, 0);
    // The other visitor is untouched.
    let kept: i64 = app
        .value(
            "SELECT count(*) FROM conversations WHERE id = $1::text::uuid",
            &[&other],
        )
        .await;
    assert_eq!(kept, 1);
    let entry: serde_json::Value = app
        .value(
            "SELECT jsonb_build_object('action', action, 'target', target_id, 'details', details, 'actor', actor_user_id)
               FROM audit_log WHERE workspace_id = $1",
            &[&ada.workspace_id],
        )
        .await;
    assert_eq!(entry["action"], "visitor.erase");
    assert_eq!(entry["target"], visitor.as_str());
    assert_eq!(entry["details"], serde_json::json!({"conversations": 1}));
    assert_eq!(entry["actor"], ada.id.to_string());
    // Erasing again: there is nothing left.
    assert_error(
        &app.delete(&path, Some(&ada.access_token)).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_error(
        &app.get(&path, Some(&ada.access_token)).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
}

#[tokio::test]
async fn when_a_member_or_another_workspace_asks_for_a_visitor_it_is_refused() {
    let (app, _k) = knowledge_app(Embedder::offline(), local_queue().0, agents_api::routes()).await;
    let ada = app.user("Ada").await;
    let conv = visitor_conversation(&app, &ada, ConversationStatus::Bot, 0).await;
    let visitor = visitor_of(&app, &conv).await;
    let path = format!("/api/v1/agents/visitors/{visitor}");
    let member = app.member("Max", &ada, Role::Member).await;
    let ws = ada.workspace_id.to_string();
    for method in [http::Method::GET, http::Method::DELETE] {
        let res = app
            .send_with(
                method,
                &path,
                Some(&member.access_token),
                None,
                &[("x-workspace-id", &ws)],
            )
            .await;
        assert_error(&res, StatusCode::FORBIDDEN, "forbidden");
    }
    let bob = app.user("Bob").await;
    assert_error(
        &app.get(&path, Some(&bob.access_token)).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_error(
        &app.delete(&path, Some(&bob.access_token)).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    let unknown = format!("/api/v1/agents/visitors/{}", Uuid::now_v7());
    assert_error(
        &app.get(&unknown, Some(&ada.access_token)).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    let still: i64 = app
        .value(
            "SELECT count(*) FROM visitors WHERE id = $1::text::uuid",
            &[&visitor],
        )
        .await;
    assert_eq!(still, 1);
}
