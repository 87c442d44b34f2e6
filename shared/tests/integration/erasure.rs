//! Erasure (`studio::repo::erasure`): its list of references to an account is the database's.

use studio::repo::erasure::{OnErase, REFERENCES};
use studio_testing::TestDb;

#[tokio::test]
async fn every_foreign_key_to_users_is_released_by_erasure_as_its_delete_rule_says() {
    let db = TestDb::new().await;
    let rows = db
        .client()
        .await
        .query(
            "SELECT c.conrelid::regclass::text, a.attname::text, c.confdeltype::text
               FROM pg_constraint c
               JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey)
              WHERE c.contype = 'f' AND c.confrelid = 'users'::regclass
              ORDER BY 1, 2",
            &[],
        )
        .await
        .unwrap();
    let in_database: Vec<(String, String, String)> = rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert!(in_database.len() > 10, "{in_database:?}");
    let listed: Vec<(String, String, String)> = REFERENCES
        .iter()
        .map(|(table, column, action)| {
            let rule = match action {
                OnErase::Unlink => "n",
                OnErase::Delete => "c",
            };
            ((*table).to_owned(), (*column).to_owned(), rule.to_owned())
        })
        .collect();
    assert_eq!(
        listed, in_database,
        "studio::repo::erasure::REFERENCES must list every foreign key to users (table, column, n = SET NULL / c = CASCADE), sorted"
    );
}
