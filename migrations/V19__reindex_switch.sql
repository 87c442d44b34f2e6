-- Issue 17: a change of embedding model switches searches to the new collection when it is complete.
--
-- A re-index of every workspace started while a previous collection still serves searches
-- (EMBEDDING_MODEL_PREVIOUS) records that collection in `replaces`; once such a job has completed, the
-- new collection is complete and every container switches its searches to it. Naming the collection it
-- replaces keeps a job of an earlier change (model A, then B, then back to A) from counting as the switch.
ALTER TABLE kb_reindex_jobs ADD COLUMN replaces text;

-- `model`: started by the cron job when a previous collection is configured and no job fills the new one.
ALTER TABLE kb_reindex_jobs DROP CONSTRAINT kb_reindex_jobs_reason_check,
    ADD CONSTRAINT kb_reindex_jobs_reason_check CHECK (reason IN ('requested', 'language', 'model'));

CREATE INDEX kb_reindex_jobs_switch_idx ON kb_reindex_jobs (collection, replaces)
    WHERE workspace_id IS NULL AND status = 'completed';
