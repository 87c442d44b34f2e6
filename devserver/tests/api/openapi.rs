//! The OpenAPI document kept in the repository is the one the code generates, and it covers every route.

use crate::common::dev_app;

use http::StatusCode;

fn committed_path() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../openapi.json")
}

#[test]
fn when_the_code_changes_the_committed_openapi_json_must_be_regenerated() {
    let generated = serde_json::to_string_pretty(&devserver::openapi()).unwrap() + "\n";
    if std::env::var("UPDATE_OPENAPI").is_ok() {
        std::fs::write(committed_path(), &generated).unwrap();
    }
    let committed = std::fs::read_to_string(committed_path()).unwrap_or_default();
    assert!(
        committed == generated,
        "openapi.json is stale: regenerate it with `UPDATE_OPENAPI=1 cargo test -p devserver --test api openapi` and commit it"
    );
}

#[test]
fn when_the_document_is_generated_every_route_and_error_schema_is_in_it() {
    let doc = serde_json::to_value(devserver::openapi()).unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    let paths = doc["paths"].as_object().unwrap();
    for (path, method) in [
        ("/api/v1/auth/register", "post"),
        ("/api/v1/auth/login", "post"),
        ("/api/v1/auth/token", "post"),
        ("/api/v1/auth/logout", "post"),
        ("/api/v1/auth/me", "get"),
        ("/api/v1/auth/me/default-workspace", "put"),
        ("/api/v1/auth/health", "get"),
        ("/api/v1/workspaces", "post"),
        ("/api/v1/workspaces", "get"),
        ("/api/v1/workspaces/{workspaceId}", "get"),
        ("/api/v1/workspaces/{workspaceId}", "patch"),
        ("/api/v1/workspaces/{workspaceId}", "delete"),
        ("/api/v1/workspaces/{workspaceId}/members", "get"),
        ("/api/v1/workspaces/{workspaceId}/members/{userId}", "patch"),
        (
            "/api/v1/workspaces/{workspaceId}/members/{userId}",
            "delete",
        ),
        ("/api/v1/workspaces/health", "get"),
        ("/api/v1/agents/health", "get"),
        ("/api/v1/agents/ingest", "post"),
        ("/api/v1/agents/ingest/{ingestionId}", "get"),
        ("/api/v1/agents/documents", "get"),
        ("/api/v1/agents/documents/{documentId}", "get"),
        ("/api/v1/agents/documents/{documentId}", "delete"),
        ("/api/v1/agents/search", "post"),
        ("/api/v1/agents/customer-service/stream", "post"),
        ("/api/v1/agents/stream/health", "get"),
        ("/api/v1/agents/feedback", "get"),
        ("/api/v1/health", "get"),
        ("/api/v1/openapi.json", "get"),
        ("/widget/v1/widget.js", "get"),
        ("/widget/v1/{file}", "get"),
    ] {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "{method} {path} is not documented"
        );
    }
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for name in [
        "ErrorBody",
        "ErrorCode",
        "RegisterRequest",
        "RegisterResponse",
        "TokenPair",
        "WorkspaceView",
        "MemberView",
        "IngestRequest",
        "IngestAccepted",
        "IngestionStatus",
        "SearchHit",
    ] {
        assert!(schemas.contains_key(name), "schema {name} missing");
    }
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    // Relative: the same document whatever port or host serves it.
    assert_eq!(doc["servers"], serde_json::json!([{"url": "/"}]));
}

#[tokio::test]
async fn when_the_devserver_serves_the_document_and_health_they_answer() {
    let app = dev_app().await;
    let doc = app.get("/api/v1/openapi.json", None).await;
    assert_eq!(doc.status, StatusCode::OK);
    assert_eq!(doc.body["info"]["title"], "Soft Systems Studio API");
    let health = app.get("/api/v1/health", None).await;
    assert_eq!(
        (health.status, health.body["database"].as_str()),
        (StatusCode::OK, Some("up"))
    );
    // Both route groups are merged on the one router.
    assert_eq!(
        app.get("/api/v1/auth/health", None).await.status,
        StatusCode::OK
    );
    assert_eq!(
        app.get("/api/v1/workspaces/health", None).await.status,
        StatusCode::OK
    );
}
