-- +goose Up
-- Rule E1: no solicitation of a personal-injury or wrongful-death matter
-- until 40 days after the accident. A solicitation campaign about such
-- matters says so (injury_matter); each contact may carry the date of
-- its accident (accident_date). The gate makes such a call wait until 40
-- days after the end of that date, and refuses a contact without one.
ALTER TABLE campaigns ADD COLUMN injury_matter boolean NOT NULL DEFAULT false;
ALTER TABLE campaigns ADD CONSTRAINT campaigns_injury_matter_check CHECK (NOT injury_matter OR purpose = 'solicitation');
ALTER TABLE contacts ADD COLUMN accident_date date;

-- +goose Down
ALTER TABLE contacts DROP COLUMN accident_date;
ALTER TABLE campaigns DROP CONSTRAINT campaigns_injury_matter_check;
ALTER TABLE campaigns DROP COLUMN injury_matter;
