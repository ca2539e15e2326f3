-- +goose Up
-- An install's row names the copy's content (sha256, 00040) and when it
-- was installed, which the calls report reads: it is never changed, as it
-- is never deleted (00039).
CREATE TRIGGER dnc_list_installs_append_only BEFORE UPDATE ON dnc_list_installs FOR EACH ROW EXECUTE FUNCTION heed_never_deleted();

-- +goose Down
DROP TRIGGER dnc_list_installs_append_only ON dnc_list_installs;
