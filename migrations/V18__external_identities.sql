-- Issue 18, landing 1: members sign in through external identity providers (Clerk, any OpenID Connect
-- provider) beside our own passwords.
--
-- A user provisioned from a provider may have no email (Clerk's default session token carries none; an
-- unverified email is never taken) and no password (they sign in at the provider). The unique index on
-- users.email allows any number of nulls.
ALTER TABLE users ALTER COLUMN email DROP NOT NULL,
                  ALTER COLUMN password_hash DROP NOT NULL;

-- One row per (issuer, subject) a user signs in with: found by the pair only, never by email.
CREATE TABLE user_identities (
    id         uuid PRIMARY KEY,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    issuer     text NOT NULL,
    subject    text NOT NULL,
    -- the verified email the provider gave when the identity was linked, shown on the account page only
    email      citext,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT user_identities_subject_key UNIQUE (issuer, subject)
);
CREATE INDEX user_identities_user_idx ON user_identities (user_id);

-- The read every request with a provider's token makes (as studio_membership, a function so that its plan
-- is kept per session): the active account linked to (issuer, subject) and its default workspace (the
-- last one chosen while still a member, else the oldest membership, as studio_account); no row when the
-- identity is not linked to an active account.
CREATE FUNCTION studio_identity_user(iss text, sub text)
    RETURNS TABLE (user_id uuid, default_workspace_id uuid)
    LANGUAGE plpgsql STABLE
AS $$
BEGIN
    RETURN QUERY
    SELECT u.id, d.workspace_id
      FROM user_identities i
      JOIN users u ON u.id = i.user_id AND u.deleted_at IS NULL
      LEFT JOIN LATERAL (
           SELECT m.workspace_id FROM workspace_members m
             JOIN workspaces w ON w.id = m.workspace_id AND w.deleted_at IS NULL
            WHERE m.user_id = u.id
            ORDER BY (m.workspace_id = u.last_workspace_id) IS TRUE DESC, m.created_at, m.workspace_id
            LIMIT 1) d ON true
     WHERE i.issuer = iss AND i.subject = sub;
END
$$;
