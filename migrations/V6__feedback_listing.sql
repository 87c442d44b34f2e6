-- The feedback list (GET /api/v1/agents/feedback) pages a workspace's ratings newest first, optionally of
-- one rating; this index serves both without a sort.
CREATE INDEX message_feedback_workspace_created_idx
    ON message_feedback (workspace_id, created_at DESC, message_id DESC);
