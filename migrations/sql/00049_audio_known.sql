-- +goose Up
-- Whether heed's switch followed the call from its answer, and so knows
-- whether its audio began: true on an answered call ended by the switch
-- from this migration on. audio_started_ms NULL then means heed played
-- nothing before the call ended (its first playback failed, or the callee
-- hung up first), which rule F10 counts as abandoned once the call lasted
-- more than 2 s after the answer. False on every earlier row, where NULL
-- says nothing.
ALTER TABLE attempts
    ADD COLUMN audio_known boolean NOT NULL DEFAULT false;

-- +goose Down
ALTER TABLE attempts DROP COLUMN audio_known;
