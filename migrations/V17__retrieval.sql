-- Retrieval (issue 17): BM25 over sparse vectors, scored with each workspace's own term statistics
-- (Qdrant's `idf` modifier would count every tenant's documents together), and re-index jobs.

-- What each indexed document version adds to its workspace's statistics: its chunks and their length in
-- terms, and per term how many of its chunks contain it. A search counts the rows of each live document's
-- searchable version (`kb_documents.version`), so a version being indexed, a deleted document or a failed
-- one counts for nothing, and a retried indexing rewrites its own rows.
CREATE TABLE kb_text_stats (
    document_id  uuid NOT NULL REFERENCES kb_documents (id) ON DELETE CASCADE,
    version      integer NOT NULL CHECK (version >= 1),
    workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    chunks       integer NOT NULL CHECK (chunks >= 0),
    terms        bigint NOT NULL CHECK (terms >= 0),
    PRIMARY KEY (document_id, version)
);
CREATE INDEX kb_text_stats_workspace_idx ON kb_text_stats (workspace_id);

CREATE TABLE kb_term_stats (
    document_id  uuid NOT NULL,
    version      integer NOT NULL,
    workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    -- The term's index in the sparse vectors (a 32-bit hash of the analysed word).
    term         bigint NOT NULL,
    chunks       integer NOT NULL CHECK (chunks >= 1),
    PRIMARY KEY (document_id, version, term),
    FOREIGN KEY (document_id, version) REFERENCES kb_text_stats (document_id, version) ON DELETE CASCADE
);
CREATE INDEX kb_term_stats_lookup_idx ON kb_term_stats (workspace_id, term);

-- The language a workspace's text is analysed in (stemmer, stop words): the first of its intake's
-- `languages`. Changing it re-indexes the workspace.
ALTER TABLE workspaces ADD COLUMN search_language text NOT NULL DEFAULT 'en';

-- Re-indexing: every live document of one workspace (or of all, `workspace_id` NULL) chunked, embedded and
-- written again into the current collection, in steps on the ingest queue. The cursor is the last document
-- done, so a step that dies is resumed where the last one stopped.
CREATE TABLE kb_reindex_jobs (
    id               uuid PRIMARY KEY,
    workspace_id     uuid REFERENCES workspaces (id) ON DELETE CASCADE,
    -- `requested` (the admin API), `language` (the workspace's language changed).
    reason           text NOT NULL CHECK (reason IN ('requested', 'language')),
    status           text NOT NULL DEFAULT 'queued'
                     CHECK (status IN ('queued', 'running', 'completed', 'failed', 'cancelled')),
    collection       text NOT NULL,
    total            integer NOT NULL DEFAULT 0 CHECK (total >= 0),
    done             integer NOT NULL DEFAULT 0 CHECK (done >= 0),
    failed           integer NOT NULL DEFAULT 0 CHECK (failed >= 0),
    cursor_workspace uuid,
    cursor_document  uuid,
    -- A step holds the job until then: a repeated message finds it held and leaves it.
    step_until       timestamptz,
    steps            integer NOT NULL DEFAULT 0,
    error            text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    started_at       timestamptz,
    updated_at       timestamptz NOT NULL DEFAULT now(),
    finished_at      timestamptz
);
-- One unfinished job per workspace (and one for all).
CREATE UNIQUE INDEX kb_reindex_jobs_open_idx
    ON kb_reindex_jobs (coalesce(workspace_id, '00000000-0000-0000-0000-000000000000'::uuid))
    WHERE status IN ('queued', 'running');
CREATE INDEX kb_reindex_jobs_workspace_idx ON kb_reindex_jobs (workspace_id);
CREATE INDEX kb_reindex_jobs_created_idx ON kb_reindex_jobs (created_at DESC);
