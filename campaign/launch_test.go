package campaign

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/consent"
	"github.com/heed-dialer/heed/dialer"
)

// TestStartRunsLaunchChecks: Start refuses a campaign whose call would break
// a script rule, names the rule, and changes nothing; it refuses every
// campaign when no checks are configured.
func TestStartRunsLaunchChecks(t *testing.T) {
	t.Parallel()
	s, db := newService(t)
	ctx := context.Background()
	ct := importList(t, s, "ct", "name,phone,state\nAnn,8605550101,CT\n")
	ny := importList(t, s, "ny", "name,phone,state\nBo,2125550101,NY\n")
	create := func(purpose string, listID int64) Campaign {
		c, err := s.Create(ctx, NewCampaign{Name: purpose, Purpose: purpose, ListID: listID, CallerID: "860-555-0100",
			Message: "We have news about your matter."}, 0)
		require.NoError(t, err)
		return c
	}
	status := func(id int64) string { return campaignStatus(t, db, id) }

	// Telemarketing with no national registry copy installed, to Connecticut
	// without the sales disclosure: refused, with both reasons.
	tm := create("telemarketing", ct)
	_, err := s.Start(ctx, tm.ID)
	var le *LaunchError
	require.ErrorAs(t, err, &le)
	require.ErrorIs(t, err, ErrLaunchRefused)
	require.ElementsMatch(t, []consent.Reason{"dnc.national_stale", "script.disclosure"}, le.Reasons)
	require.Contains(t, err.Error(), "at most 31 days old")
	require.Equal(t, "draft", status(tm.ID), "a refused start changes nothing")

	// A fresh registry copy, and contacts outside Connecticut: it starts.
	s.Launch.NationalAsOf = func(context.Context) (time.Time, error) { return time.Now().Add(-24 * time.Hour), nil }
	tm2 := create("telemarketing", ny)
	c, err := s.Start(ctx, tm2.ID)
	require.NoError(t, err)
	require.Equal(t, StatusRunning, c.Status)

	// Informational, debt collection and (outside Connecticut) solicitation
	// calls pass: heed's own opening and closing identify the firm, offer
	// the opt-out, state the callback number and say "Advertising Material"
	// where needed.
	for p, list := range map[string]int64{"informational": ct, "debt_collection": ct, "solicitation": ny} {
		c, err := s.Start(ctx, create(p, list).ID)
		require.NoError(t, err, p)
		require.Equal(t, StatusRunning, c.Status, p)
	}
	// A solicitation to Connecticut needs the sales disclosure too.
	_, err = s.Start(ctx, create("solicitation", ct).ID)
	require.ErrorAs(t, err, &le)
	require.Equal(t, []consent.Reason{"script.disclosure"}, le.Reasons)

	// Contacts are placed as the gate places them: a Connecticut area code
	// is presumed a Connecticut resident (C2), whatever the address, and
	// a Connecticut ZIP is in Connecticut; so Connecticut's disclosure
	// (C4) is checked for them too.
	for name, csv := range map[string]string{
		"ct number, ny address": "name,phone,state\nCy,2125550102,NY\nDi,2035550102,NY\n",
		"ct zip":                "name,phone,state,zip\nEd,2125550103,,06103\n",
		"ct number, no address": "name,phone\nFay,9595550104\n",
		// A toll-free number places no one: every state counts, whatever
		// the other contacts.
		"toll-free and florida": "name,phone,state\nHal,8005550106,\nIda,3055550107,FL\n",
	} {
		_, err = s.Start(ctx, create("telemarketing", importList(t, s, name, csv)).ID)
		require.ErrorAs(t, err, &le, name)
		require.Equal(t, []consent.Reason{"script.disclosure"}, le.Reasons, name)
	}
	// A New York number without an address is placed in New York.
	c, err = s.Start(ctx, create("telemarketing", importList(t, s, "ny number", "name,phone\nGus,2125550105\n")).ID)
	require.NoError(t, err)
	require.Equal(t, StatusRunning, c.Status)

	// No toll-free opt-out number for voicemail: refused.
	s.Launch.OptOutNumber = ""
	_, err = s.Start(ctx, create("informational", ct).ID)
	require.ErrorAs(t, err, &le)
	require.Equal(t, []consent.Reason{"script.callback"}, le.Reasons)

	// No checks at all: nothing starts.
	s.Launch = nil
	info := create("informational", ct)
	_, err = s.Start(ctx, info.ID)
	require.ErrorIs(t, err, ErrLaunchRefused)
	require.Equal(t, "draft", status(info.ID))
}

