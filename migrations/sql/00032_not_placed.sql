-- +goose Up
-- A call heed never placed: no Asterisk was up, the dialing job stopped
-- while the call waited for a line, or its last look could not be
-- recorded. Its attempt ends as called off (it is no call: it counts
-- toward no cap and no maximum of attempts), its target stays due, and
-- not_placed says why in a few words. Empty for every other attempt.
ALTER TABLE attempts ADD COLUMN not_placed text NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE attempts DROP COLUMN not_placed;
