package consent_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/consent"
	"github.com/heed-dialer/heed/internal/audit"
	"github.com/heed-dialer/heed/internal/dbtest"
	"github.com/heed-dialer/heed/internal/phone"
)

type overrideBundle struct {
	db    *pgxpool.Pool
	store *consent.OverrideStore
	ctx   context.Context
	// users by role: "attorney", "attorney2", "paralegal", "admin", "disabled".
	users map[string]int64
}

func setupOverrides(t *testing.T) *overrideBundle {
	t.Helper()
	db := dbtest.New(t)
	b := &overrideBundle{db: db, store: consent.NewOverrideStore(db), ctx: context.Background(), users: map[string]int64{}}
	for _, u := range []struct{ key, email, role string }{
		{"attorney", "atty@firm.test", "attorney"},
		{"attorney2", "atty2@firm.test", "attorney"},
		{"paralegal", "para@firm.test", "paralegal"},
		{"admin", "admin@firm.test", "admin"},
		{"disabled", "gone@firm.test", "attorney"},
	} {
		var id int64
		require.NoError(t, db.QueryRow(b.ctx, `INSERT INTO users (email, role, password_hash, disabled) VALUES ($1, $2, 'x', $3) RETURNING id`,
			u.email, u.role, u.key == "disabled").Scan(&id))
		b.users[u.key] = id
	}
	return b
}

func (b *overrideBundle) count(t *testing.T, sql string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, b.db.QueryRow(b.ctx, sql, args...).Scan(&n))
	return n
}

// regf is a valid Reg F direct consent logged by the attorney.
func (b *overrideBundle) regf() consent.NewOverride {
	return consent.NewOverride{Phone: "(860) 555-0101", Kind: consent.OverrideRegFDirectConsent,
		Note: "Said on the phone: call me daily until the payment plan is set.", LoggedBy: b.users["attorney"], Via: consent.ViaCLI}
}

// exception is a valid solicitation exception logged by the attorney.
func (b *overrideBundle) exception() consent.NewOverride {
	return consent.NewOverride{Phone: "860-555-0102", Kind: consent.OverrideSolicitationException, Relationship: consent.RelationshipPriorProfessional,
		Note: "Former client: we handled her closing in 2019.", Evidence: "matter 2019-0412", LoggedBy: b.users["attorney"], Via: consent.ViaWeb}
}

func TestOverrideLog(t *testing.T) {
	t.Parallel()
	b := setupOverrides(t)

	before := time.Now()
	o, err := b.store.Log(b.ctx, b.regf())
	require.NoError(t, err)
	require.Positive(t, o.ID)
	require.Equal(t, phone.Number("+18605550101"), o.Phone)
	require.Equal(t, consent.OverrideRegFDirectConsent, o.Kind)
	require.Empty(t, o.Relationship)
	require.Equal(t, "atty@firm.test", o.LoggedByEmail)
	require.Equal(t, b.users["attorney"], o.LoggedBy)
	require.Equal(t, consent.ViaCLI, o.Via)
	require.WithinDuration(t, before, o.LoggedAt, 5*time.Second, "logged at the database's clock")
	require.True(t, o.LoggedAt.Add(consent.RegFConsentMaxAge).Equal(o.ExpiresAt),
		"a Reg F direct consent without an expiry lasts 7 days: %v, %v", o.LoggedAt, o.ExpiresAt)
	require.Nil(t, o.Withdrawal)
	require.Empty(t, o.EvidenceHash)

	e, err := b.store.Log(b.ctx, b.exception())
	require.NoError(t, err)
	require.Equal(t, consent.RelationshipPriorProfessional, e.Relationship)
	require.True(t, e.ExpiresAt.IsZero(), "an exception without an expiry does not expire")
	sum := sha256.Sum256([]byte("matter 2019-0412"))
	require.Equal(t, hex.EncodeToString(sum[:]), e.EvidenceHash)

	// A shorter Reg F expiry is kept.
	in := b.regf()
	in.ExpiresAt = time.Now().Add(48 * time.Hour).Truncate(time.Microsecond)
	short, err := b.store.Log(b.ctx, in)
	require.NoError(t, err)
	require.True(t, in.ExpiresAt.Equal(short.ExpiresAt))

	got, err := b.store.Get(b.ctx, e.ID)
	require.NoError(t, err)
	require.Equal(t, e, got)
	_, err = b.store.Get(b.ctx, e.ID+100)
	require.ErrorIs(t, err, consent.ErrOverrideNotFound)
}