// TestUpdateThatMovesAContactIntoConnecticut: an update import that moves
// a contact a running sales campaign still has to call into Connecticut,
// where the campaign's script fails the disclosure check it never had to
// pass, is refused; a move elsewhere, or of a contact the campaign is done
// with, is not. Where the checks cannot run, every move of a contact the
// campaign still has to call is refused.
func TestUpdateThatMovesAContactIntoConnecticut(t *testing.T) {
	t.Parallel()
	s, db, _, _ := nyCampaign(t, "Offers", "telemarketing", "We have news about your matter.", "name,phone,state\nBo,2125550101,NY\nCy,2125550102,NY\n")
	ctx := context.Background()
	_, err := db.Exec(ctx, `UPDATE campaign_targets t SET state = 'done' FROM contacts k WHERE k.id = t.contact_id AND k.phone = '+12125550102'`)
	require.NoError(t, err)

	_, err = s.ImportContacts(ctx, "ny", strings.NewReader("name,phone,state,zip\nBo,2125550101,CT,06103\nCy,2125550102,CT,06103\n"), ImportOptions{UpdateExisting: true})
	var ie *ImportError
	require.ErrorAs(t, err, &ie)
	require.Len(t, ie.Report.Rejected, 1, "Cy's call is done")
	require.Equal(t, 2, ie.Report.Rejected[0].Line)
	require.Contains(t, ie.Report.Rejected[0].Reason, "script.disclosure")
	require.Contains(t, ie.Report.Rejected[0].Reason, `for campaign "Offers", which still has to call the contact, where the update moves it`)
	var state string
	require.NoError(t, db.QueryRow(ctx, `SELECT state FROM contacts WHERE phone = '+12125550101'`).Scan(&state))
	require.Equal(t, "NY", state, "nothing was written")

	rep, err := s.ImportContacts(ctx, "ny", strings.NewReader("name,phone,state,zip\nBo,2125550101,NJ,07030\n"), ImportOptions{UpdateExisting: true})
	require.NoError(t, err)
	require.Equal(t, []RowError{{Line: 2, Reason: "changes state, zip"}}, rep.Updated)

	// Where the launch checks cannot run (no Launch: heed import contacts
	// on the command line, which accepted such moves unchecked), every
	// move of a contact the campaign still has to call is refused, saying
	// why and where to make it, and writes nothing.
	s.Launch = nil
	for _, dry := range []bool{true, false} {
		_, err = s.ImportContacts(ctx, "ny", strings.NewReader("name,phone,state,zip\nBo,2125550101,CT,06103\nCy,2125550102,CT,06103\n"),
			ImportOptions{UpdateExisting: true, DryRun: dry})
		require.ErrorAs(t, err, &ie)
		require.Equal(t, []RowError{{Line: 2, Reason: `moves a contact that campaign "Offers" (running or paused) still has to call, ` +
			`and its launch checks do not run here, so heed cannot tell whether it may call the contact where the update moves it: ` +
			`import the update in the web UI (Lists), where they run, or once the campaign no longer has to call the contact`}}, ie.Report.Rejected,
			"Cy's call is done")
	}
	require.NoError(t, db.QueryRow(ctx, `SELECT state FROM contacts WHERE phone = '+12125550101'`).Scan(&state))
	require.Equal(t, "NJ", state, "nothing was written")
	rep, err = s.ImportContacts(ctx, "ny", strings.NewReader("name,phone,state,zip\nCy,2125550102,CT,06103\n"), ImportOptions{UpdateExisting: true})
	require.NoError(t, err)
	require.Equal(t, []RowError{{Line: 2, Reason: "changes state, zip"}}, rep.Updated)
}

