-- +goose Up
-- What start-up reconciliation found of an attempt that a stopped heed
-- process left in flight (its outcome stays 'unknown': no one heard how the
-- call went):
--   hung_up    the channel was still up on its Asterisk and heed hung it up
--   gone       the Asterisk no longer had the channel
--   unchecked  the Asterisk the call went to is no longer configured, and
--              no configured one had the channel
-- Empty for every other attempt. A separate column, not new outcome values,
-- so that it composes with changes to the outcome vocabulary.
ALTER TABLE attempts
    ADD COLUMN reconcile text NOT NULL DEFAULT '' CHECK (reconcile IN ('', 'hung_up', 'gone', 'unchecked')),
    ADD COLUMN reconciled_at timestamptz;

-- +goose Down
ALTER TABLE attempts DROP COLUMN reconcile, DROP COLUMN reconciled_at;