func TestOverrideOnlyAttorneys(t *testing.T) {
	t.Parallel()
	b := setupOverrides(t)
	for _, who := range []string{"paralegal", "admin", "disabled"} {
		in := b.exception()
		in.LoggedBy = b.users[who]
		_, err := b.store.Log(b.ctx, in)
		require.ErrorIs(t, err, consent.ErrNotAttorney, who)
	}
	in := b.exception()
	in.LoggedBy = 9999
	_, err := b.store.Log(b.ctx, in)
	require.ErrorIs(t, err, consent.ErrNotAttorney)
	require.ErrorContains(t, err, "does not exist")
	require.Zero(t, b.count(t, `SELECT count(*) FROM overrides`))

	// The database refuses a non-attorney too, whoever writes the row.
	_, err = b.db.Exec(b.ctx, `INSERT INTO overrides (phone, kind, relationship, note, logged_by, via)
		VALUES ('+18605550102', 'solicitation_exception', 'family', 'my brother-in-law', $1, 'cli')`, b.users["paralegal"])
	require.ErrorContains(t, err, "not an enabled attorney")

	// Withdrawals too.
	o, err := b.store.Log(b.ctx, b.exception())
	require.NoError(t, err)
	for _, who := range []string{"paralegal", "admin", "disabled"} {
		_, err = b.store.Withdraw(b.ctx, o.ID, b.users[who], "no longer a client", consent.ViaWeb)
		require.ErrorIs(t, err, consent.ErrNotAttorney, who)
	}
	require.Zero(t, b.count(t, `SELECT count(*) FROM override_withdrawals`))
}

