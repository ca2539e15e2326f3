package campaign

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/consent"
	"github.com/heed-dialer/heed/dialer"
	"github.com/heed-dialer/heed/dnc"
	"github.com/heed-dialer/heed/internal/phone"
)

func TestAttemptRecord(t *testing.T) {
	t.Parallel()
	s, db := newService(t)
	ctx := context.Background()
	listID, c := startOn(t, s, "rec", "name,phone,state,zip,person_ref\nAnn Lee,8605550101,CT,06103,P-1\n")
	var contactID int64
	require.NoError(t, db.QueryRow(ctx, `SELECT id FROM contacts WHERE list_id = $1`, listID).Scan(&contactID))
	e := s.Launch.Engine()
	ledger := consent.NewLedger(db)
	rec, err := ledger.AddConsent(ctx, consent.NewConsent{Phone: "8605550101", Kind: consent.ConsentPEC, Scope: consent.PurposeInformational,
		Channel: consent.ChannelVoice, ObtainedAt: time.Now().Add(-48 * time.Hour), Source: "engagement letter", Evidence: "signed 2026-11-01"})
	require.NoError(t, err)

	// An allowed call, relying on the consent, with a history of one call.
	at := time.Date(2026, 11, 27, 15, 0, 0, 0, time.UTC) // 10:00 in Hartford
	st := NewStore(db)
	req := dialer.Request{Phone: "+18605550101", Purpose: consent.PurposeInformational, Method: consent.MethodPrerecorded, State: "CT", ZIP: "06103",
		At: at, CampaignID: c.ID, ContactID: contactID,
		History: []consent.Attempt{{At: at.Add(-24 * time.Hour), Purpose: consent.PurposeInformational, Method: consent.MethodPrerecorded, Conversation: true}}}
	target := dialer.Target{CampaignID: c.ID, ContactID: contactID, AttemptNo: 1, Phone: "+18605550101", Person: "P-1",
		HistoryNumbers: []phone.Number{"+18605550101", "+12035550199"}}
	allowed, err := st.Decide(ctx, target, req, consent.Decision{Verdict: consent.Allow, Pack: e.Version(), ConsentID: rec.ID})
	require.NoError(t, err)

	r, err := s.AttemptRecord(ctx, c.ID, allowed)
	require.NoError(t, err)
	require.Equal(t, "allow", r.Decision)
	require.Equal(t, "Hearings", r.Campaign)
	require.Equal(t, "Ann Lee", r.ContactName)
	require.Equal(t, "+18605550100", r.CallerID)
	require.Equal(t, req.Phone, r.Request.Phone)
	require.True(t, req.At.Equal(r.Request.At))
	require.Len(t, r.Request.History, 1)
	require.True(t, r.Request.History[0].Conversation)
	require.Equal(t, "P-1", r.HistoryPerson)
	require.Equal(t, []phone.Number{"+18605550101", "+12035550199"}, r.HistoryNumbers)
	require.NotNil(t, r.Consent)
	require.Equal(t, rec.ID, r.Consent.ID)
	require.Equal(t, "engagement letter", r.Consent.Source)
	require.Equal(t, rec.EvidenceHash, r.Consent.EvidenceHash)
	require.Len(t, r.Consent.EvidenceHash, 64)
	require.Empty(t, r.Revocations)
	require.Empty(t, r.DNC)
	require.NotNil(t, r.Places)
	require.Equal(t, []string{"CT"}, r.Places.States)
	require.Equal(t, []ZoneTime{{Zone: "America/New_York", Local: at.In(mustZone("America/New_York"))}}, r.Places.Zones)
	require.Equal(t, "10:00", r.Places.Zones[0].Local.Format("15:04"))
	require.Equal(t, e.Version(), r.PackNow)
	require.Empty(t, r.Grounds, "an allowed call has no reasons")

	// The number opts out and is on the internal list; the next attempt is
	// blocked with both reasons, and its record shows both records.
	_, err = ledger.AddRevocation(ctx, consent.NewRevocation{Phone: "8605550101", Method: consent.RevokedByIVR, Source: "key 9"})
	require.NoError(t, err)
	_, err = db.Exec(ctx, `INSERT INTO dnc_internal (phone, method, source) VALUES ($1, $2, $3)`, "+18605550101", "ivr", "key 9 on attempt 1")
	require.NoError(t, err)
	req.At = time.Now()
	target.AttemptNo = 2
	_, err = db.Exec(ctx, `UPDATE campaign_targets SET state = 'pending' WHERE campaign_id = $1`, c.ID) // the first call ended
	require.NoError(t, err)
	blocked, err := st.Decide(ctx, target, req, consent.Decision{Verdict: consent.Deny, Pack: e.Version(),
		Reasons: []consent.Reason{consent.ReasonDNCInternal, consent.ReasonConsentRevoked}})
	require.NoError(t, err)
	r, err = s.AttemptRecord(ctx, c.ID, blocked)
	require.NoError(t, err)
	require.Nil(t, r.Consent)
	require.Len(t, r.Revocations, 1)
	require.Equal(t, "ivr", r.Revocations[0].Method)
	require.Len(t, r.DNC, 1)
	require.Equal(t, "key 9 on attempt 1", r.DNC[0].Source)
	require.Len(t, r.Grounds, 2)
	require.Equal(t, consent.ReasonDNCInternal, r.Grounds[0].Reason)
	require.Equal(t, "F9", r.Grounds[0].Rules[0].Code)
	require.Equal(t, consent.ReasonConsentRevoked, r.Grounds[1].Reason)
	require.NotEmpty(t, r.Grounds[1].Rules)

	// The first attempt's record is as it was: the revocation and the
	// entry came after it.
	r, err = s.AttemptRecord(ctx, c.ID, allowed)
	require.NoError(t, err)
	require.Empty(t, r.Revocations)
	require.Empty(t, r.DNC)

	require.Len(t, r.Consents, 1)
	r, err = s.AttemptRecord(ctx, c.ID, blocked)
	require.NoError(t, err)
	require.Len(t, r.Consents, 1, "the consent on file, though the decision did not rely on it")
	require.Equal(t, rec.ID, r.Consents[0].ID)
	require.False(t, r.Revocations[0].Late)

	// A decision that read the lists up to a change-log position: a
	// revocation logged after it, though written before the attempt, is
	// marked late; an entry taken off after it still counts.
	var pos int64
	require.NoError(t, db.QueryRow(ctx, `SELECT max(seq) FROM index_changes`).Scan(&pos))
	_, err = ledger.AddRevocation(ctx, consent.NewRevocation{Phone: "8605550101", Method: consent.RevokedByWeb, Source: "opt-out page"})
	require.NoError(t, err)
	_, err = db.Exec(ctx, `UPDATE dnc_internal SET removed_at = now() WHERE phone = '+18605550101'`)
	require.NoError(t, err)
	target.IndexSeq = pos
	target.AttemptNo = 3
	// It read the national registry copy installed (version 1).
	reg := dnc.NewRegistry(db, t.TempDir())
	var nb dnc.Builder
	require.NoError(t, nb.Add(2035550100))
	_, err = reg.Install(ctx, dnc.National, time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), "national registry download", nb.Build(), 0)
	require.NoError(t, err)
	target.Lists = map[string]uint64{"national": 1}
	_, err = db.Exec(ctx, `UPDATE campaign_targets SET state = 'pending' WHERE campaign_id = $1`, c.ID)
	require.NoError(t, err)
	third, err := st.Decide(ctx, target, req, consent.Decision{Verdict: consent.Deny, Pack: e.Version(),
		Reasons: []consent.Reason{consent.ReasonDNCInternal, consent.ReasonConsentRevoked}})
	require.NoError(t, err)
	r, err = s.AttemptRecord(ctx, c.ID, third)
	require.NoError(t, err)
	require.Equal(t, pos, r.IndexSeq)
	require.Len(t, r.Revocations, 2)
	require.False(t, r.Revocations[0].Late, "in the gate's lists")
	require.True(t, r.Revocations[1].Late, "logged after the gate's position")
	require.Len(t, r.DNC, 1, "taken off after the gate's position: it was in force for the decision")
	require.False(t, r.DNC[0].Late)
	require.Positive(t, r.IndexTop, "the log's top when the attempt was recorded")
	require.Len(t, r.Copies, 1)
	require.Equal(t, RecordCopy{List: "national", Version: 1, AsOf: r.Copies[0].AsOf, Count: 1,
		Source: "national registry download", InstalledAt: r.Copies[0].InstalledAt}, r.Copies[0])
	require.True(t, r.Copies[0].AsOf.Equal(time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)))
	require.WithinDuration(t, time.Now(), r.Copies[0].InstalledAt, time.Minute)

	// A revocation committed after the attempt was recorded is not in its
	// record, whatever its time says.
	_, err = db.Exec(ctx, `INSERT INTO revocations (phone, revoked_at, method, created_at) VALUES ('+18605550101', now(), 'email', now() - interval '1 hour')`)
	require.NoError(t, err)
	r, err = s.AttemptRecord(ctx, c.ID, third)
	require.NoError(t, err)
	require.Len(t, r.Revocations, 2, "a record logged after the attempt's top is left out")
	r, err = s.AttemptRecord(ctx, c.ID, blocked)
	require.NoError(t, err)
	require.Len(t, r.Revocations, 1, "the second attempt's record is as it was")

	// Decided under other packs: no grounds or places from today's.
	forgeAttempts(t, db, `UPDATE attempts SET pack = 'federal@2025.1' WHERE id = $1`, blocked)
	r, err = s.AttemptRecord(ctx, c.ID, blocked)
	require.NoError(t, err)
	require.Nil(t, r.Grounds)
	require.Nil(t, r.Places)
	require.Equal(t, e.Version(), r.PackNow)

	b, err := json.Marshal(r)
	require.NoError(t, err)
	var got struct {
		Input struct {
			Phone     string `json:"phone"`
			HistoryOf struct {
				Person string `json:"person_ref"`
			} `json:"history_of"`
		} `json:"decision_input"`
	}
	require.NoError(t, json.Unmarshal(b, &got), string(b))
	require.Equal(t, "+18605550101", got.Input.Phone, "the stored input, as it is")
	require.Equal(t, "P-1", got.Input.HistoryOf.Person)

	_, err = s.AttemptRecord(ctx, c.ID+1, blocked)
	require.ErrorIs(t, err, ErrNotFound, "another campaign's attempt")
	_, err = s.AttemptRecord(ctx, c.ID, 999999)
	require.ErrorIs(t, err, ErrNotFound)
}

