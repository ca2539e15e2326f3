-- +goose Up
-- A revocation of every purpose is an opt-out, and an opt-out puts its
-- number on the internal do-not-call list (F9), as a key press always
-- has. Revocations imported before imports did so get their entry now:
-- each number whose latest revocation of every purpose has no entry in
-- force, and no entry taken off since that revocation was recorded (an
-- admin lifted it knowing of it), is listed, dated as that revocation,
-- with its method and source. An entry taken off before the revocation
-- was recorded was taken off without it in view, whatever date the
-- revocation bears. The triggers log each entry in the change log and the
-- audit log.
INSERT INTO dnc_internal (phone, added_at, method, source, added_by)
SELECT r.phone, r.revoked_at, r.method, r.source, r.recorded_by
  FROM (SELECT DISTINCT ON (phone) phone, revoked_at, created_at, method, source, recorded_by
          FROM revocations WHERE scope = ''
         ORDER BY phone, revoked_at DESC, id DESC) r
 WHERE NOT EXISTS (SELECT 1 FROM dnc_internal d
                    WHERE d.phone = r.phone AND (d.removed_at IS NULL OR d.removed_at >= r.created_at))
 ORDER BY r.revoked_at, r.phone;

-- +goose Down
-- The entries stay: an opt-out is never taken back by a migration.
SELECT 1;
