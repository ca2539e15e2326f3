-- +goose Up
-- Every opt-out heed takes writes an internal do-not-call entry and a
-- revocation of every purpose at the same instant, so that a consent given
-- before the opt-out is revoked and only one given after it lifts the
-- entry for its purpose (rules F9, F12). Entries made before heed wrote
-- both (internal-list uploads, and the demo seed) get their revocation
-- now: each entry in force with no revocation of every purpose at or after
-- its instant is revoked as of that instant, with its method (staff where
-- the entry's names no way a person revokes, as an upload's 'import'
-- does, which is what an upload's revocations say since), its adder, and
-- a source naming the entry. Without it, an older written consent the
-- entry never revoked stays the number's strongest, and a later consent
-- cannot lift the entry. An entry taken off is left alone: the admin took
-- it off under the old reading. The triggers log each revocation in the
-- change log and the audit log.
INSERT INTO revocations (phone, revoked_at, method, source, recorded_by)
SELECT d.phone, d.added_at,
       CASE WHEN d.method IN ('ivr', 'keyword', 'web', 'staff', 'email', 'letter') THEN d.method ELSE 'staff' END,
       'do-not-call entry ' || d.id || CASE WHEN d.source = '' THEN '' ELSE ': ' || d.source END,
       d.added_by
  FROM dnc_internal d
 WHERE d.removed_at IS NULL
   AND NOT EXISTS (SELECT 1 FROM revocations r
                    WHERE r.phone = d.phone AND r.scope = '' AND r.revoked_at >= d.added_at)
 ORDER BY d.added_at, d.id;

-- +goose Down
-- The revocations stay: the ledger is append-only.
SELECT 1;
