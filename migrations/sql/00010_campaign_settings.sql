-- +goose Up
-- Per-campaign call settings, the firm's own schedule, and the contact
-- fields that message templates may use.
--
-- callback: the number calls give for callbacks and opt-outs ('' on rows
-- made before this migration: the caller ID is used). calls_per_second: this
-- campaign's own pace cap (0: none). amd: answering-machine detection
-- thresholds as dialer.AMDSettings JSON ({}: the dialplan's defaults).
-- transfer_to: where key 2 connects the callee, a phone number in E.164 or a
-- PBX extension or queue ('': no transfer). record: record the calls.
-- retry_machine_s: when to call again after an answering machine answered.
--
-- The schedule: the campaign places calls only between starts_at and ends_at
-- (either may be NULL: no bound), and only inside the daily window, which
-- is read in time_zone (an IANA name): minutes after local midnight from
-- window_start_min to window_end_min, on the days of window_days (bit 0 is
-- Sunday, bit 6 Saturday). The law's calling hours are checked separately,
-- in the callee's time zone, for every call.
ALTER TABLE campaigns
    ADD COLUMN callback text NOT NULL DEFAULT '',
    ADD COLUMN calls_per_second double precision NOT NULL DEFAULT 0 CHECK (calls_per_second >= 0 AND calls_per_second <= 50),
    ADD COLUMN amd jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(amd) = 'object'),
    ADD COLUMN transfer_to text NOT NULL DEFAULT '',
    ADD COLUMN record boolean NOT NULL DEFAULT false,
    ADD COLUMN retry_machine_s integer NOT NULL DEFAULT 86400 CHECK (retry_machine_s = 0 OR retry_machine_s BETWEEN 30 AND 604800),
    ADD COLUMN time_zone text NOT NULL DEFAULT 'America/New_York',
    ADD COLUMN starts_at timestamptz,
    ADD COLUMN ends_at timestamptz,
    ADD COLUMN window_start_min integer NOT NULL DEFAULT 0,
    ADD COLUMN window_end_min integer NOT NULL DEFAULT 1440,
    ADD COLUMN window_days integer NOT NULL DEFAULT 127 CHECK (window_days BETWEEN 1 AND 127),
    ADD CONSTRAINT campaigns_window_check CHECK (window_start_min >= 0 AND window_start_min < window_end_min AND window_end_min <= 1440),
    ADD CONSTRAINT campaigns_schedule_check CHECK (starts_at IS NULL OR ends_at IS NULL OR starts_at < ends_at);

-- A target whose campaign's schedule ended before it was reached is
-- 'expired': it is no longer called, and the campaign page counts it.
ALTER TABLE campaign_targets DROP CONSTRAINT campaign_targets_state_check;
ALTER TABLE campaign_targets ADD CONSTRAINT campaign_targets_state_check
    CHECK (state IN ('pending', 'dialing', 'done', 'expired'));

-- What message templates may say of a contact: {date} and {time} read
-- appointment_at, {place} and {matter} the text columns ('' when unknown).
ALTER TABLE contacts
    ADD COLUMN appointment_at timestamptz,
    ADD COLUMN place text NOT NULL DEFAULT '',
    ADD COLUMN matter text NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE contacts DROP COLUMN appointment_at, DROP COLUMN place, DROP COLUMN matter;
UPDATE campaign_targets SET state = 'done' WHERE state = 'expired';
ALTER TABLE campaign_targets DROP CONSTRAINT campaign_targets_state_check;
ALTER TABLE campaign_targets ADD CONSTRAINT campaign_targets_state_check
    CHECK (state IN ('pending', 'dialing', 'done'));
ALTER TABLE campaigns
    DROP CONSTRAINT campaigns_schedule_check,
    DROP CONSTRAINT campaigns_window_check,
    DROP COLUMN callback, DROP COLUMN calls_per_second, DROP COLUMN amd, DROP COLUMN transfer_to, DROP COLUMN record,
    DROP COLUMN retry_machine_s, DROP COLUMN time_zone, DROP COLUMN starts_at, DROP COLUMN ends_at,
    DROP COLUMN window_start_min, DROP COLUMN window_end_min, DROP COLUMN window_days;
