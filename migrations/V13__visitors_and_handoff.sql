-- The public side: the tenant's customers (visitors) chatting from the tenant's site, and conversations a
-- person takes over.
--
-- A visitor is anonymous (known by the SHA-256 of its visitor token, 256 random bits the widget keeps;
-- the id alone opens nothing) or identified (the `sub` of the tenant's signed identity token, with the
-- email and name it claimed). Never both.
CREATE TABLE visitors (
    id           uuid PRIMARY KEY,
    workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    token_hash   bytea,
    external_id  text,
    email        text,
    name         text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    CHECK ((token_hash IS NULL) <> (external_id IS NULL))
);
CREATE UNIQUE INDEX visitors_token_hash_key ON visitors (token_hash) WHERE token_hash IS NOT NULL;
CREATE UNIQUE INDEX visitors_workspace_external_key ON visitors (workspace_id, external_id)
    WHERE external_id IS NOT NULL;
CREATE INDEX visitors_workspace_seen_idx ON visitors (workspace_id, last_seen_at);

-- A visitor session: short-lived, bound to the key that opened it, the visitor and the page's origin.
-- Only the SHA-256 of its token is stored. Revoking the key ends its sessions (the check joins the key);
-- deleting it or the visitor deletes them.
CREATE TABLE visitor_sessions (
    token_hash   bytea PRIMARY KEY,
    workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    api_key_id   uuid NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
    visitor_id   uuid NOT NULL REFERENCES visitors (id) ON DELETE CASCADE,
    origin       text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL
);
CREATE INDEX visitor_sessions_workspace_idx ON visitor_sessions (workspace_id);
CREATE INDEX visitor_sessions_api_key_idx ON visitor_sessions (api_key_id);
CREATE INDEX visitor_sessions_visitor_idx ON visitor_sessions (visitor_id);
CREATE INDEX visitor_sessions_expires_idx ON visitor_sessions (expires_at);

-- A visitor's conversation, and who has it: the agent (`bot`), nobody yet (`waiting_for_human`), a
-- person (`human`), or nobody any more (`resolved`). `contact_email`: where the visitor asked the reply
-- to be mailed. The CSAT rating the visitor gave once it was resolved.
ALTER TABLE conversations
    ADD COLUMN visitor_id uuid REFERENCES visitors (id) ON DELETE CASCADE,
    ADD COLUMN status text NOT NULL DEFAULT 'bot'
        CHECK (status IN ('bot', 'waiting_for_human', 'human', 'resolved')),
    ADD COLUMN status_changed_at timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN contact_email text,
    ADD COLUMN csat_score smallint CHECK (csat_score BETWEEN 1 AND 5),
    ADD COLUMN csat_comment text,
    ADD COLUMN csat_at timestamptz;
CREATE INDEX conversations_visitor_idx ON conversations (visitor_id, updated_at DESC, id DESC);
-- the inbox: a workspace's visitor conversations by status, oldest change first
CREATE INDEX conversations_inbox_idx ON conversations (workspace_id, status, status_changed_at, id)
    WHERE visitor_id IS NOT NULL AND deleted_at IS NULL;

-- A person's reply in a conversation (`human`), by the member who wrote it.
ALTER TABLE messages DROP CONSTRAINT messages_role_check;
ALTER TABLE messages
    ADD CONSTRAINT messages_role_check CHECK (role IN ('user', 'assistant', 'system', 'human')),
    ADD COLUMN author_user_id uuid REFERENCES users (id) ON DELETE SET NULL;
CREATE INDEX messages_author_user_id_idx ON messages (author_user_id);

-- A visitor's rating of an answer.
ALTER TABLE message_feedback
    ADD COLUMN visitor_id uuid REFERENCES visitors (id) ON DELETE CASCADE;
CREATE INDEX message_feedback_visitor_id_idx ON message_feedback (visitor_id);
