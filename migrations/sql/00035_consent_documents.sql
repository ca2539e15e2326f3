-- +goose Up
-- A consent's evidence may be a document: the signed engagement letter,
-- the intake form, the consent page as printed. Each document is kept once,
-- by the SHA-256 of its bytes, which the database checks, and is never
-- changed or removed (rules F19, F9). A consent names its document by that
-- hash, so the audit log's row of the consent holds the hash of the very
-- bytes kept.
CREATE TABLE consent_documents (
    sha256       text PRIMARY KEY,
    name         text NOT NULL CHECK (name <> ''),
    content_type text NOT NULL,
    size         bigint NOT NULL CHECK (size > 0),
    body         bytea NOT NULL,
    added_by     bigint REFERENCES users (id),
    added_at     timestamptz NOT NULL DEFAULT now(),
    CHECK (length(body) = size),
    CHECK (sha256 = encode(sha256(body), 'hex'))
);
CREATE TRIGGER consent_documents_append_only BEFORE UPDATE OR DELETE ON consent_documents FOR EACH ROW EXECUTE FUNCTION heed_append_only();
CREATE TRIGGER consent_documents_no_truncate BEFORE TRUNCATE ON consent_documents FOR EACH STATEMENT EXECUTE FUNCTION heed_append_only();

ALTER TABLE consents ADD COLUMN document text REFERENCES consent_documents (sha256);

-- +goose Down
ALTER TABLE consents DROP COLUMN document;
DROP TABLE consent_documents;
