package consent_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/consent"
	"github.com/heed-dialer/heed/internal/dbtest"
	"github.com/heed-dialer/heed/internal/phone"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

type ledgerBundle struct {
	db     *pgxpool.Pool
	ledger *consent.Ledger
	ctx    context.Context
}

func setupLedger(t *testing.T) *ledgerBundle {
	t.Helper()
	db := dbtest.New(t)
	return &ledgerBundle{db: db, ledger: consent.NewLedger(db), ctx: context.Background()}
}

func (b *ledgerBundle) count(t *testing.T, sql string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, b.db.QueryRow(b.ctx, sql, args...).Scan(&n))
	return n
}

// goodConsent is a valid consent obtained a day ago.
func goodConsent() consent.NewConsent {
	return consent.NewConsent{
		Phone: "(860) 555-0101", Kind: consent.ConsentPEWC, Scope: consent.PurposeInformational, Channel: consent.ChannelVoice,
		ObtainedAt: time.Now().Add(-24 * time.Hour).Truncate(time.Microsecond), Source: "engagement letter", Evidence: "I agree to reminder calls.",
	}
}

func TestLedgerAddConsent(t *testing.T) {
	t.Parallel()

	t.Run("Valid", func(t *testing.T) {
		t.Parallel()
		b := setupLedger(t)
		in := goodConsent()
		in.ExpiresAt = in.ObtainedAt.AddDate(1, 0, 0)
		c, err := b.ledger.AddConsent(b.ctx, in)
		require.NoError(t, err)
		require.Positive(t, c.ID)
		require.Equal(t, phone.Number("+18605550101"), c.Phone)
		require.Equal(t, consent.ConsentPEWC, c.Kind)
		require.Equal(t, consent.PurposeInformational, c.Scope)
		require.Equal(t, consent.ChannelVoice, c.Channel)
		require.True(t, in.ObtainedAt.Equal(c.ObtainedAt))
		require.True(t, in.ExpiresAt.Equal(c.ExpiresAt))
		require.Equal(t, "engagement letter", c.Source)
		sum := sha256.Sum256([]byte(in.Evidence))
		require.Equal(t, hex.EncodeToString(sum[:]), c.EvidenceHash)
		var hash string
		require.NoError(t, b.db.QueryRow(b.ctx, `SELECT encode(sha256(convert_to(evidence, 'UTF8')), 'hex') FROM consents WHERE id = $1`, c.ID).Scan(&hash))
		require.Equal(t, hash, c.EvidenceHash, "the stored hash is the SHA-256 of the stored evidence")

		got, err := b.ledger.Consent(b.ctx, c.ID)
		require.NoError(t, err)
		require.Equal(t, c, got)
		_, err = b.ledger.Consent(b.ctx, c.ID+1)
		require.ErrorIs(t, err, consent.ErrNotFound)

		noEvidence := goodConsent()
		noEvidence.Kind, noEvidence.Evidence = consent.ConsentPEC, "" // written consent needs its evidence
		c, err = b.ledger.AddConsent(b.ctx, noEvidence)
		require.NoError(t, err)
		require.Empty(t, c.EvidenceHash)
		require.True(t, c.ExpiresAt.IsZero())
	})

	t.Run("Invalid", func(t *testing.T) {
		t.Parallel()
		b := setupLedger(t)
		cases := []struct {
			name  string
			edit  func(*consent.NewConsent)
			field string
		}{
			{"BadPhone", func(c *consent.NewConsent) { c.Phone = "555-01" }, "phone"},
			{"OutsideNANP", func(c *consent.NewConsent) { c.Phone = "+442079460958" }, "phone"},
			{"BadKind", func(c *consent.NewConsent) { c.Kind = consent.ConsentNone }, "kind"},
			{"BadScope", func(c *consent.NewConsent) { c.Scope = "marketing" }, "scope"},
			{"BadChannel", func(c *consent.NewConsent) { c.Channel = "fax" }, "channel"},
			{"NoObtainedAt", func(c *consent.NewConsent) { c.ObtainedAt = time.Time{} }, "obtained_at"},
			{"FutureObtainedAt", func(c *consent.NewConsent) { c.ObtainedAt = time.Now().Add(time.Hour) }, "obtained_at"},
			{"ExpiresBeforeObtained", func(c *consent.NewConsent) { c.ExpiresAt = c.ObtainedAt }, "expires_at"},
			{"NoSource", func(c *consent.NewConsent) { c.Source = "  " }, "source"},
		}
		for _, tc := range cases {
			in := goodConsent()
			tc.edit(&in)
			_, err := b.ledger.AddConsent(b.ctx, in)
			require.ErrorIs(t, err, consent.ErrInvalidRecord, tc.name)
			var fe consent.FieldErrors
			require.True(t, errors.As(err, &fe), tc.name)
			require.Contains(t, fe, tc.field, tc.name)
			require.Len(t, fe, 1, "%s: %v", tc.name, fe)
		}
		in := goodConsent()
		in.ContactID = 999
		_, err := b.ledger.AddConsent(b.ctx, in)
		require.ErrorIs(t, err, consent.ErrInvalidRecord)
		require.ErrorContains(t, err, "no such contact")
		require.Zero(t, b.count(t, `SELECT count(*) FROM consents`))
	})
}

