-- The whole data model of the platform. Later migrations only add to it.
-- Every tenant-owned table carries workspace_id, and every lookup the code makes has an index.

CREATE EXTENSION IF NOT EXISTS citext;

CREATE TABLE users (
    id             uuid PRIMARY KEY,
    email          citext NOT NULL,
    password_hash  text NOT NULL,
    name           text NOT NULL,
    -- the workspace the user last switched to; chosen as the token's `wid` at the next login
    last_workspace_id uuid,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    deleted_at     timestamptz
);
-- citext makes the uniqueness case-insensitive; deleted users keep their address reserved.
CREATE UNIQUE INDEX users_email_key ON users (email);

CREATE TABLE workspaces (
    id          uuid PRIMARY KEY,
    name        text NOT NULL,
    slug        text NOT NULL,
    plan        text NOT NULL DEFAULT 'free' CHECK (plan IN ('free', 'pro', 'business')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    deleted_at  timestamptz
);
CREATE UNIQUE INDEX workspaces_slug_key ON workspaces (slug);

ALTER TABLE users
    ADD CONSTRAINT users_last_workspace_fk FOREIGN KEY (last_workspace_id) REFERENCES workspaces (id) ON DELETE SET NULL;
CREATE INDEX users_last_workspace_id_idx ON users (last_workspace_id);

CREATE TABLE workspace_members (
    workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role         text NOT NULL CHECK (role IN ('viewer', 'member', 'admin', 'owner')),
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, user_id)
);
-- "my workspaces" and the membership check by user
CREATE INDEX workspace_members_user_id_idx ON workspace_members (user_id, created_at);

CREATE TABLE invitations (
    id           uuid PRIMARY KEY,
    workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    email        citext NOT NULL,
    role         text NOT NULL CHECK (role IN ('viewer', 'member', 'admin')),
    token_hash   bytea NOT NULL,
    invited_by   uuid REFERENCES users (id) ON DELETE SET NULL,
    expires_at   timestamptz NOT NULL,
    accepted_at  timestamptz,
    revoked_at   timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX invitations_token_hash_key ON invitations (token_hash);
CREATE INDEX invitations_workspace_id_idx ON invitations (workspace_id, created_at);
CREATE INDEX invitations_invited_by_idx ON invitations (invited_by);
CREATE INDEX invitations_email_idx ON invitations (email);

CREATE TABLE refresh_tokens (
    id                uuid PRIMARY KEY,
    -- SHA-256 of the 256-bit random token; the token itself is never stored
    token_hash        bytea NOT NULL,
    -- the chain descending from one login or registration
    family_id         uuid NOT NULL,
    user_id           uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    workspace_id      uuid REFERENCES workspaces (id) ON DELETE SET NULL,
    -- the family's end: 30 days after the login, copied to every token of the family
    expires_at        timestamptz NOT NULL,
    revoked_at        timestamptz,
    -- deferred: the spent token names its successor in the same transaction that inserts it
    replaced_by       uuid REFERENCES refresh_tokens (id) ON DELETE SET NULL DEFERRABLE INITIALLY DEFERRED,
    created_at        timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX refresh_tokens_token_hash_key ON refresh_tokens (token_hash);
CREATE INDEX refresh_tokens_family_id_idx ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user_id_idx ON refresh_tokens (user_id);
CREATE INDEX refresh_tokens_workspace_id_idx ON refresh_tokens (workspace_id);
CREATE INDEX refresh_tokens_replaced_by_idx ON refresh_tokens (replaced_by);
-- the purge job sweeps by expiry
CREATE INDEX refresh_tokens_expires_at_idx ON refresh_tokens (expires_at);

CREATE TABLE conversations (
    id           uuid PRIMARY KEY,
    workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    user_id      uuid REFERENCES users (id) ON DELETE SET NULL,
    title        text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    deleted_at   timestamptz
);
-- paged listing, newest first, per workspace
CREATE INDEX conversations_workspace_updated_idx ON conversations (workspace_id, updated_at DESC, id DESC);
CREATE INDEX conversations_user_id_idx ON conversations (user_id);

CREATE TABLE messages (
    id                uuid PRIMARY KEY,
    workspace_id      uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    conversation_id   uuid NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    role              text NOT NULL CHECK (role IN ('user', 'assistant', 'system')),
    content           text NOT NULL,
    sources           jsonb,
    prompt_tokens     integer,
    completion_tokens integer,
    created_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX messages_conversation_created_idx ON messages (conversation_id, created_at, id);
CREATE INDEX messages_workspace_id_idx ON messages (workspace_id);

CREATE TABLE kb_documents (
    id           uuid PRIMARY KEY,
    workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    title        text NOT NULL,
    content      text NOT NULL,
    content_type text NOT NULL DEFAULT 'text/plain',
    source_url   text,
    metadata     jsonb NOT NULL DEFAULT '{}'::jsonb,
    status       text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'processing', 'ready', 'failed')),
    error        text,
    chunk_count  integer NOT NULL DEFAULT 0,
    created_by   uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    deleted_at   timestamptz
);
CREATE INDEX kb_documents_workspace_created_idx ON kb_documents (workspace_id, created_at DESC, id DESC);
CREATE INDEX kb_documents_workspace_status_idx ON kb_documents (workspace_id, status);
CREATE INDEX kb_documents_created_by_idx ON kb_documents (created_by);