// TestStartChecksTheVoicemailOptOutNumber: rule F7's voicemail check reads
// the number the voicemail leaves for opt-outs (HEED_OPTOUT_NUMBER, or the
// campaign's callback number without it), not any toll-free number the
// voicemail happens to say: a court's 1-800 line in the message, or a
// toll-free callback number beside a local opt-out number, is refused,
// and the refusal names the number and where it comes from.
func TestStartChecksTheVoicemailOptOutNumber(t *testing.T) {
	t.Parallel()
	s, db := newService(t)
	ctx := context.Background()
	list := importList(t, s, "ny", "name,phone,state\nBo,2125550101,NY\n")
	start := func(optOut, callback, message string) (Campaign, error) {
		s.Launch.OptOutNumber = optOut
		c, err := s.Create(ctx, NewCampaign{Name: "hearings", Purpose: "informational", ListID: list, CallerID: "860-555-0100",
			Callback: callback, Message: message}, 0)
		require.NoError(t, err)
		_, err = s.Start(ctx, c.ID)
		return c, err
	}
	status := func(id int64) string { return campaignStatus(t, db, id) }
	var le *LaunchError

	// No opt-out number set, a local callback number, and a toll-free
	// number in the message: the voicemail leaves the local number.
	c, err := start("", "860-555-0100", "Your hearing is on Monday. The court's help line is 1-800-555-0123.")
	require.ErrorAs(t, err, &le)
	require.Equal(t, []consent.Reason{"script.callback"}, le.Reasons)
	require.ErrorContains(t, err, "the voicemail, and the call's closing, which an answering machine may record, leave +18605550100 (the campaign's callback number, as HEED_OPTOUT_NUMBER is not set) for opt-outs, which is not a toll-free number")
	require.ErrorContains(t, err, "area code 800, 833, 844, 855, 866, 877 or 888")
	require.Equal(t, "draft", status(c.ID))

	// A local opt-out number set, and a toll-free callback number.
	c, err = start("+18605550199", "888-555-0100", "Your hearing is on Monday.")
	require.ErrorAs(t, err, &le)
	require.Equal(t, []consent.Reason{"script.callback"}, le.Reasons)
	require.ErrorContains(t, err, "the call's closing, which an answering machine may record, leave +18605550199 (HEED_OPTOUT_NUMBER) for opt-outs")
	require.Equal(t, "draft", status(c.ID))

	// The voicemail leaves a toll-free number: the one set, or, without
	// it, a toll-free callback number.
	for _, tc := range [][2]string{{"+18005550199", "860-555-0100"}, {"", "888-555-0100"}} {
		c, err = start(tc[0], tc[1], "Your hearing is on Monday.")
		require.NoError(t, err, tc)
		require.Equal(t, "running", status(c.ID), tc)
	}
}

// TestStartRefusesKeysHeedIgnores: a campaign whose message tells the
// person to press a key heed's calls do not act on is refused, naming the
// key and saying what the keys heed acts on do; a Connecticut sales
// message that offers "press 3 to end this call" is the case (rule C4:
// the call must end when the person asks). Key 2 is heed's menu's to
// offer, only while the office can take the call, never the message's.
func TestStartRefusesKeysHeedIgnores(t *testing.T) {
	t.Parallel()
	s, db := newService(t)
	s.Launch.NationalAsOf = func(context.Context) (time.Time, error) { return time.Now().Add(-24 * time.Hour), nil }
	// Without detection's delay, the disclosure below is said within
	// C4's 10 s (TestStartTimesTheDisclosure).
	s.Launch.NoDetection = true
	ctx := context.Background()
	ct := importList(t, s, "ct", "name,phone,state\nAnn,8605550101,CT\n")
	start := func(purpose, message, transfer string) (Campaign, error) {
		c, err := s.Create(ctx, NewCampaign{Name: purpose, Purpose: purpose, ListID: ct, CallerID: "860-555-0100",
			Message: message, TransferTo: transfer}, 0)
		require.NoError(t, err)
		_, err = s.Start(ctx, c.ID)
		return c, err
	}
	status := func(id int64) string { return campaignStatus(t, db, id) }
	const question = "We are calling about your claim. Would you like to continue, end the call, or be removed from our list? To continue, stay on the line. "
	var le *LaunchError

	c, err := start("telemarketing", question+"To end this call, press 3. To be removed, press 9.", "")
	require.ErrorAs(t, err, &le)
	require.ErrorIs(t, err, ErrLaunchRefused)
	require.Empty(t, le.Reasons, "the C4 disclosure is there: %v", err)
	require.Equal(t, []string{"3"}, le.DeadKeys)
	for _, says := range []string{"the message tells the person to press 3, which heed's calls do not act on",
		"1 (confirm", "* (hear the message again", "9 (stop these calls", "a person ends the call by hanging up"} {
		require.ErrorContains(t, err, says)
	}
	require.Equal(t, "draft", status(c.ID))

	c, err = start("telemarketing", question+"To end this call, hang up. To be removed, press 9.", "")
	require.NoError(t, err)
	require.Equal(t, "running", status(c.ID))

	// Key 2, with a transfer target or without, and keys no call acts on.
	for _, transfer := range []string{"", "+18605550142"} {
		_, err = start("informational", "Your hearing is on Monday. To speak with us, press 2, or press 0 for the operator.", transfer)
		require.ErrorAs(t, err, &le, transfer)
		require.Equal(t, []string{"2", "0"}, le.DeadKeys, transfer)
		require.ErrorContains(t, err, "press 2 or 0", transfer)
		require.ErrorContains(t, err, "2 (speak with the office) is offered by heed's own menu", transfer)
	}
	// heed's own menu offers key 2 with a transfer target: not the message's doing.
	c, err = start("informational", "Your hearing is on Monday. To confirm, press one. To hear this again, press star.", "+18605550142")
	require.NoError(t, err)
	require.Equal(t, "running", status(c.ID))
}

