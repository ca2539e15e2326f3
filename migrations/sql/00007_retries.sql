-- +goose Up
-- Retry rules per campaign: how long to wait before calling again after a
-- busy, unanswered or failed call (0: never), and how many calls a contact
-- gets at most. Deferrals by the law are not calls and do not count.
ALTER TABLE campaigns
    ADD COLUMN max_attempts integer NOT NULL DEFAULT 3 CHECK (max_attempts BETWEEN 1 AND 10),
    ADD COLUMN retry_busy_s integer NOT NULL DEFAULT 600 CHECK (retry_busy_s = 0 OR retry_busy_s BETWEEN 30 AND 604800),
    ADD COLUMN retry_no_answer_s integer NOT NULL DEFAULT 7200 CHECK (retry_no_answer_s = 0 OR retry_no_answer_s BETWEEN 30 AND 604800),
    ADD COLUMN retry_failed_s integer NOT NULL DEFAULT 1800 CHECK (retry_failed_s = 0 OR retry_failed_s BETWEEN 30 AND 604800);

-- +goose Down
ALTER TABLE campaigns DROP COLUMN max_attempts, DROP COLUMN retry_busy_s, DROP COLUMN retry_no_answer_s, DROP COLUMN retry_failed_s;
