-- Knowledge-base ingestion: batches, the transactional outbox, idempotency keys and the embedding cache.

CREATE TABLE ingestions (
    id             uuid PRIMARY KEY,
    workspace_id   uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    created_by     uuid REFERENCES users (id) ON DELETE SET NULL,
    document_count integer NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ingestions_workspace_created_idx ON ingestions (workspace_id, created_at DESC);
CREATE INDEX ingestions_created_by_idx ON ingestions (created_by);

ALTER TABLE kb_documents ADD COLUMN ingestion_id uuid REFERENCES ingestions (id) ON DELETE SET NULL;
-- How many times a worker has started on this document (observability; the queue counts receives).
ALTER TABLE kb_documents ADD COLUMN attempts integer NOT NULL DEFAULT 0;
CREATE INDEX kb_documents_ingestion_id_idx ON kb_documents (ingestion_id);
-- The stuck-ingestion sweep looks for old pending/processing documents.
CREATE INDEX kb_documents_unfinished_idx ON kb_documents (updated_at) WHERE status IN ('pending', 'processing');

-- Messages written in the same transaction as the rows they announce, sent after commit; unsent rows are
-- re-sent by the sweeper, so nothing accepted is lost when the queue is unreachable.
CREATE TABLE outbox (
    id           uuid PRIMARY KEY,
    workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    topic        text NOT NULL CHECK (topic IN ('ingest')),
    payload      jsonb NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    sent_at      timestamptz,
    attempts     integer NOT NULL DEFAULT 0,
    last_error   text
);
CREATE INDEX outbox_unsent_idx ON outbox (created_at) WHERE sent_at IS NULL;
CREATE INDEX outbox_workspace_id_idx ON outbox (workspace_id);

-- A retried request with the same Idempotency-Key gets the first response back.
CREATE TABLE idempotency_keys (
    workspace_id  uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    scope         text NOT NULL,
    key           text NOT NULL,
    request_hash  bytea NOT NULL,
    status_code   integer NOT NULL,
    response      jsonb NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, scope, key)
);
CREATE INDEX idempotency_keys_created_at_idx ON idempotency_keys (created_at);

-- Identical text is never sent to the embeddings API twice (per workspace and model).
CREATE TABLE embedding_cache (
    workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    model        text NOT NULL,
    content_hash bytea NOT NULL,
    embedding    real[] NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, model, content_hash)
);
