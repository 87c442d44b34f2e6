//! The schema the migrations build: complete, idempotent, and with an index behind every foreign key.

use studio_testing::TestDb;

/// The text `query` selects in a fresh database, a value a row.
async fn texts(query: &str) -> Vec<String> {
    let db = TestDb::new().await;
    db.client()
        .await
        .query(query, &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

#[tokio::test]
async fn when_migrations_run_again_nothing_is_pending() {
    let db = TestDb::new().await;
    let applied = studio::db::migrate(&db.url).await.expect("migrate");
    assert!(
        applied.is_empty(),
        "the template is fully migrated: {applied:?}"
    );
}

#[tokio::test]
async fn when_the_schema_is_built_it_holds_the_whole_data_model() {
    let tables = texts(
        "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public'",
    )
    .await;
    for table in [
        "users",
        "workspaces",
        "workspace_members",
        "invitations",
        "refresh_tokens",
        "conversations",
        "messages",
        "kb_documents",
    ] {
        assert!(
            tables.iter().any(|t| t == table),
            "table {table} missing from {tables:?}"
        );
    }
}

#[tokio::test]
async fn when_a_foreign_key_exists_an_index_leads_with_its_column() {
    let unindexed = texts(
        "SELECT c.conrelid::regclass::text || '.' || a.attname::text
           FROM pg_constraint c
           JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
          WHERE c.contype = 'f'
            AND NOT EXISTS (
                SELECT 1 FROM pg_index i
                 WHERE i.indrelid = c.conrelid AND i.indkey[0] = c.conkey[1])",
    )
    .await;
    assert!(
        unindexed.is_empty(),
        "foreign keys without an index: {unindexed:?}"
    );
}

#[tokio::test]
async fn when_emails_differ_only_in_case_they_are_the_same_account() {
    let db = TestDb::new().await;
    let client = db.client().await;
    client
        .execute("INSERT INTO users (id, email, password_hash, name) VALUES (gen_random_uuid(), 'Ada@Example.com', 'x', 'A')", &[])
        .await
        .unwrap();
    let err = client
        .execute("INSERT INTO users (id, email, password_hash, name) VALUES (gen_random_uuid(), 'ada@example.COM', 'x', 'B')", &[])
        .await
        .expect_err("unique case-insensitively");
    assert_eq!(
        studio::error::unique_violation(&err),
        Some("users_email_key")
    );
}
