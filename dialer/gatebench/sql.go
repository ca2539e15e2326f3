package gatebench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/heed-dialer/heed/consent"
	"github.com/heed-dialer/heed/dialer"
	"github.com/heed-dialer/heed/internal/phone"
)

// sqlSide makes the gate's decisions the way a SQL-based dialer does: one
// query per lead against tables in PostgreSQL, whose answer gives the
// engine its facts. The tables live in a schema of their own, dropped by
// close.
type sqlSide struct {
	db       *pgxpool.Pool
	schema   string
	engine   *consent.Engine
	window   time.Duration // how far back the attempts are read
	query    string
	attempts int // rows in the attempts table
}

// schemaDDL creates the tables; %[1]s is the schema.
const schemaDDL = `
CREATE SCHEMA %[1]s;
CREATE TABLE %[1]s.dnc (n bigint NOT NULL);
CREATE TABLE %[1]s.dnc_internal (n bigint NOT NULL);
CREATE TABLE %[1]s.lists (list text PRIMARY KEY, as_of timestamptz NOT NULL);
CREATE TABLE %[1]s.consents (id bigint NOT NULL, phone bigint NOT NULL, kind text NOT NULL, scope text NOT NULL,
	channel text NOT NULL, obtained_at timestamptz NOT NULL, expires_at timestamptz);
CREATE TABLE %[1]s.revocations (id bigint NOT NULL, phone bigint NOT NULL, scope text, revoked_at timestamptz NOT NULL);
CREATE TABLE %[1]s.attempts (phone bigint NOT NULL, at timestamptz NOT NULL, purpose text NOT NULL,
	method text NOT NULL, conversation boolean NOT NULL);`

// indexDDL indexes the tables after the load; %[1]s is the schema.
var indexDDL = []string{
	`ALTER TABLE %[1]s.dnc ADD PRIMARY KEY (n)`,
	`ALTER TABLE %[1]s.dnc_internal ADD PRIMARY KEY (n)`,
	`CREATE INDEX ON %[1]s.consents (phone)`,
	`CREATE INDEX ON %[1]s.revocations (phone)`,
	`CREATE INDEX ON %[1]s.attempts (phone, at)`,
	`VACUUM ANALYZE %[1]s.dnc`,
	`VACUUM ANALYZE %[1]s.dnc_internal`,
	`VACUUM ANALYZE %[1]s.lists`,
	`VACUUM ANALYZE %[1]s.consents`,
	`VACUUM ANALYZE %[1]s.revocations`,
	`VACUUM ANALYZE %[1]s.attempts`,
}

// factsQuery is the one query per decision: $1 is the number, $2 the
// campaign's purpose, $3 the time of the call and $4 the start of the
// history window. It returns the DNC hits, the national list's date, the
// latest revocation in any scope and in the purpose's, the best consent
// (chosen as consent.Snapshot.Lookup chooses it) and the attempts within
// the window. %[1]s is the schema.
const factsQuery = `
WITH r AS (
	SELECT max(revoked_at) AS rall,
	       max(revoked_at) FILTER (WHERE scope IS NULL OR scope = $2) AS rp
	  FROM %[1]s.revocations WHERE phone = $1)
SELECT EXISTS (SELECT 1 FROM %[1]s.dnc WHERE n = $1),
       EXISTS (SELECT 1 FROM %[1]s.dnc_internal WHERE n = $1),
       (SELECT as_of FROM %[1]s.lists WHERE list = 'national'),
       r.rall, r.rp, c.id, c.kind, c.obtained_at, c.expires_at,
       h.ats, h.purposes, h.methods, h.convs
  FROM r
  LEFT JOIN LATERAL (
	SELECT x.id, x.kind, x.obtained_at, x.expires_at FROM (
		SELECT id, kind, obtained_at, expires_at,
		       CASE WHEN obtained_at <= r.rp THEN 4
		            WHEN expires_at IS NOT NULL AND expires_at <= $3 THEN 3
		            WHEN obtained_at <= r.rall THEN 2
		            ELSE 1 END AS tier
		  FROM %[1]s.consents
		 WHERE phone = $1 AND scope = $2 AND channel = 'voice' AND obtained_at <= $3) x
	 ORDER BY x.tier,
	          CASE WHEN x.tier <= 2 AND x.kind = 'pewc' THEN 0 ELSE 1 END,
	          x.obtained_at DESC,
	          CASE WHEN x.tier <= 2 THEN coalesce(x.expires_at, 'infinity') END DESC,
	          x.id DESC
	 LIMIT 1) c ON true
  LEFT JOIN LATERAL (
	SELECT array_agg(at) AS ats, array_agg(purpose) AS purposes, array_agg(method) AS methods,
	       array_agg(conversation) AS convs
	  FROM %[1]s.attempts WHERE phone = $1 AND at > $4) h ON true`

