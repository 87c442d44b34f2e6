//! Row-level security (migration V20, `studio::db::scoped`): a scoped transaction sees and writes one
//! tenant's rows whatever its SQL forgets; its settings end with it; the service role spans tenants.

use studio::WorkspaceId;
use studio::db::{Scope, Scoped};
use studio_testing::{TestDb, state_with};
use uuid::Uuid;

/// Two workspaces with a member and two documents each, arranged as the tables' owner.
struct Tenants {
    db: TestDb,
    a: Uuid,
    b: Uuid,
    ada: Uuid,
}

async fn tenants() -> Tenants {
    let db = TestDb::new().await;
    let (a, b, ada, bob) = (
        Uuid::now_v7(),
        Uuid::now_v7(),
        Uuid::now_v7(),
        Uuid::now_v7(),
    );
    let owner = db.client().await;
    for (ws, user, name) in [(a, ada, "Ada"), (b, bob, "Bob")] {
        owner
            .execute(
                "INSERT INTO users (id, name, email) VALUES ($1, $2, $2 || '@example.com')",
                &[&user, &name],
            )
            .await
            .unwrap();
        owner
            .execute(
                "INSERT INTO workspaces (id, name, slug) VALUES ($1, $2, lower($2))",
                &[&ws, &name],
            )
            .await
            .unwrap();
        owner
            .execute(
                "INSERT INTO workspace_members (workspace_id, user_id, role) VALUES ($1, $2, 'owner')",
                &[&ws, &user],
            )
            .await
            .unwrap();
        for i in 0..2 {
            owner
                .execute(
                    "INSERT INTO kb_documents (id, workspace_id, title, content, content_hash)
                     VALUES ($1, $2, $3, 'text', '\\x00')",
                    &[&Uuid::now_v7(), &ws, &format!("{name} {i}")],
                )
                .await
                .unwrap();
        }
    }
    Tenants { db, a, b, ada }
}

fn ws(id: Uuid) -> WorkspaceId {
    WorkspaceId::from_trusted_source(id)
}