// campaignStatus reads campaign id's status from the database.
func campaignStatus(t *testing.T, db *pgxpool.Pool, id int64) string {
	t.Helper()
	var st string
	require.NoError(t, db.QueryRow(context.Background(), `SELECT status FROM campaigns WHERE id = $1`, id).Scan(&st))
	return st
}

// TestResumeRechecksRunningCampaigns: at start, each running campaign's
// launch checks run again before it gets a new run job. One they now
// refuse (here, started before the check of the keys a message names, or
// under a configuration since changed) is paused, with the reasons, and
// gets no run job; one they pass is resumed.
func TestResumeRechecksRunningCampaigns(t *testing.T) {
	t.Parallel()
	s, db := newService(t)
	ctx := context.Background()
	list := importList(t, s, "ny", "name,phone,state\nBo,2125550101,NY\n")
	start := func(name, message string) Campaign {
		c, err := s.Create(ctx, NewCampaign{Name: name, Purpose: "informational", ListID: list, CallerID: "860-555-0100", Message: message}, 0)
		require.NoError(t, err)
		c, err = s.Start(ctx, c.ID)
		require.NoError(t, err)
		return c
	}
	good := start("good", "Your hearing is on Tuesday.")
	dead := start("dead", "Your hearing is on Tuesday.")
	// As a campaign started before the dead-key check: its message now
	// names key 3, which heed's calls ignore.
	_, err := db.Exec(ctx, `UPDATE campaigns SET message_text = 'Your hearing is on Tuesday. Press 3 to end this call.' WHERE id = $1`, dead.ID)
	require.NoError(t, err)

	rep, err := s.Resume(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, rep.Resumed)
	require.Len(t, rep.Paused, 1)
	require.Equal(t, dead.ID, rep.Paused[0].ID)
	require.Equal(t, []string{"3"}, rep.Paused[0].Why.DeadKeys)
	require.Equal(t, "paused", campaignStatus(t, db, dead.ID))
	require.Equal(t, "running", campaignStatus(t, db, good.ID))
	var gens map[int64]int64
	rows, err := db.Query(ctx, `SELECT id, generation FROM campaigns WHERE id IN ($1, $2)`, good.ID, dead.ID)
	require.NoError(t, err)
	gens = map[int64]int64{}
	for rows.Next() {
		var id, g int64
		require.NoError(t, rows.Scan(&id, &g))
		gens[id] = g
	}
	require.Equal(t, good.Generation+1, gens[good.ID], "a new run job's generation")
	require.Equal(t, dead.Generation, gens[dead.ID], "no new run job")

	// With HEED_OPTOUT_NUMBER unset, the voicemail leaves the callback
	// number, which is not toll-free: the good campaign is paused too.
	s.Launch.OptOutNumber = ""
	rep, err = s.Resume(ctx)
	require.NoError(t, err)
	require.Zero(t, rep.Resumed)
	require.Len(t, rep.Paused, 1)
	require.Contains(t, rep.Paused[0].Why.Error(), "is not a toll-free number")
}