// loadSQL creates the tables and loads w's data into them: the national
// and internal lists, the consent records and the histories of every
// number w's requests call.
func loadSQL(ctx context.Context, db *pgxpool.Pool, w *world, engine *consent.Engine, logf func(string, ...any)) (_ *sqlSide, err error) {
	s := &sqlSide{db: db, schema: fmt.Sprintf("heed_gatebench_%08x", rand.Uint32()), engine: engine,
		window: engine.Limits().HistoryWindow}
	s.query = fmt.Sprintf(factsQuery, s.schema)
	if _, err := db.Exec(ctx, fmt.Sprintf(schemaDDL, s.schema)); err != nil {
		return nil, fmt.Errorf("gatebench: sql: create tables: %w", err)
	}
	defer func() {
		if err != nil {
			s.close()
		}
	}()
	if _, err := db.Exec(ctx, `INSERT INTO `+s.schema+`.lists VALUES ('national', $1)`, nationalAsOf); err != nil {
		return nil, fmt.Errorf("gatebench: sql: lists: %w", err)
	}
	logf("sql: copying %s national numbers", group(int64(len(w.national))))
	if err := s.copyNumbers(ctx, "dnc", w.national); err != nil {
		return nil, err
	}
	if err := s.copyNumbers(ctx, "dnc_internal", w.internal); err != nil {
		return nil, err
	}

	logf("sql: copying %s consent records", group(int64(w.records)))
	for _, typ := range []consent.RecordType{consent.RecordConsent, consent.RecordRevocation} {
		gen := newConsentGen(w.spec, w.national)
		var r consent.Record
		src := pgx.CopyFromFunc(func() ([]any, error) {
			for gen.next(&r) {
				if r.Type != typ {
					continue
				}
				if typ == consent.RecordRevocation {
					return []any{r.ID, int64(r.Number), nullString(string(r.Scope)), r.At}, nil
				}
				var exp any
				if !r.ExpiresAt.IsZero() {
					exp = r.ExpiresAt
				}
				return []any{r.ID, int64(r.Number), r.Kind.String(), string(r.Scope), string(r.Channel), r.At, exp}, nil
			}
			return nil, nil
		})
		table, cols := "consents", []string{"id", "phone", "kind", "scope", "channel", "obtained_at", "expires_at"}
		if typ == consent.RecordRevocation {
			table, cols = "revocations", []string{"id", "phone", "scope", "revoked_at"}
		}
		if _, err := db.CopyFrom(ctx, pgx.Identifier{s.schema, table}, cols, src); err != nil {
			return nil, fmt.Errorf("gatebench: sql: copy %s: %w", table, err)
		}
	}

	// The attempts: each number's history once (a request is a function
	// of its number, so every request for a number has the same history).
	all := slices.Concat(w.campaign, w.random)
	seen := make(map[phone.Number]bool, len(all))
	var (
		ri, hi int
		n      uint64
	)
	src := pgx.CopyFromFunc(func() ([]any, error) {
		for ri < len(all) {
			r := &all[ri]
			if hi == 0 {
				var err error
				if n, err = r.Phone.NANP(); err != nil || seen[r.Phone] {
					ri++
					continue
				}
				seen[r.Phone] = true
			}
			if hi == len(r.History) {
				ri, hi = ri+1, 0
				continue
			}
			a := &r.History[hi]
			hi++
			s.attempts++
			return []any{int64(n), a.At, string(a.Purpose), string(a.Method), a.Conversation}, nil
		}
		return nil, nil
	})
	logf("sql: copying the attempts")
	if _, err := db.CopyFrom(ctx, pgx.Identifier{s.schema, "attempts"}, []string{"phone", "at", "purpose", "method", "conversation"}, src); err != nil {
		return nil, fmt.Errorf("gatebench: sql: copy attempts: %w", err)
	}
	for _, q := range indexDDL {
		q = fmt.Sprintf(q, s.schema)
		logf("sql: %s", strings.TrimPrefix(q, "ALTER TABLE "))
		if _, err := db.Exec(ctx, q); err != nil {
			return nil, fmt.Errorf("gatebench: sql: %s: %w", q, err)
		}
	}
	return s, nil
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// copyNumbers copies sorted numbers into a one-column table.
func (s *sqlSide) copyNumbers(ctx context.Context, table string, ns []uint64) error {
	i := 0
	src := pgx.CopyFromFunc(func() ([]any, error) {
		if i == len(ns) {
			return nil, nil
		}
		i++
		return []any{int64(ns[i-1])}, nil
	})
	if _, err := s.db.CopyFrom(ctx, pgx.Identifier{s.schema, table}, []string{"n"}, src); err != nil {
		return fmt.Errorf("gatebench: sql: copy %s: %w", table, err)
	}
	return nil
}

// close drops the schema and its tables.
func (s *sqlSide) close() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := s.db.Exec(ctx, `DROP SCHEMA IF EXISTS `+s.schema+` CASCADE`); err != nil {
		return fmt.Errorf("gatebench: sql: drop %s: %w", s.schema, err)
	}
	return nil
}

