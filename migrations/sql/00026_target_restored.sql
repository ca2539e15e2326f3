-- +goose Up
-- A contact withdrawn from a campaign by mistake can be put back
-- (RestoreContact): its target is pending again, with who put it back and
-- when. The withdrawal's skipped_at, skipped_by and skip_note stay: the
-- state says which of the two is in force. Putting a contact back is a
-- decision to call it, so it joins the hash-chained audit log as its
-- withdrawal did, named by its contact and with its author
-- (restored_by).
ALTER TABLE campaign_targets
    ADD COLUMN restored_at timestamptz,
    ADD COLUMN restored_by bigint REFERENCES users (id);
CREATE TRIGGER campaign_targets_restore_audit AFTER UPDATE OF state ON campaign_targets FOR EACH ROW
    WHEN (OLD.state = 'skipped' AND NEW.state IS DISTINCT FROM 'skipped') EXECUTE FUNCTION heed_audit();

-- +goose Down
DROP TRIGGER campaign_targets_restore_audit ON campaign_targets;
ALTER TABLE campaign_targets DROP COLUMN restored_by, DROP COLUMN restored_at;
