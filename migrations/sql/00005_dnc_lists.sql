-- +goose Up
-- Registry lists (national, state, litigator) live in snapshot files in the
-- dnc directory; this table says which version of each is current, so every
-- heed process loads the same one. The internal list lives in dnc_internal.
CREATE TABLE dnc_lists (
    list        text PRIMARY KEY,
    version     bigint NOT NULL,
    as_of       timestamptz NOT NULL,
    count       bigint NOT NULL,
    file        text NOT NULL,
    source      text NOT NULL,
    imported_at timestamptz NOT NULL DEFAULT now(),
    imported_by bigint REFERENCES users (id)
);

-- Installing a list is audited like other do-not-call changes; the row id
-- in the audit log is the list's version.
CREATE TABLE dnc_list_installs (
    id          bigserial PRIMARY KEY,
    list        text NOT NULL,
    version     bigint NOT NULL,
    as_of       timestamptz NOT NULL,
    count       bigint NOT NULL,
    source      text NOT NULL,
    imported_by bigint REFERENCES users (id),
    phone       text NOT NULL DEFAULT '',
    installed_at timestamptz NOT NULL DEFAULT now()
);
CREATE TRIGGER dnc_list_installs_audit AFTER INSERT ON dnc_list_installs FOR EACH ROW EXECUTE FUNCTION heed_audit();

-- +goose Down
DROP TABLE dnc_list_installs, dnc_lists;