// TestStartTimesTheDisclosure: a Connecticut sales campaign's disclosure
// (rule C4) is timed on the call's audio, rendered as the calls speak it,
// from the moment the person answers: heed's opening, then the message up
// to the end of the sentence that completes the disclosure. A message
// said in time starts; the same one where an Asterisk runs
// answering-machine detection is refused, however short the campaign's
// detection, since a person it takes for a machine hears the voicemail
// version after an unbounded wait; a message said late is refused,
// naming the seconds and the parts; a message heed cannot time (an
// uploaded recording, a contact's field before the end of the
// disclosure, no speech measure) is refused too, saying why.
func TestStartTimesTheDisclosure(t *testing.T) {
	t.Parallel()
	s, db := newService(t)
	s.Launch.NationalAsOf = func(context.Context) (time.Time, error) { return time.Now().Add(-24 * time.Hour), nil }
	ctx := context.Background()
	ct := importList(t, s, "ct", "name,phone,state\nAnn,8605550101,CT\n")
	const (
		disclosure = "We are calling about your claim."
		question   = " Would you like to continue, end the call, or be removed from our list? To end this call, hang up."
	)
	start := func(in NewCampaign) (Campaign, error) {
		t.Helper()
		in.Name, in.Purpose, in.ListID, in.CallerID = "offer", "telemarketing", ct, "860-555-0100"
		c, err := s.Create(ctx, in, 0)
		require.NoError(t, err)
		_, err = s.Start(ctx, c.ID)
		return c, err
	}
	refused := func(in NewCampaign, says ...string) {
		t.Helper()
		c, err := start(in)
		var le *LaunchError
		require.ErrorAs(t, err, &le)
		require.Equal(t, []consent.Reason{"script.disclosure"}, le.Reasons, "%v", err)
		for _, w := range says {
			require.ErrorContains(t, err, w)
		}
		require.Equal(t, "draft", campaignStatus(t, db, c.ID))
	}

	// Detection runs: refused, at the dialplan's thresholds and at the
	// form's shortest, and the advice is to run where detection is off,
	// not to shorten it.
	for _, amd := range []dialer.AMDSettings{{}, {TotalAnalysisTime: 1000, InitialSilence: 1000, Greeting: 1000}} {
		refused(NewCampaign{Message: disclosure + question, AMD: amd}, "the call cannot be timed up to the end of its disclosure",
			dialer.ErrDetection.Error(), "it runs only where no Asterisk runs answering-machine detection (every HEED_AMD_CONTEXT empty)")
	}

	// No detection: the same message is said in time, and starts.
	s.Launch.NoDetection = true
	c, err := start(NewCampaign{Message: disclosure + question})
	require.NoError(t, err)
	require.Equal(t, "running", campaignStatus(t, db, c.ID))
	// A contact's field after the disclosure does not change its timing.
	c, err = start(NewCampaign{Message: disclosure + question + " Goodbye, {first_name}."})
	require.NoError(t, err)
	require.Equal(t, "running", campaignStatus(t, db, c.ID))

	// What the check does not take to be in time.
	refused(NewCampaign{Message: "We are calling about claim 4815162342." + question},
		"rule C4: the caller's identity, the firm and the purpose are said in full ", "after the person answers, past 10 s: heed's start 0.25 s + heed's opening ",
		`the message up to "…calling about claim 4815162342."`)
	refused(NewCampaign{Message: "Hello {first_name}. " + disclosure + question},
		"the call cannot be timed up to the end of its disclosure", "its timing differs for each contact")
	refused(NewCampaign{Message: disclosure + question, Audio: "upload-0123456789abcdef01234567"},
		"the call cannot be timed up to the end of its disclosure", "the message is an uploaded recording, which heed cannot time")
	s.Launch.Voice = nil
	refused(NewCampaign{Message: disclosure + question}, "the call's audio cannot be timed (heed has no measure of its speech configured)")

	// Outside Connecticut nothing is timed, and no speech is needed.
	ny := importList(t, s, "ny", "name,phone,state\nBo,2125550101,NY\n")
	c, err = s.Create(ctx, NewCampaign{Name: "ny", Purpose: "telemarketing", ListID: ny, CallerID: "860-555-0100", Message: "We have news."}, 0)
	require.NoError(t, err)
	_, err = s.Start(ctx, c.ID)
	require.NoError(t, err)
}

