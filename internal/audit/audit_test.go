package audit_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/internal/audit"
	"github.com/heed-dialer/heed/internal/dbtest"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// seed writes four audited rows: a user, a do-not-call entry, a consent
// and a revocation.
func seed(t *testing.T, db *pgxpool.Pool) {
	t.Helper()
	for _, q := range []string{
		`INSERT INTO users (email, role, password_hash) VALUES ('a@firm.test', 'admin', 'secret-hash')`,
		`INSERT INTO dnc_internal (phone, method, source) VALUES ('+18605550101', 'ivr', 'pressed 9')`,
		`INSERT INTO consents (phone, kind, scope, channel, obtained_at, source) VALUES ('+18605550102', 'pec', 'informational', 'voice', now(), 'intake form')`,
		`INSERT INTO revocations (phone, revoked_at, method) VALUES ('+18605550102', now(), 'web')`,
	} {
		_, err := db.Exec(context.Background(), q)
		require.NoError(t, err)
	}
}

// tamper runs q on the audit log as the database's owner could: with the
// log's guard (migration 00039), which refuses it, turned off.
func tamper(t *testing.T, db *pgxpool.Pool, q string) {
	t.Helper()
	ctx := context.Background()
	_, err := db.Exec(ctx, q)
	var pe *pgconn.PgError
	require.True(t, errors.As(err, &pe), "the guard refuses %s, got %v", q, err)
	require.Equal(t, "23001", pe.Code)
	require.NoError(t, pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		for _, s := range []string{`ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only`, q, `ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only`} {
			if _, err := tx.Exec(ctx, s); err != nil {
				return err
			}
		}
		return nil
	}))
}

// backDated appends an entry dated a day before the chain's last, with a
// hash that holds: a consent forged after the fact, written as the trigger
// would have.
const backDated = `DO $$
DECLARE prev text; s bigint; t timestamptz; d jsonb := '{"id": 999, "phone": "+18605550110", "kind": "pewc", "source": "signed intake form"}';
BEGIN
  SELECT hash, at - interval '1 day' INTO prev, t FROM audit_log ORDER BY seq DESC LIMIT 1;
  s := nextval(pg_get_serial_sequence('audit_log', 'seq'));
  INSERT INTO audit_log VALUES (s, t, 'consents', 'insert', 999, d, prev,
    encode(sha256(convert_to(prev || '|' || s || '|' || (extract(epoch FROM t) * 1000000)::bigint || '|consents|insert|999|' || d::text, 'UTF8')), 'hex'));
END $$`

