//! The public routes' own CORS: a preflight answers any origin (it carries no key, and no data); every
//! other answer names the request's origin only when the key allows it; the member API's CORS
//! (`CORS_ALLOWED_ORIGINS`) is not involved either way.

use crate::support::*;
use http::{Method, StatusCode};
use serde_json::json;

async fn preflight(p: &Public, path: &str, origin: Option<&str>) -> studio_testing::TestResponse {
    let mut headers = vec![
        ("access-control-request-method", "POST"),
        (
            "access-control-request-headers",
            "authorization, content-type",
        ),
    ];
    if let Some(o) = origin {
        headers.push(("origin", o));
    }
    p.app
        .send_with(Method::OPTIONS, path, None, None, &headers)
        .await
}

#[tokio::test]
async fn when_a_browser_preflights_a_public_route_any_origin_gets_the_methods_and_no_data() {
    let p = setup().await;
    for origin in [SHOP, "https://anyone.test"] {
        let res = preflight(&p, "/api/v1/public/messages", Some(origin)).await;
        assert_eq!(res.status, StatusCode::NO_CONTENT);
        assert_eq!(res.headers["access-control-allow-origin"], origin);
        assert!(
            res.headers["access-control-allow-headers"]
                .to_str()
                .unwrap()
                .contains("authorization")
        );
        assert!(
            res.headers["access-control-allow-methods"]
                .to_str()
                .unwrap()
                .contains("POST")
        );
        assert!(
            res.headers
                .get("access-control-allow-credentials")
                .is_none()
        );
        assert_eq!(res.body, serde_json::Value::Null);
    }
    let bare = preflight(&p, "/api/v1/public/messages", None).await;
    assert!(bare.headers.get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn when_a_public_answer_is_for_an_allowed_origin_it_names_it_and_exposes_the_limit_headers() {
    let p = setup().await;
    let v = p.visitor().await;
    let res = v.get(&p.app, "/api/v1/public/conversations").await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(res.headers["access-control-allow-origin"], SHOP);
    assert_eq!(res.headers["vary"], "origin");
    let exposed = res.headers["access-control-expose-headers"]
        .to_str()
        .unwrap();
    for h in ["retry-after", "ratelimit-remaining", "x-request-id"] {
        assert!(exposed.contains(h), "{exposed}");
    }
    assert!(
        res.headers
            .get("access-control-allow-credentials")
            .is_none()
    );
}

#[tokio::test]
async fn when_an_unknown_key_is_sent_the_answer_names_no_origin() {
    let p = setup().await;
    let res = open(
        &p.app,
        &format!("pk_ws_{}", "C".repeat(43)),
        Some("https://evil.test"),
        json!({}),
    )
    .await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    assert!(res.headers.get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn when_the_member_api_is_preflighted_from_a_tenants_site_the_public_rules_do_not_apply() {
    let p = setup().await;
    let res = preflight(&p, "/api/v1/agents/conversations", Some(SHOP)).await;
    assert!(
        res.headers.get("access-control-allow-origin").is_none(),
        "{:?}",
        res.headers
    );
}
