-- Website sources (issue 16, landing 2): a page, a sitemap or a whole site whose pages become documents
-- and stay in sync. A crawl runs in steps on the crawl queue (each step a few minutes, the frontier kept
-- here between steps); each page reached is a row of `kb_source_pages`, tied to its document.

CREATE TABLE kb_sources (
    id               uuid PRIMARY KEY,
    workspace_id     uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    url              text NOT NULL,
    kind             text NOT NULL CHECK (kind IN ('page', 'sitemap', 'site')),
    max_pages        integer NOT NULL CHECK (max_pages >= 1),
    sync_every       text CHECK (sync_every IN ('daily', 'weekly')),
    -- `queued` (a crawl is announced), `crawling` (a step ran or runs), `ready` (the last crawl finished),
    -- `failed` (the last crawl could not start: robots.txt forbids the site, the URL is refused, …).
    status           text NOT NULL DEFAULT 'queued'
                     CHECK (status IN ('queued', 'crawling', 'ready', 'failed')),
    -- The crawl running or last run: its pages carry its id, so a re-sync tells reached from gone.
    crawl_id         uuid NOT NULL,
    crawl_started_at timestamptz NOT NULL DEFAULT now(),
    crawl_finished_at timestamptz,
    -- A step holds the source until then: a repeated message finds it held and leaves it.
    step_until       timestamptz,
    -- This crawl's robots.txt (NULL: none, everything allowed) and the delay between two requests.
    robots_txt       text,
    robots_checked   boolean NOT NULL DEFAULT false,
    crawl_delay_ms   integer NOT NULL DEFAULT 0 CHECK (crawl_delay_ms >= 0),
    bytes_fetched    bigint NOT NULL DEFAULT 0,
    last_error       text,
    last_synced_at   timestamptz,
    next_sync_at     timestamptz,
    created_by       uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX kb_sources_url_idx ON kb_sources (workspace_id, url);
CREATE INDEX kb_sources_created_by_idx ON kb_sources (created_by);
-- The cron's two questions: which sources are due a re-sync, which crawls stopped without finishing.
CREATE INDEX kb_sources_due_idx ON kb_sources (next_sync_at) WHERE sync_every IS NOT NULL;
CREATE INDEX kb_sources_unfinished_idx ON kb_sources (updated_at) WHERE status IN ('queued', 'crawling');

CREATE TABLE kb_source_pages (
    source_id    uuid NOT NULL REFERENCES kb_sources (id) ON DELETE CASCADE,
    url          text NOT NULL,
    workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    depth        integer NOT NULL CHECK (depth >= 0),
    -- The last crawl that reached the page.
    crawl_id     uuid NOT NULL,
    -- `queued` (to fetch in this crawl), `new` / `changed` (a document or a version to index),
    -- `unchanged` (same content hash: nothing re-embedded), `failed` (fetching or reading failed; its
    -- document, if any, is kept), `skipped` (robots.txt, another site, not text), `removed` (gone: its
    -- document deleted).
    status       text NOT NULL CHECK (status IN ('queued', 'new', 'changed', 'unchanged', 'failed', 'skipped', 'removed')),
    document_id  uuid REFERENCES kb_documents (id) ON DELETE SET NULL,
    content_hash bytea,
    error        text,
    fetched_at   timestamptz,
    PRIMARY KEY (source_id, url)
);
CREATE INDEX kb_source_pages_frontier_idx ON kb_source_pages (source_id, crawl_id, status);
CREATE INDEX kb_source_pages_workspace_idx ON kb_source_pages (workspace_id);
CREATE INDEX kb_source_pages_document_idx ON kb_source_pages (document_id) WHERE document_id IS NOT NULL;

-- A crawled document's source (its `source_url` is the page).
ALTER TABLE kb_documents ADD COLUMN source_id uuid REFERENCES kb_sources (id) ON DELETE SET NULL;
CREATE INDEX kb_documents_source_idx ON kb_documents (source_id) WHERE source_id IS NOT NULL;

-- A crawl is announced through the outbox in the transaction that creates or restarts it.
ALTER TABLE outbox DROP CONSTRAINT outbox_topic_check;
ALTER TABLE outbox ADD CONSTRAINT outbox_topic_check CHECK (topic IN ('ingest', 'email', 'crawl'));