async fn titles(db: &Scoped) -> Vec<String> {
    db.query("SELECT title FROM kb_documents ORDER BY title", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

#[tokio::test]
async fn when_a_query_forgets_its_workspace_filter_the_scoped_transaction_still_sees_and_writes_only_its_tenant()
 {
    let t = tenants().await;
    let pool = state_with(&t.db.url, &[]).db;
    let scoped = Scoped::begin(&pool, Scope::workspace(ws(t.a)))
        .await
        .unwrap();
    // Deliberately unfiltered: another tenant's rows are not there.
    assert_eq!(titles(&scoped).await, ["Ada 0", "Ada 1"]);
    let role: String = scoped
        .query_one("SELECT current_user::text", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(role, "studio_app", "not the owner, not a superuser");
    // An unfiltered update touches the tenant's rows only.
    let updated = scoped
        .execute("UPDATE kb_documents SET title = title || ' (edited)'", &[])
        .await
        .unwrap();
    assert_eq!(updated, 2);
    // Writing a row into another workspace is refused by the policy.
    let err = scoped
        .execute(
            "INSERT INTO kb_documents (id, workspace_id, title, content, content_hash)
             VALUES ($1, $2, 'planted', 'text', '\\x00')",
            &[&Uuid::now_v7(), &t.b],
        )
        .await
        .unwrap_err();
    assert!(format!("{err:?}").contains("row-level security"), "{err:?}");
    drop(scoped);
    // The failed insert aborted the transaction, so nothing of it was kept: the edit is gone too.
    let owner = t.db.client().await;
    let edited: i64 = owner
        .query_one(
            "SELECT count(*) FROM kb_documents WHERE title LIKE '%(edited)'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(edited, 0, "dropped without commit: rolled back");

    // Committed, the edit stays — on the tenant's rows only.
    let scoped = Scoped::begin(&pool, Scope::workspace(ws(t.a)))
        .await
        .unwrap();
    scoped
        .execute("UPDATE kb_documents SET title = title || ' (edited)'", &[])
        .await
        .unwrap();
    scoped.commit().await.unwrap();
    let edited: Vec<String> = owner
        .query(
            "SELECT title FROM kb_documents WHERE title LIKE '%(edited)' ORDER BY title",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(edited, ["Ada 0 (edited)", "Ada 1 (edited)"]);

    // No scope at all: nothing of anyone.
    let unscoped = Scoped::begin(&pool, Scope::default()).await.unwrap();
    assert!(titles(&unscoped).await.is_empty());
}

#[tokio::test]
async fn when_a_user_is_in_scope_they_see_their_own_memberships_and_workspaces_across_tenants_and_no_one_elses()
 {
    let t = tenants().await;
    let pool = state_with(&t.db.url, &[]).db;
    let scoped = Scoped::begin(&pool, Scope::user(t.ada)).await.unwrap();
    let names: Vec<String> = scoped
        .query("SELECT name FROM workspaces ORDER BY name", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(names, ["Ada"], "Bob's workspace is not Ada's");
    let members: i64 = scoped
        .query_one("SELECT count(*) FROM workspace_members", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(members, 1);
    let users: Vec<String> = scoped
        .query("SELECT name FROM users", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(users, ["Ada"]);
    assert!(
        titles(&scoped).await.is_empty(),
        "no workspace in scope: no documents"
    );
}

/// The connection's role, workspace setting and server process.
async fn settings(c: &deadpool_postgres::Object) -> (String, String, i32) {
    let row = c
        .query_one(
            "SELECT current_user::text, coalesce(current_setting('app.workspace_id', true), ''),
                    pg_backend_pid()",
            &[],
        )
        .await
        .unwrap();
    (row.get(0), row.get(1), row.get(2))
}

#[tokio::test]
async fn when_a_scoped_transaction_ends_its_role_and_workspace_do_not_reach_the_next_user_of_the_pooled_connection()
 {
    let t = tenants().await;
    // One connection: every checkout below reuses it.
    let pool = state_with(&t.db.url, &[("DATABASE_POOL_SIZE", "1")]).db;
    let first = pool.get().await.unwrap();
    let (_, _, pid) = settings(&first).await;
    drop(first);

    // Dropped (a read), committed (a write), and failed (an error inside): after each, the connection is
    // back to the login role with no workspace.
    for end in ["drop", "commit", "error"] {
        let scoped = Scoped::begin(&pool, Scope::workspace(ws(t.a)))
            .await
            .unwrap();
        assert_eq!(titles(&scoped).await, ["Ada 0", "Ada 1"], "{end}");
        match end {
            "drop" => drop(scoped),
            "commit" => scoped.commit().await.unwrap(),
            _ => {
                scoped.execute("SELECT 1/0", &[]).await.unwrap_err();
                drop(scoped);
            }
        }
        let next = pool.get().await.unwrap();
        let (user, workspace, same_pid) = settings(&next).await;
        assert_eq!(same_pid, pid, "the same pooled connection");
        assert_eq!(
            (user.as_str(), workspace.as_str()),
            ("postgres", ""),
            "after {end}"
        );
        drop(next);
        // And the next tenant's transaction on it sees the next tenant only.
        let other = Scoped::begin(&pool, Scope::workspace(ws(t.b)))
            .await
            .unwrap();
        assert_eq!(titles(&other).await, ["Bob 0", "Bob 1"], "after {end}");
    }
}

#[tokio::test]
async fn when_every_table_is_listed_each_has_row_level_security_and_a_policy_for_the_app_or_is_the_service_roles_alone()
 {
    let db = TestDb::new().await;
    let owner = db.client().await;
    let rows = owner
        .query(
            "SELECT c.relname::text, c.relrowsecurity,
                    EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid AND p.polname = 'tenant'),
                    EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid AND p.polname = 'service')
               FROM pg_class c
              WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r'
                AND c.relname <> 'refinery_schema_history'
              ORDER BY 1",
            &[],
        )
        .await
        .unwrap();
    assert!(rows.len() > 25, "{}", rows.len());
    let service_only = ["email_deliveries", "password_reset_tokens"];
    for r in rows {
        let (table, enabled, tenant, service): (String, bool, bool, bool) =
            (r.get(0), r.get(1), r.get(2), r.get(3));
        assert!(
            enabled && service,
            "{table}: row-level security with the service policy"
        );
        assert_eq!(
            tenant,
            !service_only.contains(&table.as_str()),
            "{table}: a tenant policy unless it is the service role's alone"
        );
    }
}

/// A login role of its own (roles are cluster-wide), member of `role`. The test command drops them with
/// the test databases (`test_login_%`).
async fn login(db: &TestDb, role: &str) -> String {
    let name = format!("test_login_{}", Uuid::new_v4().simple());
    let admin = studio_testing::admin_client(&studio_testing::server_url()).await;
    admin
        .batch_execute(&format!("CREATE ROLE {name} LOGIN IN ROLE {role}"))
        .await
        .unwrap();
    db.url.replacen("postgres@", &format!("{name}@"), 1)
}

#[tokio::test]
async fn when_the_cron_runs_through_the_service_role_it_spans_tenants_and_the_app_role_alone_sees_none()
 {
    let t = tenants().await;
    let owner = t.db.client().await;
    owner
        .execute(
            "UPDATE kb_documents SET deleted_at = now() - interval '400 days'",
            &[],
        )
        .await
        .unwrap();
    assert!(t.db.url.contains("postgres@"), "{}", t.db.url);

    // The app role alone (no workspace set, as a forgotten scope would be): the job finds nothing.
    for (role, expected) in [("studio_app", 0), ("studio_service", 4)] {
        let state = state_with(&login(&t.db, role).await, &[]);
        let (k, dir) = studio_testing::knowledge(
            &state,
            studio::knowledge::Embedder::none(),
            studio_testing::local_queue().0,
        );
        let report = studio::services::jobs::run(&k, studio::services::jobs::Job::PurgeDeleted)
            .await
            .unwrap();
        // The named service role (not the owner, not a superuser): every tenant's expired documents.
        assert_eq!(report.counts["documents"], expected, "{role}: {report:?}");
        // The store before its directory.
        drop(k);
        drop(dir);
    }
    let left: i64 = owner
        .query_one("SELECT count(*) FROM kb_documents", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(left, 0, "both workspaces' documents purged");
}
