-- +goose Up
-- Keys the web server signs with that must outlive a process and be the
-- same in every process: the device key signs the cookie by which a
-- browser an account signed in from is known again (exempt from the
-- account's sign-in limit). Each key is made once, at random, by the first
-- heed serve that needs it.
CREATE TABLE web_keys (
    name       text PRIMARY KEY,
    key        bytea NOT NULL CHECK (length(key) >= 32),
    created_at timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE web_keys;