// TestStartWithoutSpeechEngine: where no speech engine is installed, a
// Connecticut sales campaign's disclosure cannot be timed, and the
// campaign is refused, saying so; one that needs no timing starts. (Not
// parallel: it empties PATH, which parallel tests wait out.)
func TestStartWithoutSpeechEngine(t *testing.T) {
	s, db := newService(t)
	s.Launch.NationalAsOf = func(context.Context) (time.Time, error) { return time.Now().Add(-24 * time.Hour), nil }
	s.Launch.NoDetection = true
	ctx := context.Background()
	ct := importList(t, s, "ct", "name,phone,state\nAnn,8605550101,CT\n")
	t.Setenv("PATH", t.TempDir())
	create := func(purpose string) Campaign {
		c, err := s.Create(ctx, NewCampaign{Name: purpose, Purpose: purpose, ListID: ct, CallerID: "860-555-0100",
			Message: "We are calling about your claim. Would you like to continue, end the call, or be removed from our list?"}, 0)
		require.NoError(t, err)
		return c
	}
	c := create("telemarketing")
	_, err := s.Start(ctx, c.ID)
	var le *LaunchError
	require.ErrorAs(t, err, &le)
	require.Equal(t, []consent.Reason{"script.disclosure"}, le.Reasons)
	require.ErrorContains(t, err, "rule C4: the call cannot be timed up to the end of its disclosure, so the disclosure is not taken to be said within 10 s: "+
		"heed's opening: no text-to-speech engine found (install espeak-ng or flite, and sox)")
	require.Equal(t, "draft", campaignStatus(t, db, c.ID))

	c = create("informational")
	_, err = s.Start(ctx, c.ID)
	require.NoError(t, err)
}

// TestUpdateIntoConnecticutTimesTheCall: an update that moves a contact a
// running sales campaign still has to call into Connecticut is checked
// against the campaign's call as it is played: a campaign whose message
// is an uploaded recording cannot be timed (rule C4), so the move is
// refused, even though its text would be said in time; the same text
// spoken by heed is timed, said in time, and the move goes through.
func TestUpdateIntoConnecticutTimesTheCall(t *testing.T) {
	t.Parallel()
	s, db := newService(t)
	s.Launch.NationalAsOf = func(context.Context) (time.Time, error) { return time.Now().Add(-24 * time.Hour), nil }
	s.Launch.NoDetection = true
	ctx := context.Background()
	const msg = "We are calling about your claim. Would you like to continue, end the call, or be removed from our list? To end this call, hang up."
	run := func(name, audio string) int64 {
		listID := importList(t, s, name, "name,phone,state\nBo,2125550101,NY\n")
		c, err := s.Create(ctx, NewCampaign{Name: name, Purpose: "telemarketing", ListID: listID, CallerID: "860-555-0100", Message: msg, Audio: audio}, 0)
		require.NoError(t, err)
		_, err = s.Start(ctx, c.ID)
		require.NoError(t, err, "in New York, no disclosure is timed")
		return listID
	}
	run("recorded", "upload-0123456789abcdef01234567")
	run("spoken", "")

	_, err := s.ImportContacts(ctx, "recorded", strings.NewReader("name,phone,state,zip\nBo,2125550101,CT,06103\n"), ImportOptions{UpdateExisting: true})
	var ie *ImportError
	require.ErrorAs(t, err, &ie)
	require.Len(t, ie.Report.Rejected, 1)
	require.Contains(t, ie.Report.Rejected[0].Reason, "script.disclosure")
	require.Contains(t, ie.Report.Rejected[0].Reason, `for campaign "recorded", which still has to call the contact, where the update moves it`)

	_, err = s.ImportContacts(ctx, "spoken", strings.NewReader("name,phone,state,zip\nBo,2125550101,CT,06103\n"), ImportOptions{UpdateExisting: true})
	require.NoError(t, err)
	var state string
	require.NoError(t, db.QueryRow(ctx, `SELECT c.state FROM contacts c JOIN contact_lists l ON l.id = c.list_id WHERE l.name = 'spoken'`).Scan(&state))
	require.Equal(t, "CT", state)
}