// decide makes one decision with one query on conn: it reads the facts and
// the history and lets the engine decide, as the in-memory gate does.
func (s *sqlSide) decide(ctx context.Context, conn *pgxpool.Conn, req *dialer.Request) (consent.Decision, consent.Facts, error) {
	in := consent.Input{
		Number: req.Phone, State: req.State, ZIP: req.ZIP, Purpose: req.Purpose,
		Method: req.Method, Line: req.Line, At: req.At,
	}
	f := consent.Facts{Fresh: true} // the database is the truth
	var d consent.Decision
	n, err := req.Phone.NANP()
	if err != nil {
		s.engine.Decide(&in, &f, &d)
		return d, f, nil
	}
	var (
		national, internal bool
		asOf, rall, rp     *time.Time
		id                 *int64
		kind               *string
		obtained, expires  *time.Time
		ats                []time.Time
		purposes, methods  []string
		convs              []bool
	)
	if err := conn.QueryRow(ctx, s.query, int64(n), string(req.Purpose), req.At, req.At.Add(-s.window)).Scan(
		&national, &internal, &asOf, &rall, &rp, &id, &kind, &obtained, &expires,
		&ats, &purposes, &methods, &convs); err != nil {
		return d, f, fmt.Errorf("gatebench: sql: facts of %s: %w", req.Phone, err)
	}
	if national {
		f.DNC |= consent.DNCNational
	}
	if internal {
		f.DNC |= consent.DNCInternal
	}
	f.NationalAsOf = deref(asOf)
	f.Consent.RevokedAt = deref(rall)
	f.Consent.PurposeRevokedAt = deref(rp)
	if id != nil {
		f.Consent.ID = *id
		if f.Consent.Kind, err = consent.ParseConsentKind(*kind); err != nil {
			return d, f, fmt.Errorf("gatebench: sql: facts of %s: %w", req.Phone, err)
		}
		f.Consent.ObtainedAt = deref(obtained)
		f.Consent.ExpiresAt = deref(expires)
	}
	if len(ats) != len(purposes) || len(ats) != len(methods) || len(ats) != len(convs) {
		return d, f, fmt.Errorf("gatebench: sql: history of %s: arrays of different lengths", req.Phone)
	}
	if len(ats) > 0 {
		in.History = make([]consent.Attempt, len(ats))
		for i := range ats {
			in.History[i] = consent.Attempt{At: ats[i], Purpose: consent.Purpose(purposes[i]),
				Method: consent.Method(methods[i]), Conversation: convs[i]}
		}
	}
	s.engine.Decide(&in, &f, &d)
	return d, f, nil
}

func deref(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}

// sameDecision reports whether two decisions agree in every field.
func sameDecision(a, b consent.Decision) bool {
	return a.Verdict == b.Verdict && a.Until.Equal(b.Until) && slices.Equal(a.Reasons, b.Reasons) &&
		a.Pack == b.Pack && a.ConsentID == b.ConsentID
}

// sameFacts reports whether two sets of facts agree in every field.
func sameFacts(a, b consent.Facts) bool {
	ac, bc := a.Consent, b.Consent
	return a.Fresh == b.Fresh && a.DNC == b.DNC && a.NationalAsOf.Equal(b.NationalAsOf) &&
		a.ReassignedAt.Equal(b.ReassignedAt) && ac.ID == bc.ID && ac.Kind == bc.Kind &&
		ac.ObtainedAt.Equal(bc.ObtainedAt) && ac.ExpiresAt.Equal(bc.ExpiresAt) &&
		ac.RevokedAt.Equal(bc.RevokedAt) && ac.PurposeRevokedAt.Equal(bc.PurposeRevokedAt)
}