// An attempt refused while an opt-out of its number was taken but not yet
// recorded shows that opt-out, before and after it is recorded; one taken
// after the attempt is not shown.
func TestAttemptRecordWaitingOptOut(t *testing.T) {
	t.Parallel()
	s, db := newService(t)
	ctx := context.Background()
	listID, c := startOn(t, s, "rec", "name,phone\nAnn Lee,8605550101\n")
	var contactID int64
	require.NoError(t, db.QueryRow(ctx, `SELECT id FROM contacts WHERE list_id = $1`, listID).Scan(&contactID))
	_, err := db.Exec(ctx, `INSERT INTO optout_requests (phone, method, source, taken_at) VALUES
		('+18605550101', 'web', 'opt-out page', now() - interval '5 seconds'), ('+18605550101', 'ivr', 'later', now() + interval '1 hour')`)
	require.NoError(t, err)
	at := time.Date(2026, 11, 27, 15, 0, 0, 0, time.UTC)
	req := dialer.Request{Phone: "+18605550101", Purpose: consent.PurposeInformational, Method: consent.MethodPrerecorded, At: at, CampaignID: c.ID, ContactID: contactID}
	var seq int64 // the gate had applied the log, which holds another number's entry
	_, err = db.Exec(ctx, `INSERT INTO dnc_internal (phone, method) VALUES ('+12035550100', 'staff')`)
	require.NoError(t, err)
	require.NoError(t, db.QueryRow(ctx, `SELECT max(seq) FROM index_changes`).Scan(&seq))
	target := dialer.Target{CampaignID: c.ID, ContactID: contactID, AttemptNo: 1, Phone: "+18605550101", IndexSeq: seq}
	denied, err := NewStore(db).Decide(ctx, target, req, consent.Decision{Verdict: consent.Deny, Reasons: []consent.Reason{consent.ReasonDNCInternal},
		Pack: s.Launch.Engine().Version()})
	require.NoError(t, err)

	r, err := s.AttemptRecord(ctx, c.ID, denied)
	require.NoError(t, err)
	require.Len(t, r.OptOuts, 1, "the one taken before, not the later one")
	require.Equal(t, "opt-out page", r.OptOuts[0].Source)
	require.Nil(t, r.OptOuts[0].RecordedAt)
	require.Empty(t, r.DNC)

	n, err := RecordPendingOptOuts(ctx, db)
	require.NoError(t, err)
	require.Equal(t, 2, n)
	r, err = s.AttemptRecord(ctx, c.ID, denied)
	require.NoError(t, err)
	require.Len(t, r.OptOuts, 1, "recorded after the attempt: still what the gate went by")
	require.NotNil(t, r.OptOuts[0].RecordedAt)
	require.Empty(t, r.DNC, "its entry was written after the attempt")
}
