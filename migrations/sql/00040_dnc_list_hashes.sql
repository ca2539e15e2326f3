-- +goose Up
-- The SHA-256 of each registry list copy's snapshot file, as installed: a
-- copy is loaded only when its file still has it, so a file replaced on
-- disk (even by one of the same size and count) is refused, and the audit
-- log's entry of each install names the content it installed. Copies
-- installed before heed kept it have none.
ALTER TABLE dnc_lists ADD COLUMN sha256 text CHECK (sha256 ~ '^[0-9a-f]{64}$');
ALTER TABLE dnc_list_installs ADD COLUMN sha256 text CHECK (sha256 ~ '^[0-9a-f]{64}$');

-- +goose Down
ALTER TABLE dnc_list_installs DROP COLUMN sha256;
ALTER TABLE dnc_lists DROP COLUMN sha256;
