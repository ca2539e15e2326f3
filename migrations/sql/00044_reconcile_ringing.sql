-- +goose Up
-- Recovery no longer hangs up a call that a stopped heed process left
-- ringing (rule F10: let the phone ring at least 15 s): it lets the call
-- ring to the end of its own ring time and says what came of it:
--   rang_out   no one answered (the outcome stays 'unknown')
--   abandoned  answered with no process left to play the message: the
--              callee heard the abandoned-call message, and the outcome is
--              'abandoned' (the campaign's abandonment rate counts it)
--   opted_out  as abandoned, and the callee pressed the opt-out key during
--              the message: the attempt keeps the key and its opt-out is
--              taken (optout_requests) as the attempt is closed
-- hung_up now means a call already answered when recovery found it.
ALTER TABLE attempts
    DROP CONSTRAINT attempts_reconcile_check,
    ADD CONSTRAINT attempts_reconcile_check
        CHECK (reconcile IN ('', 'hung_up', 'gone', 'unchecked', 'rang_out', 'abandoned', 'opted_out'));

-- +goose Down
ALTER TABLE attempts
    DROP CONSTRAINT attempts_reconcile_check,
    ADD CONSTRAINT attempts_reconcile_check CHECK (reconcile IN ('', 'hung_up', 'gone', 'unchecked'));
