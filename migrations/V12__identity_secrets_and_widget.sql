-- Signed identity: each workspace's identity secret, with which its server signs end users' identity
-- tokens (HS256). We must compute HMACs with it, so it is stored as it is (a hash would not do), in a
-- table of its own that no listing reads; the API shows it once, at rotation. After a rotation the
-- previous secret keeps verifying until `previous_valid_until` (one previous secret: rotating again
-- within the grace retires the oldest at once). No row: signed identity is off.
CREATE TABLE workspace_identity_secrets (
    workspace_id         uuid PRIMARY KEY REFERENCES workspaces (id) ON DELETE CASCADE,
    secret               text NOT NULL,
    created_at           timestamptz NOT NULL DEFAULT now(),
    created_by           uuid REFERENCES users (id) ON DELETE SET NULL,
    previous_secret      text,
    previous_valid_until timestamptz,
    CHECK ((previous_secret IS NULL) = (previous_valid_until IS NULL))
);
CREATE INDEX workspace_identity_secrets_created_by_idx ON workspace_identity_secrets (created_by);

-- The public widget's settings, as an admin saved them (fields left out follow the intake); no row:
-- every setting at its default.
CREATE TABLE widget_settings (
    workspace_id uuid PRIMARY KEY REFERENCES workspaces (id) ON DELETE CASCADE,
    settings     jsonb NOT NULL,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    updated_by   uuid REFERENCES users (id) ON DELETE SET NULL
);
CREATE INDEX widget_settings_updated_by_idx ON widget_settings (updated_by);
