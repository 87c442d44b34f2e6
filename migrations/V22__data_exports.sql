-- Issue 18, landing 3: exports of a person's data (`kind = 'user'`, the account `user_id`) and of a whole
-- workspace (`kind = 'workspace'`, asked for by its owner `user_id`). Asked for through the API, built by
-- the cron's `build-exports` job into the files store (`file_key`), downloaded through a short-lived link
-- until `expires_at`, then deleted with its file by the same job.
CREATE TABLE data_exports (
    id           uuid PRIMARY KEY,
    kind         text NOT NULL CHECK (kind IN ('user', 'workspace')),
    user_id      uuid REFERENCES users (id) ON DELETE CASCADE,
    workspace_id uuid REFERENCES workspaces (id) ON DELETE CASCADE,
    status       text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'ready', 'failed')),
    file_key     text,
    bytes        bigint,
    error        text,
    attempts     integer NOT NULL DEFAULT 0,
    -- a failed build is retried from then on (a back-off per attempt)
    not_before   timestamptz NOT NULL DEFAULT now(),
    created_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz,
    expires_at   timestamptz,
    CONSTRAINT data_exports_subject_check CHECK (
        (kind = 'user' AND user_id IS NOT NULL AND workspace_id IS NULL)
        OR (kind = 'workspace' AND workspace_id IS NOT NULL))
);
-- the latest export of a person or a workspace (and the foreign keys' deletes)
CREATE INDEX data_exports_user_id_idx ON data_exports (user_id, created_at DESC);
CREATE INDEX data_exports_workspace_id_idx ON data_exports (workspace_id, created_at DESC);
-- the job's queue: pending first, oldest first
CREATE INDEX data_exports_pending_idx ON data_exports (not_before) WHERE status = 'pending';
CREATE INDEX data_exports_expires_at_idx ON data_exports (expires_at) WHERE expires_at IS NOT NULL;

-- Row-level security as every table (V20): a workspace's exports are its tenant's, a person's export theirs.
ALTER TABLE data_exports ENABLE ROW LEVEL SECURITY;
CREATE POLICY service ON data_exports TO studio_service USING (true) WITH CHECK (true);
CREATE POLICY tenant ON data_exports TO studio_app
    USING (workspace_id = studio_workspace() OR (kind = 'user' AND user_id = studio_user()))
    WITH CHECK (workspace_id = studio_workspace() OR (kind = 'user' AND user_id = studio_user()));