func TestOverrideValidation(t *testing.T) {
	t.Parallel()
	b := setupOverrides(t)
	cases := []struct {
		name  string
		base  func() consent.NewOverride
		edit  func(*consent.NewOverride)
		field string
		want  string
	}{
		{"NoPhone", b.regf, func(o *consent.NewOverride) { o.Phone = " " }, "phone", "phone is required"},
		{"BadPhone", b.regf, func(o *consent.NewOverride) { o.Phone = "555-01" }, "phone", "not a valid phone number"},
		{"OutsideNANP", b.regf, func(o *consent.NewOverride) { o.Phone = "+442079460958" }, "phone", "outside the North American Numbering Plan"},
		{"BadKind", b.regf, func(o *consent.NewOverride) { o.Kind = "dnc_waiver" }, "kind", "want regf_direct_consent or solicitation_exception"},
		{"ExceptionWithoutRelationship", b.exception, func(o *consent.NewOverride) { o.Relationship = "" }, "relationship", "needs one of lawyer, family, close_personal, prior_professional"},
		{"ExceptionBadRelationship", b.exception, func(o *consent.NewOverride) { o.Relationship = "neighbour" }, "relationship", `"neighbour"`},
		{"RegFWithRelationship", b.regf, func(o *consent.NewOverride) { o.Relationship = consent.RelationshipFamily }, "relationship", "only to a solicitation exception"},
		{"EmptyNote", b.regf, func(o *consent.NewOverride) { o.Note = "   " }, "note", "at least 10 characters"},
		{"ShortNote", b.exception, func(o *consent.NewOverride) { o.Note = "friend" }, "note", "at least 10 characters"},
		{"PastExpiry", b.exception, func(o *consent.NewOverride) { o.ExpiresAt = time.Now().Add(-time.Minute) }, "expires_at", "not in the future"},
		{"RegFBeyondSevenDays", b.regf, func(o *consent.NewOverride) { o.ExpiresAt = time.Now().Add(8 * 24 * time.Hour) }, "expires_at", "at most 7 consecutive days"},
		{"NoLogger", b.regf, func(o *consent.NewOverride) { o.LoggedBy = 0 }, "logged_by", "attorney who logs"},
		{"NoVia", b.regf, func(o *consent.NewOverride) { o.Via = "" }, "via", "want web or cli"},
	}
	for _, tc := range cases {
		in := tc.base()
		tc.edit(&in)
		_, err := b.store.Log(b.ctx, in)
		require.ErrorIs(t, err, consent.ErrInvalidOverride, tc.name)
		var fe consent.OverrideErrors
		require.True(t, errors.As(err, &fe), tc.name)
		require.Len(t, fe, 1, "%s: %v", tc.name, fe)
		require.Contains(t, fe[tc.field], tc.want, tc.name)
	}
	// A long exception expiry is fine; it is Reg F's that is capped.
	in := b.exception()
	in.ExpiresAt = time.Now().AddDate(1, 0, 0)
	_, err := b.store.Log(b.ctx, in)
	require.NoError(t, err)
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM overrides`))

	// The database holds the 7-day cap and the relationship rule on its own.
	_, err = b.db.Exec(b.ctx, `INSERT INTO overrides (phone, kind, note, logged_by, via, expires_at)
		VALUES ('+18605550101', 'regf_direct_consent', 'call me daily please', $1, 'cli', now() + interval '30 days')`, b.users["attorney"])
	require.ErrorContains(t, err, "overrides_regf_seven_days")
	_, err = b.db.Exec(b.ctx, `INSERT INTO overrides (phone, kind, note, logged_by, via)
		VALUES ('+18605550101', 'solicitation_exception', 'she is my cousin', $1, 'cli')`, b.users["attorney"])
	require.ErrorContains(t, err, "overrides_relationship_kind")
	// A backdated logged_at is replaced by the database's clock.
	var loggedAt time.Time
	require.NoError(t, b.db.QueryRow(b.ctx, `INSERT INTO overrides (phone, kind, relationship, note, logged_by, via, logged_at)
		VALUES ('+18605550103', 'solicitation_exception', 'family', 'she is my cousin', $1, 'cli', '2001-01-01') RETURNING logged_at`,
		b.users["attorney"]).Scan(&loggedAt))
	require.WithinDuration(t, time.Now(), loggedAt, time.Minute, "an override cannot be backdated")
}

// TestOverrideActiveBoundaries checks Active at the instants an override
// starts and stops: logged at T it is active at T and not just before;
// expiring at E it is active just before E and not at E; withdrawn at W it
// is active just before W and not at W.
func TestOverrideActiveBoundaries(t *testing.T) {
	t.Parallel()
	b := setupOverrides(t)
	const (
		regfNum  phone.Number = "+18605550101"
		excNum   phone.Number = "+18605550102"
		otherNum phone.Number = "+12125550199"
	)
	µs := time.Microsecond
	active := func(at time.Time, n phone.Number) consent.OverrideFlags {
		t.Helper()
		m, err := b.store.Active(b.ctx, []phone.Number{regfNum, excNum, otherNum}, at)
		require.NoError(t, err)
		require.Len(t, m, 3, "every number asked about has an entry")
		require.Equal(t, consent.OverrideFlags{}, m[otherNum], "a number without overrides has none")
		return m[n]
	}

	empty, err := b.store.Active(b.ctx, nil, time.Now())
	require.NoError(t, err)
	require.NotNil(t, empty)
	require.Empty(t, empty)

	in := b.regf()
	in.ExpiresAt = time.Now().Add(time.Hour).Truncate(time.Microsecond)
	r, err := b.store.Log(b.ctx, in)
	require.NoError(t, err)
	T, E := r.LoggedAt, r.ExpiresAt
	require.Equal(t, consent.OverrideFlags{}, active(T.Add(-µs), regfNum), "not active before it was logged")
	atT := active(T, regfNum)
	require.Equal(t, consent.OverrideFlags{RegFDirectConsent: true, RegFOverrideID: r.ID, RegFUntil: E}, atT, "active from the instant it is logged")
	require.Equal(t, atT, atT.At(E.Add(-µs)), "a batch's flags hold until just before the expiry")
	require.Equal(t, consent.OverrideFlags{}, atT.At(E), "and are dropped at the expiry exactly")
	require.True(t, active(E.Add(-µs), regfNum).RegFDirectConsent, "active until just before it expires")
	require.False(t, active(E, regfNum).RegFDirectConsent, "expired at expires_at exactly")
	require.True(t, r.ActiveAt(T) && r.ActiveAt(E.Add(-µs)) && !r.ActiveAt(E) && !r.ActiveAt(T.Add(-µs)))
	require.Equal(t, "expired", r.Status(E))
	require.Equal(t, "not yet logged", r.Status(T.Add(-µs)))

	x, err := b.store.Log(b.ctx, b.exception())
	require.NoError(t, err)
	require.False(t, active(x.LoggedAt, regfNum).SolicitationException, "kinds and numbers are separate")
	require.Equal(t, consent.OverrideFlags{SolicitationException: true, SolicitationOverrideID: x.ID}, active(x.LoggedAt, excNum))

	w, err := b.store.Withdraw(b.ctx, x.ID, b.users["attorney2"], "she hired other counsel; relationship ended", consent.ViaWeb)
	require.NoError(t, err)
	require.NotNil(t, w.Withdrawal)
	W := w.Withdrawal.WithdrawnAt
	require.Equal(t, "atty2@firm.test", w.Withdrawal.WithdrawnByEmail)
	require.Equal(t, "she hired other counsel; relationship ended", w.Withdrawal.Reason)
	require.False(t, W.Before(x.LoggedAt))
	require.True(t, active(W.Add(-µs), excNum).SolicitationException, "active until just before it is withdrawn")
	require.False(t, active(W, excNum).SolicitationException, "withdrawn at W exactly")
	require.False(t, active(W.Add(24*time.Hour), excNum).SolicitationException)
	require.Equal(t, "withdrawn", w.Status(W))
	require.Equal(t, "active", w.Status(W.Add(-µs)))
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM overrides WHERE id = $1`, x.ID), "the override itself stays")

	// A new exception after the withdrawal is active again, and names itself.
	x2, err := b.store.Log(b.ctx, b.exception())
	require.NoError(t, err)
	f := active(x2.LoggedAt, excNum)
	require.True(t, f.SolicitationException)
	require.Equal(t, x2.ID, f.SolicitationOverrideID)

	// Of two active Reg F consents, the one that lasts longest stands behind
	// the flag, so that At is exact for a later moment too.
	in = b.regf()
	in.ExpiresAt = time.Now().Add(30 * time.Minute).Truncate(time.Microsecond)
	sooner, err := b.store.Log(b.ctx, in)
	require.NoError(t, err)
	f = active(sooner.LoggedAt, regfNum)
	require.Equal(t, r.ID, f.RegFOverrideID)
	require.True(t, f.At(sooner.ExpiresAt).RegFDirectConsent)
	require.True(t, active(sooner.ExpiresAt, regfNum).RegFDirectConsent)
	g := active(sooner.LoggedAt, excNum)
	require.Equal(t, x2.ID, g.SolicitationOverrideID)
	require.True(t, g.SolicitationUntil.IsZero())
	require.True(t, g.At(E.AddDate(10, 0, 0)).SolicitationException, "an exception without expiry never drops")

	// Withdrawal errors.
	_, err = b.store.Withdraw(b.ctx, x.ID, b.users["attorney"], "again", consent.ViaCLI)
	require.ErrorIs(t, err, consent.ErrAlreadyWithdrawn)
	_, err = b.store.Withdraw(b.ctx, x2.ID+100, b.users["attorney"], "no such override", consent.ViaCLI)
	require.ErrorIs(t, err, consent.ErrOverrideNotFound)
	_, err = b.store.Withdraw(b.ctx, x2.ID, b.users["attorney"], "  ", consent.ViaCLI)
	require.ErrorIs(t, err, consent.ErrInvalidOverride)
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM override_withdrawals`))
}

func TestOverrideList(t *testing.T) {
	t.Parallel()
	b := setupOverrides(t)
	none, err := b.store.List(b.ctx, "")
	require.NoError(t, err)
	require.NotNil(t, none)
	require.Empty(t, none)

	first, err := b.store.Log(b.ctx, b.regf())
	require.NoError(t, err)
	second, err := b.store.Log(b.ctx, b.exception())
	require.NoError(t, err)
	in := b.regf()
	in.LoggedBy = b.users["attorney2"]
	third, err := b.store.Log(b.ctx, in)
	require.NoError(t, err)

	all, err := b.store.List(b.ctx, "")
	require.NoError(t, err)
	require.Len(t, all, 3)
	require.Equal(t, []int64{third.ID, second.ID, first.ID}, []int64{all[0].ID, all[1].ID, all[2].ID}, "newest first")
	require.Equal(t, "atty2@firm.test", all[0].LoggedByEmail)
	require.Equal(t, "atty@firm.test", all[1].LoggedByEmail)

	one, err := b.store.List(b.ctx, "+18605550101")
	require.NoError(t, err)
	require.Len(t, one, 2)
	for _, o := range one {
		require.Equal(t, phone.Number("+18605550101"), o.Phone)
	}
}

func TestOverrideAppendOnlyAndAudited(t *testing.T) {
	t.Parallel()
	b := setupOverrides(t)
	o, err := b.store.Log(b.ctx, b.exception())
	require.NoError(t, err)
	_, err = b.store.Withdraw(b.ctx, o.ID, b.users["attorney"], "logged on the wrong number", consent.ViaCLI)
	require.NoError(t, err)
	for _, sql := range []string{
		`UPDATE overrides SET expires_at = now() + interval '10 years'`,
		`UPDATE overrides SET note = 'edited afterwards'`,
		`DELETE FROM overrides`,
		`TRUNCATE overrides CASCADE`,
		`UPDATE override_withdrawals SET withdrawn_at = withdrawn_at + interval '1 year'`,
		`DELETE FROM override_withdrawals`,
		`TRUNCATE override_withdrawals`,
	} {
		_, err := b.db.Exec(b.ctx, sql)
		require.ErrorContains(t, err, "append-only", sql)
	}
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM overrides`))
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM override_withdrawals`))

	// Both writes are in the audit log, which still verifies.
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM audit_log WHERE tbl = 'overrides' AND op = 'insert' AND row_id = $1
		AND details->>'phone' = '+18605550102' AND (details->>'logged_by')::bigint = $2 AND details->>'note' <> ''`, o.ID, b.users["attorney"]))
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM audit_log WHERE tbl = 'override_withdrawals' AND op = 'insert'
		AND (details->>'override_id')::bigint = $1 AND details->>'phone' = '+18605550102' AND details->>'reason' = 'logged on the wrong number'`, o.ID))
	rep, err := audit.Verify(b.ctx, b.db)
	require.NoError(t, err)
	require.Equal(t, 5+2, rep.Rows, "five users, one override, one withdrawal")

	// A failed write leaves no audit row behind.
	in := b.exception()
	in.LoggedBy = b.users["paralegal"]
	_, err = b.store.Log(b.ctx, in)
	require.ErrorIs(t, err, consent.ErrNotAttorney)
	rep, err = audit.Verify(b.ctx, b.db)
	require.NoError(t, err)
	require.Equal(t, 7, rep.Rows)
}