func TestVerify(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, tamper, want string
	}{
		{"Untouched", ``, ""},
		{"EditedDetails", `UPDATE audit_log SET details = jsonb_set(details, '{phone}', '"+18605550199"') WHERE seq = (SELECT min(seq) + 1 FROM audit_log)`, "content does not match its hash"},
		{"EditedTime", `UPDATE audit_log SET at = at - interval '1 day' WHERE seq = (SELECT max(seq) FROM audit_log)`, "content does not match its hash"},
		{"DeletedRow", `DELETE FROM audit_log WHERE seq = (SELECT min(seq) + 1 FROM audit_log)`, "a row was removed or inserted"},
		{"RehashedRow", `UPDATE audit_log SET details = '{}', hash = encode(sha256('x'), 'hex') WHERE seq = (SELECT min(seq) + 1 FROM audit_log)`, "does not match"},
		{"BackDatedAppend", backDated, "row 5 (insert consents 999 at "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			db := dbtest.New(t)
			ctx := context.Background()
			seed(t, db)
			var leaked int
			require.NoError(t, db.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE details ? 'password_hash' OR details->'before' ? 'password_hash'`).Scan(&leaked))
			require.Zero(t, leaked, "password hashes stay out of the audit log")
			switch {
			case tc.tamper == backDated: // an insert, which the guard lets through
				_, err := db.Exec(ctx, tc.tamper)
				require.NoError(t, err)
			case tc.tamper != "":
				tamper(t, db, tc.tamper)
			}
			rep, err := audit.Verify(ctx, db)
			if tc.want == "" {
				require.NoError(t, err)
				require.Equal(t, 4, rep.Rows)
				require.Len(t, rep.Head, 64)
				return
			}
			require.ErrorIs(t, err, audit.ErrTampered)
			require.ErrorContains(t, err, tc.want)
			if tc.name == "BackDatedAppend" {
				require.ErrorContains(t, err, "is dated before the row before it")
			}
		})
	}
}

// TestLatestHead reads the chain's head, of an empty log and after
// writes: the latest row's seq and hash, the head Verify ends at.
func TestLatestHead(t *testing.T) {
	t.Parallel()
	db := dbtest.New(t)
	ctx := context.Background()
	h, err := audit.LatestHead(ctx, db)
	require.NoError(t, err)
	require.Equal(t, audit.Head{Seq: 0, Hash: strings.Repeat("0", 64)}, h, "an empty log's head is the genesis hash")
	seed(t, db)
	h, err = audit.LatestHead(ctx, db)
	require.NoError(t, err)
	rep, err := audit.Verify(ctx, db)
	require.NoError(t, err)
	require.Equal(t, rep.Head, h.Hash)
	var seq int64
	require.NoError(t, db.QueryRow(ctx, `SELECT max(seq) FROM audit_log`).Scan(&seq))
	require.Equal(t, seq, h.Seq)
	pos, err := rep.Holds(h.Hash)
	require.NoError(t, err, "verify --head checks a head LatestHead read")
	require.Equal(t, 4, pos)
}

// TestReadCommittedOnly checks that the audit trigger refuses to write in
// a REPEATABLE READ or SERIALIZABLE transaction, whose snapshot may miss
// a row another writer committed while it waited for the log's lock (the
// chain would fork: two rows naming the same previous hash, which verify
// reports for good), and that the chain stays whole when that happens.
func TestReadCommittedOnly(t *testing.T) {
	t.Parallel()
	db := dbtest.New(t)
	ctx := context.Background()
	seed(t, db)
	for _, iso := range []pgx.TxIsoLevel{pgx.RepeatableRead, pgx.Serializable} {
		// Writer A's snapshot is taken before writer B commits.
		a, err := db.BeginTx(ctx, pgx.TxOptions{IsoLevel: iso})
		require.NoError(t, err)
		var n int
		require.NoError(t, a.QueryRow(ctx, `SELECT count(*) FROM users`).Scan(&n))
		_, err = db.Exec(ctx, `INSERT INTO consents (phone, kind, scope, channel, obtained_at, source) VALUES ('+18605550103', 'pec', 'informational', 'voice', now(), 'writer B')`)
		require.NoError(t, err)
		_, err = a.Exec(ctx, `INSERT INTO revocations (phone, revoked_at, method, source) VALUES ('+18605550103', now(), 'web', 'writer A')`)
		var pe *pgconn.PgError
		require.True(t, errors.As(err, &pe), "%s: want the write refused, got %v", iso, err)
		require.Equal(t, "25000", pe.Code)
		require.Equal(t, "audit log: insert of revocations refused: audited writes run at READ COMMITTED, not "+strings.ToUpper(string(iso))+", or the chain could fork", pe.Message)
		require.NoError(t, a.Rollback(ctx))
	}
	// At READ COMMITTED (heed's, PostgreSQL's default) it writes.
	require.NoError(t, pgx.BeginTxFunc(ctx, db, pgx.TxOptions{IsoLevel: pgx.ReadCommitted}, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO revocations (phone, revoked_at, method, source) VALUES ('+18605550103', now(), 'web', 'writer A')`)
		return err
	}))
	rep, err := audit.Verify(ctx, db)
	require.NoError(t, err)
	require.Equal(t, 7, rep.Rows, "the seed's four, writer B's two consents and writer A's revocation")
	var forks int
	require.NoError(t, db.QueryRow(ctx, `SELECT count(*) FROM (SELECT prev_hash FROM audit_log GROUP BY prev_hash HAVING count(*) > 1) f`).Scan(&forks))
	require.Zero(t, forks)
}
