-- Issue 18, landing 2: row-level security, a second wall between tenants.
--
-- Two roles, created once per cluster (roles are cluster-wide; a second database, or two migrations at
-- once, find them made):
--   studio_app      the role a tenant-scoped transaction runs as (`SET LOCAL ROLE studio_app`, see
--                   shared/src/db/scoped.rs). Not the tables' owner, no BYPASSRLS: every policy below
--                   applies to it. It sees the rows of `app.workspace_id` and the user's own rows of
--                   `app.user_id`, both set in the same transaction (`set_config(…, true)`).
--   studio_service  the named role of what legitimately spans tenants: cron, the admin API, the queue
--                   workers, sign-in, webhooks. Its policies let it through.
-- The migration's login is made a member of both (it may then `SET ROLE studio_app`, and inherits
-- studio_service's policies when it is not the tables' owner). On RDS the migration user needs CREATEROLE;
-- a separate login for the functions is granted both roles the same way (README, "Row-level security").
DO $$
BEGIN
    BEGIN
        CREATE ROLE studio_app NOLOGIN NOBYPASSRLS;
    EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
    END;
    BEGIN
        CREATE ROLE studio_service NOLOGIN NOBYPASSRLS;
    EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
    END;
    EXECUTE format('GRANT studio_app, studio_service TO %I', current_user);
END
$$;

GRANT USAGE ON SCHEMA public TO studio_app, studio_service;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO studio_app, studio_service;
-- The migrations' own history is neither role's (absent when the files are applied by hand with psql).
DO $$
BEGIN
    IF to_regclass('refinery_schema_history') IS NOT NULL THEN
        REVOKE ALL ON refinery_schema_history FROM studio_app, studio_service;
    END IF;
END
$$;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO studio_app, studio_service;
-- Tables later migrations create get the same grants (their policies are written with them).
ALTER DEFAULT PRIVILEGES IN SCHEMA public
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO studio_app, studio_service;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO studio_app, studio_service;

-- The scope of the current transaction; NULL when unset (then the tenant policies match nothing).
CREATE FUNCTION studio_workspace() RETURNS uuid
    LANGUAGE sql STABLE PARALLEL SAFE
AS $$ SELECT nullif(current_setting('app.workspace_id', true), '')::uuid $$;

CREATE FUNCTION studio_user() RETURNS uuid
    LANGUAGE sql STABLE PARALLEL SAFE
AS $$ SELECT nullif(current_setting('app.user_id', true), '')::uuid $$;

-- Every table: row-level security on, and the service role let through.
DO $$
DECLARE
    t text;
BEGIN
    FOR t IN
        SELECT c.relname FROM pg_class c
         WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r'
           AND c.relname <> 'refinery_schema_history'
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY service ON %I TO studio_service USING (true) WITH CHECK (true)', t);
    END LOOP;
END
$$;

-- Tenant-owned tables: the current workspace's rows only, read and written. Tables whose workspace_id is
-- nullable (audit_log, kb_reindex_jobs, outbox, refresh_tokens, stripe_events) get the same policy: their
-- rows without a workspace (account mail, account audit entries, sign-in tokens, Stripe's events, jobs of
-- every workspace) are the service role's alone.
DO $$
DECLARE
    t text;
BEGIN
    FOR t IN
        SELECT c.relname FROM pg_class c
          JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'workspace_id' AND NOT a.attisdropped
         WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r'
           AND c.relname <> 'workspace_members'
    LOOP
        EXECUTE format(
            'CREATE POLICY tenant ON %I TO studio_app
                 USING (workspace_id = studio_workspace()) WITH CHECK (workspace_id = studio_workspace())', t);
    END LOOP;
END
$$;

-- Memberships: the workspace's members, and the user's own memberships in every workspace (the
-- user-scoped reads: /auth/me, GET /workspaces). Written only within the workspace.
CREATE POLICY tenant ON workspace_members TO studio_app
    USING (workspace_id = studio_workspace() OR user_id = studio_user())
    WITH CHECK (workspace_id = studio_workspace());

-- Workspaces: the current one, and those the user belongs to.
CREATE POLICY tenant ON workspaces TO studio_app
    USING (id = studio_workspace()
           OR id IN (SELECT m.workspace_id FROM workspace_members m WHERE m.user_id = studio_user()))
    WITH CHECK (id = studio_workspace());

-- Accounts: the user's own, and the current workspace's members (their names on the members page).
CREATE POLICY tenant ON users TO studio_app
    USING (id = studio_user()
           OR id IN (SELECT m.user_id FROM workspace_members m WHERE m.workspace_id = studio_workspace()))
    WITH CHECK (id = studio_user());

-- The user's own sign-in identities.
CREATE POLICY tenant ON user_identities TO studio_app
    USING (user_id = studio_user()) WITH CHECK (user_id = studio_user());

-- password_reset_tokens and email_deliveries: no policy for studio_app (the service role's alone).
