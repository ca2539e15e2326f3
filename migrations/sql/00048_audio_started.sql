-- +goose Up
-- How long after the answer heed's first audio began to play on an
-- answered call, in milliseconds, by Asterisk's clock (the channel's
-- StasisStart and the first playback's PlaybackStarted): the record of
-- when the callee started to hear heed, which rule C4's 10 s disclosure
-- and F10's 2 s are counted from. With answering-machine detection it
-- includes detection's time. NULL for a call not answered, or whose
-- audio never began (the callee hung up first), and for calls ended
-- before this column existed.
ALTER TABLE attempts
    ADD COLUMN audio_started_ms integer CHECK (audio_started_ms >= 0);

-- +goose Down
ALTER TABLE attempts DROP COLUMN audio_started_ms;
