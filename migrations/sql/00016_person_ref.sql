-- +goose Up
-- The person a contact is: the firm's client or debtor id, '' when unknown.
-- Rule R1 (Reg F, 12 CFR 1006.14) counts calls per person, not per number:
-- the caps and quiet periods count, for a contact with a person_ref, the
-- calls to every number of every contact with the same person_ref (any
-- list, any campaign), and, for a contact without one, the calls to its
-- number alone. The import trims it and keeps it to 100 characters.
ALTER TABLE contacts ADD COLUMN person_ref text NOT NULL DEFAULT ''
    CHECK (char_length(person_ref) <= 100 AND person_ref = btrim(person_ref));

-- The history lookup: a batch's person refs to their numbers, read from
-- the index alone. Contacts without a person_ref are left out of it.
CREATE INDEX contacts_person_ref_idx ON contacts (person_ref, phone) WHERE person_ref <> '';

-- +goose Down
ALTER TABLE contacts DROP COLUMN person_ref;
