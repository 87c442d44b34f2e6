-- Issue 18, landing 4: what each workspace uses, per day, per kind of model call and per model: every
-- chat completion (members', streamed and visitors' turns) and every embedding call (ingestion, search,
-- retrieval) adds its tokens here, in the transaction of the work when there is one. The usage API turns
-- the tokens into an estimated cost with the price table (MODEL_PRICES).
CREATE TABLE usage_daily (
    workspace_id      uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    day               date NOT NULL,
    kind              text NOT NULL CHECK (kind IN ('chat', 'embedding')),
    model             text NOT NULL,
    calls             bigint NOT NULL DEFAULT 0,
    -- the tokens read: a chat call's prompt, an embedding call's text
    prompt_tokens     bigint NOT NULL DEFAULT 0,
    completion_tokens bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (workspace_id, day, kind, model)
);
-- the admin API's ranking by cost over a period
CREATE INDEX usage_daily_day_idx ON usage_daily (day);

ALTER TABLE usage_daily ENABLE ROW LEVEL SECURITY;
CREATE POLICY service ON usage_daily TO studio_service USING (true) WITH CHECK (true);
CREATE POLICY tenant ON usage_daily TO studio_app
    USING (workspace_id = studio_workspace()) WITH CHECK (workspace_id = studio_workspace());
