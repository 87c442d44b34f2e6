-- Identical documents: each document's content hash (SHA-256 of its UTF-8 bytes), so that ingesting the
-- same content again into a workspace is recognised and skipped; and what an ingestion skipped.

ALTER TABLE kb_documents ADD COLUMN content_hash bytea;
UPDATE kb_documents SET content_hash = sha256(convert_to(content, 'UTF8'));
ALTER TABLE kb_documents ALTER COLUMN content_hash SET NOT NULL;
-- The duplicate lookup: live documents of a workspace by content. Not unique: `allowDuplicates` stores
-- the same content twice on purpose; concurrent ingestions are serialised per workspace instead
-- (a transaction-scoped advisory lock, see repo::documents::lock_for_ingestion).
CREATE INDEX kb_documents_workspace_content_hash_idx ON kb_documents (workspace_id, content_hash)
    WHERE deleted_at IS NULL;

-- The documents of the request that were not stored, in the request's order:
-- [{"index": 2, "documentId": "<the live twin>", "title": "<as sent>", "reason": "duplicate"}].
ALTER TABLE ingestions ADD COLUMN skipped jsonb NOT NULL DEFAULT '[]'::jsonb;
