-- +goose Up
-- A consent's evidence may be a document: the signed engagement letter,
-- the intake form, the consent page as printed. Each document's bytes are
-- kept once, by their SHA-256, which the database checks, and are never
-- changed or removed (rules F19, F9). A consent names its document by that
-- hash and by the file name it came with, so the audit log's row of the
-- consent holds both, and the hash of the very bytes kept.
CREATE TABLE consent_documents (
    sha256       text PRIMARY KEY,
    content_type text NOT NULL,
    size         bigint NOT NULL CHECK (size > 0),
    body         bytea NOT NULL,
    added_at     timestamptz NOT NULL DEFAULT now(),
    CHECK (length(body) = size),
    CHECK (sha256 = encode(sha256(body), 'hex'))
);
CREATE TRIGGER consent_documents_append_only BEFORE UPDATE OR DELETE ON consent_documents FOR EACH ROW EXECUTE FUNCTION heed_append_only();
CREATE TRIGGER consent_documents_no_truncate BEFORE TRUNCATE ON consent_documents FOR EACH STATEMENT EXECUTE FUNCTION heed_append_only();

ALTER TABLE consents
    ADD COLUMN document text REFERENCES consent_documents (sha256),
    ADD COLUMN document_name text NOT NULL DEFAULT '',
    ADD CHECK ((document IS NULL) = (document_name = ''));

-- +goose Down
ALTER TABLE consents DROP COLUMN document_name, DROP COLUMN document;
DROP TABLE consent_documents;
