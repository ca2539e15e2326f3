-- +goose Up
-- The nightly calls check: the calls report of each day, run by heed itself
-- once the day is over (campaign.CheckWorker), so that the partner who
-- answers for the firm's calls sees every morning whether yesterday's were
-- all borne out by the records. One row a day; a check run again replaces
-- its row.
CREATE TABLE calls_checks (
    day       date PRIMARY KEY,
    ran_at    timestamptz NOT NULL DEFAULT now(),
    checked   integer NOT NULL,
    found     integer NOT NULL,
    calls     integer NOT NULL,
    had       integer NOT NULL,
    -- The report as GET /api/v1/reports/calls gives it.
    report    jsonb NOT NULL
);

-- +goose Down
DROP TABLE calls_checks;
