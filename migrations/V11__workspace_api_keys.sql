-- Workspace API keys: publishable keys for browsers (bound to an allow-list of origins) and secret keys
-- for a tenant's backend (with scopes). The key itself is shown once and never stored: only the SHA-256 of
-- the whole key (`pk_ws_…` / `sk_ws_…`, 256 random bits) and its first characters, to recognise it.
CREATE TABLE api_keys (
    id              uuid PRIMARY KEY,
    workspace_id    uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name            text NOT NULL,
    kind            text NOT NULL CHECK (kind IN ('publishable', 'secret')),
    prefix          text NOT NULL,
    key_hash        bytea NOT NULL,
    allowed_origins text[] NOT NULL DEFAULT '{}',
    scopes          text[] NOT NULL DEFAULT '{}',
    created_by      uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    last_used_at    timestamptz,
    revoked_at      timestamptz,
    -- a publishable key has origins and no scopes; a secret key scopes and no origins
    CHECK (kind = 'publishable' OR allowed_origins = '{}'),
    CHECK (kind = 'secret' OR scopes = '{}'),
    CHECK (scopes <@ ARRAY['chat', 'ingest', 'read']::text[])
);
CREATE UNIQUE INDEX api_keys_key_hash_key ON api_keys (key_hash);
CREATE INDEX api_keys_workspace_created_idx ON api_keys (workspace_id, created_at DESC, id DESC);
CREATE INDEX api_keys_created_by_idx ON api_keys (created_by);

-- The check of every request a secret key makes, in one round trip: the key (by the hash of what was
-- sent), its workspace if active, and whether it is suspended. `last_used_at` is written at most once a
-- minute per key, not on every request. No row: no such key, or its workspace is deleted.
CREATE FUNCTION studio_api_key(hash bytea)
    RETURNS TABLE (id uuid, workspace_id uuid, kind text, scopes text[], allowed_origins text[],
                   revoked boolean, suspended boolean)
    LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
    UPDATE api_keys k SET last_used_at = now()
     WHERE k.key_hash = hash AND k.revoked_at IS NULL
       AND (k.last_used_at IS NULL OR k.last_used_at < now() - interval '1 minute');
    RETURN QUERY
    SELECT k.id, k.workspace_id, k.kind, k.scopes, k.allowed_origins, k.revoked_at IS NOT NULL,
           w.suspended_at IS NOT NULL
      FROM api_keys k
      JOIN workspaces w ON w.id = k.workspace_id
     WHERE k.key_hash = hash AND w.deleted_at IS NULL;
END
$$;

-- What a key writes records the key instead of a user.
ALTER TABLE conversations
    ADD COLUMN api_key_id uuid REFERENCES api_keys (id) ON DELETE SET NULL,
    ADD COLUMN escalated_by_api_key_id uuid REFERENCES api_keys (id) ON DELETE SET NULL;
CREATE INDEX conversations_api_key_id_idx ON conversations (api_key_id);
CREATE INDEX conversations_escalated_by_api_key_id_idx ON conversations (escalated_by_api_key_id);
ALTER TABLE ingestions ADD COLUMN api_key_id uuid REFERENCES api_keys (id) ON DELETE SET NULL;
CREATE INDEX ingestions_api_key_id_idx ON ingestions (api_key_id);
ALTER TABLE kb_documents ADD COLUMN api_key_id uuid REFERENCES api_keys (id) ON DELETE SET NULL;
CREATE INDEX kb_documents_api_key_id_idx ON kb_documents (api_key_id);
ALTER TABLE message_feedback ADD COLUMN api_key_id uuid REFERENCES api_keys (id) ON DELETE SET NULL;
CREATE INDEX message_feedback_api_key_id_idx ON message_feedback (api_key_id);

-- The audit log records workspace actions too: by a member, or by a key (the platform's operators as
-- before), with the workspace acted on (null for platform-wide actions).
ALTER TABLE audit_log DROP CONSTRAINT audit_log_actor_kind_check;
ALTER TABLE audit_log
    ADD CONSTRAINT audit_log_actor_kind_check
        CHECK (actor_kind IN ('admin_key', 'platform_admin', 'member', 'api_key')),
    ADD COLUMN actor_api_key_id uuid REFERENCES api_keys (id) ON DELETE SET NULL,
    ADD COLUMN workspace_id uuid REFERENCES workspaces (id) ON DELETE CASCADE;
CREATE INDEX audit_log_workspace_idx ON audit_log (workspace_id, id DESC) WHERE workspace_id IS NOT NULL;
CREATE INDEX audit_log_actor_api_key_id_idx ON audit_log (actor_api_key_id);
