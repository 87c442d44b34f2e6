-- Documents edited in place (issue 16, landing 3). A document's content has versions: `target_version` is
-- the latest (being indexed, or indexed), `version` the one searches see (0: none yet). The worker indexes
-- the target version's chunks beside the current ones (their points carry the version), then swaps
-- `version` in one UPDATE, so a search sees the old version until the new one is fully indexed — never
-- neither, never both.
ALTER TABLE kb_documents ADD COLUMN version integer NOT NULL DEFAULT 0;
ALTER TABLE kb_documents ADD COLUMN target_version integer NOT NULL DEFAULT 1;
UPDATE kb_documents SET version = 1 WHERE status = 'ready';
ALTER TABLE kb_documents ADD CONSTRAINT kb_documents_versions_check
    CHECK (version >= 0 AND target_version >= 1 AND target_version >= version);

-- The tenant's own key for a document: a second ingest with the same key replaces the document.
ALTER TABLE kb_documents ADD COLUMN external_id text;
CREATE UNIQUE INDEX kb_documents_external_id_idx ON kb_documents (workspace_id, external_id)
    WHERE external_id IS NOT NULL AND deleted_at IS NULL;
