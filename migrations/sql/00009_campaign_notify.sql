-- +goose Up
-- Every change to a campaign or one of its attempts notifies
-- 'heed_campaign' with the campaign's id; web processes push it to the
-- browsers watching that campaign (server-sent events).
-- +goose StatementBegin
CREATE FUNCTION heed_campaign_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'campaigns' THEN
        PERFORM pg_notify('heed_campaign', NEW.id::text);
    ELSE
        PERFORM pg_notify('heed_campaign', NEW.campaign_id::text);
    END IF;
    RETURN NEW;
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER attempts_notify AFTER INSERT OR UPDATE ON attempts FOR EACH ROW EXECUTE FUNCTION heed_campaign_notify();
CREATE TRIGGER campaigns_notify AFTER UPDATE ON campaigns FOR EACH ROW EXECUTE FUNCTION heed_campaign_notify();

-- +goose Down
DROP TRIGGER campaigns_notify ON campaigns;
DROP TRIGGER attempts_notify ON attempts;
DROP FUNCTION heed_campaign_notify();
