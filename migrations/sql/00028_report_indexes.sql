-- +goose NO TRANSACTION
-- +goose Up
-- The calls report (heed audit calls) reads a period's attempts out of
-- years of them, and each allowed call's internal do-not-call entries,
-- those taken off since included (dnc_internal_phone_idx holds only the
-- entries in force). Built without blocking the attempts being recorded.
CREATE INDEX CONCURRENTLY IF NOT EXISTS attempts_created_idx ON attempts (created_at);
CREATE INDEX CONCURRENTLY IF NOT EXISTS dnc_internal_phone_added_idx ON dnc_internal (phone, added_at);

-- +goose Down
DROP INDEX CONCURRENTLY IF EXISTS dnc_internal_phone_added_idx;
DROP INDEX CONCURRENTLY IF EXISTS attempts_created_idx;
