-- +goose Up
-- Rule F10: a person who answers hears heed within 2 s of their greeting.
-- Answering-machine detection waits amd.after_greeting_silence_ms of
-- silence after the greeting before the message starts, and does not take
-- a greeting with no sound of amd.min_word_length_ms for one (it then
-- waits out the initial silence and takes the person for a machine).
-- Campaigns now accept at most 1500 and 200 ms of them
-- (campaign.MaxAfterGreetingSilence, campaign.MaxMinWordLength); before,
-- 5000 and 1000. A campaign saved with more gets the most allowed,
-- whatever its status: the pacer passes the stored values to the
-- dialplan on every call. heed makes the change (updated_by is no one),
-- and the audit log keeps it beside the campaign's earlier rows.
UPDATE campaigns
   SET amd = amd
             || CASE WHEN (amd->>'after_greeting_silence_ms')::numeric > 1500
                     THEN '{"after_greeting_silence_ms": 1500}'::jsonb ELSE '{}'::jsonb END
             || CASE WHEN (amd->>'min_word_length_ms')::numeric > 200
                     THEN '{"min_word_length_ms": 200}'::jsonb ELSE '{}'::jsonb END,
       updated_by = NULL,
       updated_at = now()
 WHERE (amd->>'after_greeting_silence_ms')::numeric > 1500
    OR (amd->>'min_word_length_ms')::numeric > 200;

-- +goose Down
-- The values replaced are in the audit log; going down does not put back
-- settings that break rule F10.
SELECT 1;
