-- Issue 18, landing 3: how long a workspace keeps its conversations. NULL keeps them (the default);
-- otherwise the cron's purge-deleted deletes conversations (with their messages and ratings) not
-- updated for that many days. Set with PUT /api/v1/workspaces/{workspaceId}/retention (admin or higher).
ALTER TABLE workspaces
    ADD COLUMN conversation_retention_days integer
        CHECK (conversation_retention_days BETWEEN 1 AND 3650);
