package migrations_test

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/internal/dbtest"
)

// TestCallerIDsGuard checks migration 00045's guards on the firm's caller
// IDs: only an enabled admin declares or retires one, never backdated; a
// caller ID is never deleted, never edited, retired once and never
// brought back; a number is current at most once; and every declaration
// and retirement is a row of the audit log.
func TestCallerIDsGuard(t *testing.T) {
	t.Parallel()
	db := dbtest.New(t)
	ctx := context.Background()
	admin := one(t, db, `INSERT INTO users (email, role, password_hash) VALUES ('a@firm.test', 'admin', 'x') RETURNING id`)
	para := one(t, db, `INSERT INTO users (email, role, password_hash) VALUES ('p@firm.test', 'paralegal', 'x') RETURNING id`)
	gone := one(t, db, `INSERT INTO users (email, role, password_hash, disabled) VALUES ('g@firm.test', 'admin', 'x', true) RETURNING id`)
	const declare = `INSERT INTO caller_ids (phone, label, attestation, added_by, added_at) VALUES ($1, 'Main office', 'It is ours.', $2, $3) RETURNING id`

	// Only an enabled admin declares one.
	for _, who := range []int64{para, gone} {
		_, err := db.Exec(ctx, declare, "+18605550100", who, "2020-01-01T00:00:00Z")
		var pe *pgconn.PgError
		require.True(t, errors.As(err, &pe), "user %d: %v", who, err)
		require.Equal(t, "42501", pe.Code)
		require.Contains(t, pe.Message, "only admins declare or retire the firm's caller IDs")
	}
	id := one(t, db, declare, "+18605550100", admin, "2020-01-01T00:00:00Z")
	require.Zero(t, one(t, db, `SELECT count(*) FROM caller_ids WHERE id = $1 AND added_at < now() - interval '1 minute'`, id),
		"declared by the database's clock, not backdated")
	_, err := db.Exec(ctx, declare, "+18605550100", admin, "2020-01-01T00:00:00Z")
	var pe *pgconn.PgError
	require.True(t, errors.As(err, &pe), "a number current twice: %v", err)
	require.Equal(t, "23505", pe.Code)
	refused(t, db, "a caller ID is declared current", `INSERT INTO caller_ids (phone, label, attestation, added_by, retired_at, retired_by)
		VALUES ('+18605550101', 'x', 'It is ours.', $1, now(), $1)`, admin)

	// Never edited; never deleted.
	for _, set := range []string{`phone = '+18605550199'`, `label = 'Other'`, `attestation = 'Trust me.'`, `added_by = $2`,
		`added_at = added_at - interval '1 day'`} {
		refused(t, db, "a caller ID is never edited, only retired", `UPDATE caller_ids SET `+set+` WHERE id = $1 AND $2::bigint IS NOT NULL`, id, para)
	}
	refused(t, db, "caller_ids: DELETE refused", `DELETE FROM caller_ids WHERE id = $1`, id)
	refused(t, db, "caller_ids: TRUNCATE refused", `TRUNCATE caller_ids`)
	require.EqualValues(t, 0, exec(t, db, `UPDATE caller_ids SET label = label WHERE id = $1 AND false`, id))
	require.EqualValues(t, 1, exec(t, db, `UPDATE caller_ids SET label = label WHERE id = $1`, id), "an update that changes nothing goes through")

	// Retired by an enabled admin only, once, at the database's clock.
	_, err = db.Exec(ctx, `UPDATE caller_ids SET retired_at = now(), retired_by = $2 WHERE id = $1`, id, para)
	require.True(t, errors.As(err, &pe), "%v", err)
	require.Equal(t, "42501", pe.Code)
	refused(t, db, "a retirement sets when (retired_at) and the admin who retires it (retired_by)", `UPDATE caller_ids SET retired_at = now() WHERE id = $1`, id)
	require.EqualValues(t, 1, exec(t, db, `UPDATE caller_ids SET retired_at = '2020-01-01T00:00:00Z', retired_by = $2 WHERE id = $1`, id, admin))
	require.Zero(t, one(t, db, `SELECT count(*) FROM caller_ids WHERE id = $1 AND retired_at < now() - interval '1 minute'`, id),
		"retired by the database's clock, not backdated")
	refused(t, db, "a retired caller ID is never changed", `UPDATE caller_ids SET retired_at = NULL, retired_by = NULL WHERE id = $1`, id)
	refused(t, db, "a retired caller ID is never changed", `UPDATE caller_ids SET retired_at = now() WHERE id = $1`, id)

	// Declared again, as a new row, with a new attestation.
	again := one(t, db, declare, "+18605550100", admin, "2020-01-01T00:00:00Z")
	require.NotEqual(t, id, again)

	// The audit log holds each declaration and the retirement.
	require.EqualValues(t, 3, one(t, db, `SELECT count(*) FROM audit_log WHERE tbl = 'caller_ids'`))
	require.EqualValues(t, admin, one(t, db, `SELECT (details->>'retired_by')::bigint FROM audit_log WHERE tbl = 'caller_ids' AND op = 'update' AND row_id = $1`, id))
}