// TestLedgerConsentAheadOfItsRecording: a consent dated ahead of the
// clock, within the skew the ledger allows, is kept as obtained when it
// was recorded: dated ahead, it would beat an opt-out taken between its
// recording and its date (F12 orders them by time).
func TestLedgerConsentAheadOfItsRecording(t *testing.T) {
	t.Parallel()
	b := setupLedger(t)
	in := goodConsent()
	in.ObtainedAt = time.Now().Add(50 * time.Second)
	c, err := b.ledger.AddConsent(b.ctx, in)
	require.NoError(t, err)
	after := time.Now()
	require.False(t, c.ObtainedAt.After(after), "obtained %s, recorded by %s", c.ObtainedAt, after)
	var stored time.Time
	require.NoError(t, b.db.QueryRow(b.ctx, `SELECT obtained_at FROM consents WHERE id = $1`, c.ID).Scan(&stored))
	require.False(t, stored.After(after))

	rep, err := b.ledger.ImportConsents(b.ctx, strings.NewReader("phone,kind,scope,channel,obtained_at,source\n(860) 555-0102,pewc,informational,voice,"+
		time.Now().UTC().Add(50*time.Second).Format(time.RFC3339)+",intake form\n"), consent.FormatCSV, consent.ImportOptions{})
	require.NoError(t, err)
	require.Equal(t, 1, rep.Imported)
	require.NoError(t, b.db.QueryRow(b.ctx, `SELECT obtained_at FROM consents WHERE phone = '+18605550102'`).Scan(&stored))
	require.False(t, stored.After(time.Now()), "imported too")
}

func TestLedgerAddRevocation(t *testing.T) {
	t.Parallel()
	b := setupLedger(t)
	before := time.Now()
	r, err := b.ledger.AddRevocation(b.ctx, consent.NewRevocation{Phone: "860.555.0101", Method: consent.RevokedByIVR, Source: "campaign 4"})
	require.NoError(t, err)
	require.Equal(t, phone.Number("+18605550101"), r.Phone)
	require.WithinDuration(t, before, r.RevokedAt, 5*time.Second, "recorded at the moment it is made")
	require.Equal(t, consent.RevokedByIVR, r.Method)
	require.Equal(t, consent.Purpose(""), r.Scope)

	// Any valid number may opt out, inside the NANP or not; a scope and a
	// past time are kept.
	at := time.Now().Add(-time.Hour).Truncate(time.Microsecond)
	r, err = b.ledger.AddRevocation(b.ctx, consent.NewRevocation{Phone: "+442079460958", Method: consent.RevokedByEmail, RevokedAt: at, Scope: consent.PurposeTelemarketing})
	require.NoError(t, err)
	require.True(t, at.Equal(r.RevokedAt))
	require.Equal(t, consent.PurposeTelemarketing, r.Scope)

	for name, in := range map[string]consent.NewRevocation{
		"phone":      {Phone: "12", Method: consent.RevokedByWeb},
		"method":     {Phone: "8605550101", Method: "carrier pigeon"},
		"revoked_at": {Phone: "8605550101", Method: consent.RevokedByWeb, RevokedAt: time.Now().Add(time.Hour)},
		"scope":      {Phone: "8605550101", Method: consent.RevokedByWeb, Scope: "marketing"},
	} {
		_, err := b.ledger.AddRevocation(b.ctx, in)
		var fe consent.FieldErrors
		require.ErrorAs(t, err, &fe, name)
		require.Contains(t, fe, name)
	}
	_, err = b.ledger.AddRevocation(b.ctx, consent.NewRevocation{Phone: "8605550101", Method: consent.RevokedByStaff, RecordedBy: 4242})
	require.ErrorContains(t, err, "no such user")

	cs, rs, err := b.ledger.History(b.ctx, "+18605550101")
	require.NoError(t, err)
	require.Empty(t, cs)
	require.Len(t, rs, 1)
}

