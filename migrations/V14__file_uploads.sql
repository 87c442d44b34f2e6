-- File uploads (issue 16, landing 1): a document can come from a file the client uploads straight to
-- storage (S3, or the devserver's directory). The document exists from the moment the upload is granted,
-- `uploading` until the file arrives and its text is extracted; then `pending` as any other document.

ALTER TABLE kb_documents DROP CONSTRAINT kb_documents_status_check;
ALTER TABLE kb_documents ADD CONSTRAINT kb_documents_status_check
    CHECK (status IN ('uploading', 'pending', 'processing', 'ready', 'failed'));

-- Where a document came from: `text` (sent in an ingest request), `file` (uploaded), `url` (crawled).
ALTER TABLE kb_documents ADD COLUMN source_type text NOT NULL DEFAULT 'text'
    CHECK (source_type IN ('text', 'file', 'url'));
-- An uploaded file: its storage key (`uploads/<workspace>/<document>`), the name and size the client
-- declared (the size is signed into the upload), and the type sniffed from its bytes.
ALTER TABLE kb_documents ADD COLUMN file_key text;
ALTER TABLE kb_documents ADD COLUMN file_name text;
ALTER TABLE kb_documents ADD COLUMN file_size bigint CHECK (file_size > 0);
ALTER TABLE kb_documents ADD COLUMN file_type text;
ALTER TABLE kb_documents ADD CONSTRAINT kb_documents_file_check
    CHECK ((source_type = 'file') = (file_key IS NOT NULL));
CREATE UNIQUE INDEX kb_documents_file_key_idx ON kb_documents (file_key) WHERE file_key IS NOT NULL;
-- A failure's stable code beside its sentence (`no_text_layer`, `encrypted`, `unreadable`, `too_large`,
-- `unsupported_type`, `upload_missing`), for clients that act on it.
ALTER TABLE kb_documents ADD COLUMN error_code text;

-- The sweep also fails uploads that never arrived.
DROP INDEX kb_documents_unfinished_idx;
CREATE INDEX kb_documents_unfinished_idx ON kb_documents (updated_at)
    WHERE status IN ('uploading', 'pending', 'processing');
