-- +goose Up
-- The sign-in limits' counts (web): each row is one password check counted
-- against a limit, per account (kind 'account': the hex SHA-256 of the
-- email typed, trimmed and lower-cased, so no email is kept) or per client
-- (kind 'client': its address, an IPv6 /64). Kept in the database, not in
-- each heed process's memory, so that every process behind a load balancer
-- counts the same failures (N processes gave N times the attempts) and a
-- restart forgets none. A row is taken before the password is checked,
-- so that checks made at once cannot pass a limit together; it is deleted
-- when the check turns out no wrong password, when an admin resets the
-- account's password, and once it is older than the longest limit's
-- window. `at` is the database's clock (clock_timestamp()), read once the
-- check holds its locks, so that no process's clock skew moves a window.
--
-- Counters, not records: not audited (each failed sign-in is logged by
-- the process that refused it), and deleted freely.
CREATE TABLE signin_failures (
    id   bigserial PRIMARY KEY,
    kind text NOT NULL CHECK (kind IN ('account', 'client')),
    key  text NOT NULL CHECK (length(key) BETWEEN 1 AND 100),
    at   timestamptz NOT NULL
);
CREATE INDEX signin_failures_key_idx ON signin_failures (kind, key, at);
CREATE INDEX signin_failures_at_idx ON signin_failures (at);

-- +goose Down
DROP TABLE signin_failures;
