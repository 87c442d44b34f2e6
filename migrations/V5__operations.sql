-- Operations: platform admins and their audit log, workspace suspension, invitations by mail, password
-- reset, escalation, transactional email through the outbox, and the monthly usage history the cron keeps.

ALTER TABLE users
    ADD COLUMN is_platform_admin boolean NOT NULL DEFAULT false;
CREATE INDEX users_platform_admin_idx ON users (id) WHERE is_platform_admin;

ALTER TABLE workspaces
    ADD COLUMN suspended_at timestamptz,
    ADD COLUMN suspended_reason text;
-- the purge job finds soft-deleted rows by age
CREATE INDEX workspaces_deleted_at_idx ON workspaces (deleted_at) WHERE deleted_at IS NOT NULL;
CREATE INDEX kb_documents_deleted_at_idx ON kb_documents (deleted_at) WHERE deleted_at IS NOT NULL;
CREATE INDEX conversations_deleted_at_idx ON conversations (deleted_at) WHERE deleted_at IS NOT NULL;
CREATE INDEX users_deleted_at_idx ON users (deleted_at) WHERE deleted_at IS NOT NULL;

-- Every admin action: who (the admin key, or a platform admin), what, on what, when.
CREATE TABLE audit_log (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at            timestamptz NOT NULL DEFAULT now(),
    actor_kind    text NOT NULL CHECK (actor_kind IN ('admin_key', 'platform_admin')),
    actor_user_id uuid REFERENCES users (id) ON DELETE SET NULL,
    action        text NOT NULL,
    target_type   text,
    target_id     text,
    details       jsonb NOT NULL DEFAULT '{}'::jsonb,
    request_id    text
);
CREATE INDEX audit_log_at_idx ON audit_log (at DESC, id DESC);
CREATE INDEX audit_log_actor_user_id_idx ON audit_log (actor_user_id);

-- An owner may invite an owner.
ALTER TABLE invitations DROP CONSTRAINT invitations_role_check;
ALTER TABLE invitations ADD CONSTRAINT invitations_role_check CHECK (role IN ('viewer', 'member', 'admin', 'owner'));
-- at most one pending invitation per address and workspace
CREATE UNIQUE INDEX invitations_pending_key ON invitations (workspace_id, email)
    WHERE accepted_at IS NULL AND revoked_at IS NULL;
CREATE INDEX invitations_workspace_created_idx ON invitations (workspace_id, created_at DESC, id DESC);

CREATE TABLE password_reset_tokens (
    id          uuid PRIMARY KEY,
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- SHA-256 of the 256-bit random token; the token itself is never stored
    token_hash  bytea NOT NULL,
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX password_reset_tokens_token_hash_key ON password_reset_tokens (token_hash);
CREATE INDEX password_reset_tokens_user_id_idx ON password_reset_tokens (user_id);
CREATE INDEX password_reset_tokens_expires_at_idx ON password_reset_tokens (expires_at);

ALTER TABLE conversations
    ADD COLUMN escalated_at timestamptz,
    ADD COLUMN escalated_by uuid REFERENCES users (id) ON DELETE SET NULL;
CREATE INDEX conversations_escalated_by_idx ON conversations (escalated_by);

-- Mail goes through the same outbox as ingestion; account mail (welcome, password reset) has no workspace.
ALTER TABLE outbox ALTER COLUMN workspace_id DROP NOT NULL;
ALTER TABLE outbox DROP CONSTRAINT outbox_topic_check;
ALTER TABLE outbox ADD CONSTRAINT outbox_topic_check CHECK (topic IN ('ingest', 'email'));
CREATE INDEX outbox_sent_at_idx ON outbox (sent_at) WHERE sent_at IS NOT NULL;

-- Each email message id the worker has handed to SES: a redelivered message is not sent twice.
CREATE TABLE email_deliveries (
    id                  uuid PRIMARY KEY,
    kind                text NOT NULL,
    provider_message_id text,
    sent_at             timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX email_deliveries_sent_at_idx ON email_deliveries (sent_at);

-- Each workspace's usage per calendar month, kept by the cron's rollover job (history survives purges).
CREATE TABLE usage_periods (
    workspace_id   uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    month          date NOT NULL,
    chat_messages  bigint NOT NULL,
    llm_tokens     bigint NOT NULL,
    documents      bigint NOT NULL,
    members        bigint NOT NULL,
    closed         boolean NOT NULL DEFAULT false,
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, month)
);