func TestLedgerAppendOnly(t *testing.T) {
	t.Parallel()
	b := setupLedger(t)
	_, err := b.ledger.AddConsent(b.ctx, goodConsent())
	require.NoError(t, err)
	_, err = b.ledger.AddRevocation(b.ctx, consent.NewRevocation{Phone: "8605550101", Method: consent.RevokedByWeb})
	require.NoError(t, err)
	for _, sql := range []string{
		`UPDATE consents SET kind = 'pec'`,
		`DELETE FROM consents`,
		`TRUNCATE consents`,
		`UPDATE revocations SET revoked_at = revoked_at - interval '1 year'`,
		`DELETE FROM revocations`,
		`TRUNCATE revocations`,
	} {
		_, err := b.db.Exec(b.ctx, sql)
		require.ErrorContains(t, err, "append-only", sql)
	}
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM consents`))
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM revocations`))
}

// TestLedgerFollow loads an index from the ledger and follows the change
// log as the dialer does, checking that an opt-out and a re-consent reach
// the index and that the sequence moves past other indexes' changes.
func TestLedgerFollow(t *testing.T) {
	t.Parallel()
	b := setupLedger(t)
	const num = 8605550101
	now := time.Now()

	empty, seq0, err := b.ledger.All(b.ctx)
	require.NoError(t, err)
	require.Empty(t, empty)
	require.Zero(t, seq0)

	c1, err := b.ledger.AddConsent(b.ctx, goodConsent())
	require.NoError(t, err)
	other := goodConsent()
	other.Phone, other.Channel, other.Kind = "2125550101", consent.ChannelText, consent.ConsentPEC
	c2, err := b.ledger.AddConsent(b.ctx, other)
	require.NoError(t, err)
	_, err = b.ledger.AddRevocation(b.ctx, consent.NewRevocation{Phone: "+442079460958", Method: consent.RevokedByEmail})
	require.NoError(t, err)

	all, seq, err := b.ledger.All(b.ctx)
	require.NoError(t, err)
	require.Len(t, all, 3)
	require.Positive(t, seq)
	require.Equal(t, consent.RecordConsent, all[0].Type)
	require.Equal(t, c1.ID, all[0].ID)
	require.Equal(t, uint64(num), all[0].Number)
	require.Equal(t, c2.Record().Channel, all[1].Channel)
	require.Equal(t, consent.RecordRevocation, all[2].Type)
	require.Zero(t, all[2].Number, "a number outside the NANP is not indexed")

	recs, last, err := b.ledger.Since(b.ctx, 0)
	require.NoError(t, err)
	require.Equal(t, seq, last)
	require.Len(t, recs, 3)
	for i, r := range recs {
		require.Positive(t, r.Seq)
		if i > 0 {
			require.Greater(t, r.Seq, recs[i-1].Seq)
		}
		r.Seq = 0
		require.Equal(t, all[i].ID, r.ID)
		require.Equal(t, all[i].Type, r.Type)
		require.True(t, all[i].At.Equal(r.At))
	}

	snap, err := b.ledger.LoadSnapshot(b.ctx)
	require.NoError(t, err)
	require.Equal(t, seq, snap.Seq())
	require.Equal(t, 2, snap.Len())
	idx := consent.NewIndex(snap)
	var f consent.ConsentFacts
	require.True(t, idx.Lookup(num, consent.PurposeInformational, consent.ChannelVoice, now, &f))
	require.Equal(t, c1.ID, f.ID)
	require.Equal(t, consent.ConsentPEWC, f.Kind)

	// Nothing new: the sequence stays.
	recs, last, err = b.ledger.Since(b.ctx, seq)
	require.NoError(t, err)
	require.Empty(t, recs)
	require.Equal(t, seq, last)

	// An opt-out reaches the index through Since.
	rev, err := b.ledger.AddRevocation(b.ctx, consent.NewRevocation{Phone: "8605550101", Method: consent.RevokedByKeyword})
	require.NoError(t, err)
	recs, last, err = b.ledger.Since(b.ctx, idx.Snapshot().Seq())
	require.NoError(t, err)
	require.Len(t, recs, 1)
	require.Equal(t, rev.ID, recs[0].ID)
	require.Equal(t, last, recs[0].Seq)
	idx.Apply(recs...)
	require.Equal(t, last, idx.Snapshot().Seq())
	idx.Lookup(num, consent.PurposeInformational, consent.ChannelVoice, time.Now(), &f)
	require.Equal(t, rev.RevokedAt.Truncate(time.Second).UTC(), f.RevokedAt)
	e, err := consent.NewEngine(consent.Config{})
	require.NoError(t, err)
	// Noon in New York tomorrow: after the consent given below, whenever
	// the test runs.
	ny, err := time.LoadLocation("America/New_York")
	require.NoError(t, err)
	y, m, dd := time.Now().In(ny).AddDate(0, 0, 1).Date()
	call := consent.Input{Number: "+18605550101", Purpose: consent.PurposeInformational, Method: consent.MethodPrerecorded,
		At: time.Date(y, m, dd, 12, 0, 0, 0, ny)}
	d := e.Check(call, consent.Facts{Fresh: true, Consent: f})
	require.Equal(t, consent.Deny, d.Verdict)
	require.Contains(t, d.Reasons, consent.ReasonConsentRevoked)

	// Another index's change moves the sequence on, with no records.
	_, err = b.db.Exec(b.ctx, `INSERT INTO dnc_internal (phone, method) VALUES ('+18605550199', 'staff')`)
	require.NoError(t, err)
	recs, last2, err := b.ledger.Since(b.ctx, last)
	require.NoError(t, err)
	require.Empty(t, recs)
	require.Greater(t, last2, last)

	// A new consent after the revocation restores calling.
	again := goodConsent()
	// A later second than the revocation's (the index keeps seconds, and
	// a consent is never dated after it was recorded).
	time.Sleep(time.Until(rev.RevokedAt.Truncate(time.Second).Add(time.Second)))
	again.ObtainedAt = time.Now()
	c3, err := b.ledger.AddConsent(b.ctx, again)
	require.NoError(t, err)
	recs, last3, err := b.ledger.Since(b.ctx, last2)
	require.NoError(t, err)
	require.Len(t, recs, 1)
	idx.Apply(recs...)
	require.Equal(t, last3, idx.Snapshot().Seq())
	require.True(t, idx.Lookup(num, consent.PurposeInformational, consent.ChannelVoice, call.At, &f))
	require.Equal(t, c3.ID, f.ID)
	d = e.Check(call, consent.Facts{Fresh: true, Consent: f})
	require.Equal(t, consent.Allow, d.Verdict, "%v", d.Reasons)
	require.Equal(t, c3.ID, d.ConsentID)

	// The followed index agrees with a fresh load.
	fresh, err := b.ledger.LoadSnapshot(b.ctx)
	require.NoError(t, err)
	require.Equal(t, fresh.Len(), idx.Snapshot().Len())
	var g consent.ConsentFacts
	fresh.Lookup(num, consent.PurposeInformational, consent.ChannelVoice, call.At, &g)
	require.Equal(t, g, f)
}
