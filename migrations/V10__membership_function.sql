-- The two reads every authenticated request makes, as PL/pgSQL functions: their plans are made once per
-- database session and reused, where the same queries sent as unnamed statements (the only kind that keeps
-- RDS Proxy from pinning connections) were parsed and planned on every request, and planning the joins
-- cost more than running them (BENCHMARKS.md, "Authentication and tenancy per request").
--
-- The workspace check every tenant route makes (`Tenant<R>`): the caller's role in an active workspace of
-- an active account, and whether the workspace is suspended.
CREATE FUNCTION studio_membership(ws uuid, usr uuid)
    RETURNS TABLE (role text, suspended boolean)
    LANGUAGE plpgsql STABLE
AS $$
BEGIN
    RETURN QUERY
    SELECT m.role, w.suspended_at IS NOT NULL
      FROM workspace_members m
      JOIN workspaces w ON w.id = m.workspace_id
      JOIN users u ON u.id = m.user_id
     WHERE m.workspace_id = ws AND m.user_id = usr AND w.deleted_at IS NULL AND u.deleted_at IS NULL;
END
$$;

-- GET /api/v1/auth/me: the active account, its default workspace (the last one chosen while still a member,
-- else the oldest membership) and up to `lim` active memberships, oldest first; no row when the account
-- does not exist, one row with null workspace columns when it has no membership.
CREATE FUNCTION studio_account(usr uuid, lim bigint)
    RETURNS TABLE (id uuid, email text, name text, default_workspace_id uuid,
                   workspace_id uuid, workspace_name text, slug text, role text)
    LANGUAGE plpgsql STABLE
AS $$
BEGIN
    RETURN QUERY
    SELECT u.id, u.email::text, u.name, d.workspace_id,
           mw.workspace_id, mw.name, mw.slug, mw.role
      FROM users u
      LEFT JOIN LATERAL (
           SELECT m.workspace_id FROM workspace_members m
             JOIN workspaces w ON w.id = m.workspace_id AND w.deleted_at IS NULL
            WHERE m.user_id = u.id
            ORDER BY (m.workspace_id = u.last_workspace_id) IS TRUE DESC, m.created_at, m.workspace_id
            LIMIT 1) d ON true
      LEFT JOIN LATERAL (
           SELECT m.workspace_id, w.name, w.slug, m.role, m.created_at FROM workspace_members m
             JOIN workspaces w ON w.id = m.workspace_id AND w.deleted_at IS NULL
            WHERE m.user_id = u.id
            ORDER BY m.created_at, m.workspace_id
            LIMIT lim) mw ON true
     WHERE u.id = usr AND u.deleted_at IS NULL
     ORDER BY mw.created_at, mw.workspace_id;
END
$$;
