-- The workspace check every tenant route makes (`Tenant<R>`): the caller's role in an active workspace of
-- an active account, and whether the workspace is suspended. As a PL/pgSQL function its plan is made once
-- per database session and reused, where the same query sent as an unnamed statement (the only kind
-- that keeps RDS Proxy from pinning connections) was parsed and planned on every request: planning the
-- three-table join cost more than running it (BENCHMARKS.md, "Authentication and tenancy per request").
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
