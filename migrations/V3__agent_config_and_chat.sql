-- Each workspace's intake and the agent configuration mapped from it, and feedback on agent answers.

CREATE TABLE workspace_intakes (
    workspace_id uuid PRIMARY KEY REFERENCES workspaces (id) ON DELETE CASCADE,
    intake       jsonb NOT NULL,
    agent_config jsonb NOT NULL,
    updated_by   uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX workspace_intakes_updated_by_idx ON workspace_intakes (updated_by);

CREATE TABLE message_feedback (
    message_id   uuid PRIMARY KEY REFERENCES messages (id) ON DELETE CASCADE,
    workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    user_id      uuid REFERENCES users (id) ON DELETE SET NULL,
    rating       text NOT NULL CHECK (rating IN ('up', 'down')),
    comment      text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX message_feedback_workspace_id_idx ON message_feedback (workspace_id);
CREATE INDEX message_feedback_user_id_idx ON message_feedback (user_id);
