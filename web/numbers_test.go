package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/campaign"
	"github.com/heed-dialer/heed/consent"
	"github.com/heed-dialer/heed/dialer"
	"github.com/heed-dialer/heed/web"
)

// numberClock is the number page's "now" in TestNumberPage: a Tuesday,
// 10:00 in New York.
var numberClock = time.Date(2026, 11, 17, 15, 0, 0, 0, time.UTC)

// withPreview gives the server the pacing loop's own decisions, over real
// indexes loaded from the test's database, at numberClock.
func withPreview(t *testing.T) func(db *pgxpool.Pool, cfg *web.Config) {
	return func(db *pgxpool.Pool, cfg *web.Config) {
		log := slog.New(slog.NewTextHandler(io.Discard, nil))
		engine, err := consent.NewEngine(consent.Config{})
		require.NoError(t, err)
		ix := dialer.NewIndexes(db, log)
		require.NoError(t, ix.Load(context.Background()))
		cfg.Preview = &dialer.Pacer{Gate: &dialer.PolicyGate{Engine: engine, Indexes: ix}, Store: campaign.NewStore(db), Log: log,
			Overrides: consent.NewOverrideStore(db), Reassigned: consent.NewReassignedStore(db)}
		cfg.Now = func() time.Time { return numberClock }
	}
}

func TestNumberPage(t *testing.T) {
	t.Parallel()
	b := setupWith(t, withPreview(t))
	ctx := context.Background()
	const (
		ann   = "+18605550101"
		other = "+18605550102"
	)
	listID := insertList(t, b, "Hearings <list>", "Ann Lee")
	// Ann's accident was 10 days before the page's now: a solicitation
	// waits 30 days more (rule E1).
	accident := numberClock.AddDate(0, 0, -10).Format(time.DateOnly)
	_, err := b.db.Exec(ctx, `UPDATE contacts SET state = 'CT', zip = '06103', person_ref = 'client-7', accident_date = $2 WHERE list_id = $1`, listID, accident)
	require.NoError(t, err)
	var campaignID, attemptID int64
	require.NoError(t, b.db.QueryRow(ctx, `INSERT INTO campaigns (name, purpose, list_id, message_text, caller_id, status)
		VALUES ('December hearings', 'informational', $1, 'Hello', '+18605550100', 'running') RETURNING id`, listID).Scan(&campaignID))
	require.NoError(t, b.db.QueryRow(ctx, `
		INSERT INTO attempts (campaign_id, contact_id, attempt_no, phone, caller_id, decision, reasons, pack, decision_input, status, outcome, created_at, ended_at)
		SELECT $1, id, 1, phone, '+18605550100', 'allow', '{}', 'p', '{}', 'ended', 'answered', $2, $2
		  FROM contacts WHERE list_id = $3 RETURNING id`, campaignID, numberClock.Add(-24*time.Hour), listID).Scan(&attemptID))
	ledger := consent.NewLedger(b.db)
	c, err := ledger.AddConsent(ctx, consent.NewConsent{Phone: ann, Kind: consent.ConsentPEWC, Scope: consent.PurposeInformational,
		Channel: consent.ChannelVoice, ObtainedAt: time.Date(2026, 1, 5, 15, 0, 0, 0, time.UTC), Source: "engagement letter", Evidence: "signed"})
	require.NoError(t, err)
	// Revoked before the consent was given: the consent restores calling.
	_, err = ledger.AddRevocation(ctx, consent.NewRevocation{Phone: ann, RevokedAt: time.Date(2025, 12, 1, 15, 0, 0, 0, time.UTC),
		Method: consent.RevokedByEmail, Source: "no sales calls", Scope: consent.PurposeTelemarketing})
	require.NoError(t, err)
	_, err = b.db.Exec(ctx, `INSERT INTO dnc_internal (phone, method, source, added_at, removed_at)
		VALUES ($1, 'staff', 'entered by mistake', '2026-02-01T15:00:00Z', '2026-02-02T15:00:00Z')`, ann)
	require.NoError(t, err)
	atty, err := b.accounts.ByEmail(ctx, "atty@firm.test")
	require.NoError(t, err)
	_, err = consent.NewOverrideStore(b.db).Log(ctx, consent.NewOverride{Phone: ann, Kind: consent.OverrideRegFDirectConsent,
		Note: "asked for a call every day this week", LoggedBy: atty.ID, Via: consent.ViaWeb})
	require.NoError(t, err)
	// Written after the indexes were loaded: the page's decisions sync
	// them first, as a pacing batch does.
	_, err = b.db.Exec(ctx, `INSERT INTO dnc_internal (phone, method, source) VALUES ($1, $2, $3)`, other, "staff", "asked on the phone")
	require.NoError(t, err)

	// Nothing the page or the API does is recorded (signing in and the
	// API tokens are, in the audit log).
	rows := func() (n int) {
		t.Helper()
		require.NoError(t, b.db.QueryRow(ctx, `SELECT (SELECT count(*) FROM attempts) + (SELECT count(*) FROM index_changes)
			+ (SELECT count(*) FROM campaign_targets) + (SELECT count(*) FROM consents) + (SELECT count(*) FROM revocations)
			+ (SELECT count(*) FROM dnc_internal) + (SELECT count(*) FROM overrides)`).Scan(&n))
		return n
	}
	before := rows()
	defer func() { require.Equal(t, before, rows(), "looking a number up records nothing") }()

	para := b.browser(t)
	code, _ := para.signin("para@firm.test", password)
	require.Equal(t, http.StatusSeeOther, code)
	code, body, _ := para.get("/campaigns")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, `<a href="/numbers">Numbers</a>`, "every role has the lookup in its menu")
	code, body, _ = para.get("/numbers")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, `id="number-search"`)
	require.NotContains(t, body, `id="now"`)

	code, body, _ = para.get("/numbers?phone=" + url.QueryEscape("(860) 555-0101"))
	require.Equal(t, http.StatusOK, code, body)
	require.Contains(t, body, `<h2 id="number">&#43;18605550101</h2>`, "the number as typed is read and normalised")
	require.Contains(t, body, "as for Ann Lee of Hearings &lt;list&gt; (CT 06103), counting the calls to every number of person <code>client-7</code>")
	require.Contains(t, body, "America/New_York")
	// Informational: the consent on file allows the call at 10:00.
	require.Regexp(t, `(?s)<tr id="now-informational">.*?<span class="decision-allow verdict">allow</span><div class="muted">relying on consent `+fmt.Sprint(c.ID)+`</div><div class="muted">1 call\(s\) counted</div>`, body)
	// Telemarketing: no consent of its scope, no national registry copy.
	require.Regexp(t, `(?s)<tr id="now-telemarketing">.*?<span class="decision-deny verdict">deny</span>.*?</tr>`, body)
	require.Contains(t, body, "On none of the do-not-call lists heed reads.", "the entry taken off no longer holds")
	require.Contains(t, body, "1 override(s) logged by attorneys.", "a paralegal is told of overrides without a link to a page they cannot open")
	require.Contains(t, body, "engagement letter")
	require.Contains(t, body, "no sales calls")
	require.Contains(t, body, "entered by mistake")
	require.NotContains(t, body, `<span class="muted">in force</span>`)
	require.Contains(t, body, fmt.Sprintf(`<a href="/campaigns/%d/attempts/%d">%d</a>`, campaignID, attemptID, attemptID))
	require.Contains(t, body, fmt.Sprintf(`<a href="/lists/%d?q=%%2b18605550101">Hearings &lt;list&gt;</a>`, listID))
	require.Contains(t, body, `<span class="outcome-answered">answered</span>`)

	code, body, _ = para.get("/numbers?phone=" + url.QueryEscape(other))
	require.Equal(t, http.StatusOK, code, body)
	require.Contains(t, body, "On the do-not-call lists heed reads: <b>internal</b>.", "an opt-out made after start-up holds on the page at once")
	require.Regexp(t, `(?s)<tr id="now-informational">.*?decision-deny.*?<code>dnc.internal</code>.*?</tr>`, body)
	require.Contains(t, body, "for the number alone: no contact has it")
	require.Contains(t, body, "No campaign has tried to call this number.")
	require.Contains(t, body, `<span class="muted">in force</span>`)

	code, body, _ = para.get("/numbers?phone=call+me")
	require.Equal(t, http.StatusUnprocessableEntity, code)
	require.Contains(t, body, "&#34;call me&#34; is not a phone number heed can read")
	require.Contains(t, body, `value="call me"`, "what was typed comes back to be corrected")
	long := strings.Repeat("8", 100_000)
	code, body, _ = para.get("/numbers?phone=" + long)
	require.Equal(t, http.StatusUnprocessableEntity, code)
	require.Contains(t, body, "is too long to be a phone number")
	require.Less(t, len(body), 20_000, "a long input is not sent back")
	// A number outside the NANP: heed holds nothing, and the gate refuses
	// every purpose.
	code, body, _ = para.get("/numbers?phone=" + url.QueryEscape("+44 20 7946 0958"))
	require.Equal(t, http.StatusOK, code, body)
	require.Regexp(t, `(?s)<tr id="now-solicitation">.*?decision-deny.*?<code>number.unsupported</code>`, body)

	lawyer := b.browser(t)
	code, _ = lawyer.signin("atty@firm.test", password)
	require.Equal(t, http.StatusSeeOther, code)
	code, body, _ = lawyer.get("/numbers?phone=" + url.QueryEscape(ann))
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, `<a href="/overrides?number=%2b18605550101">see them</a>`)
	require.Contains(t, body, "<td>Hearings &lt;list&gt;</td>", "attorneys cannot open contact lists: the list is named, not linked")

	admin := b.browser(t)
	code, _ = admin.signin("admin@firm.test", password)
	require.Equal(t, http.StatusSeeOther, code)
	code, body, _ = admin.get("/numbers?phone=" + url.QueryEscape(ann))
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, `<a href="/overrides?number=%2b18605550101">see them</a>`)
	require.Contains(t, body, fmt.Sprintf(`<a href="/lists/%d?q=%%2b18605550101">`, listID))

	// The API takes the number with its + escaped, as the README says,
	// or as typed.
	for _, p := range []string{"%2B18605550101", "%2b18605550101", "+18605550101", "8605550101", "(860)%20555-0101"} {
		code, out := b.api(t, b.token(t, "atty@firm.test"), "GET", "/api/v1/numbers/"+p, "")
		require.Equal(t, http.StatusOK, code, "%s: %s", p, out)
		require.Contains(t, out, `"phone":"+18605550101"`, p)
	}
	code, out := b.api(t, b.token(t, "atty@firm.test"), "GET", "/api/v1/numbers/%2B18605550101", "")
	require.Equal(t, http.StatusOK, code, out)
	var rec struct {
		Phone string `json:"phone"`
		Now   []struct {
			Purpose  string `json:"purpose"`
			Decision struct {
				Decision  string   `json:"decision"`
				Reasons   []string `json:"reasons"`
				ConsentID *int64   `json:"consent_id"`
			} `json:"decision"`
			Calls int `json:"calls_counted"`
		} `json:"now"`
		As *struct {
			Name         string
			AccidentDate string `json:"accident_date"`
		} `json:"as_contact"`
		Places struct {
			Zones []struct {
				Zone  string    `json:"zone"`
				Local time.Time `json:"local"`
			} `json:"zones"`
			States []string `json:"states"`
		} `json:"places"`
		Attempts []struct {
			ID       int64  `json:"id"`
			Campaign string `json:"campaign"`
		} `json:"attempts"`
		Total    int `json:"total_attempts"`
		Consents []struct {
			ID           int64  `json:"id"`
			EvidenceHash string `json:"evidence_sha256"`
		} `json:"consents"`
		DNC []struct {
			RemovedAt *time.Time `json:"removed_at"`
		} `json:"dnc_internal"`
		Lists     []struct{ List string } `json:"dnc_lists"`
		Overrides int                     `json:"overrides"`
		At        time.Time               `json:"at"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &rec))
	require.Equal(t, ann, rec.Phone)
	require.Len(t, rec.Now, 4)
	require.Equal(t, accident, rec.As.AccidentDate)
	require.Equal(t, "solicitation", rec.Now[3].Purpose)
	require.Contains(t, rec.Now[3].Decision.Reasons, "ethics.solicitation", "the contact's accident holds a solicitation, as the dialer's would be")
	require.NotContains(t, rec.Now[1].Decision.Reasons, "ethics.solicitation")
	require.Equal(t, "informational", rec.Now[0].Purpose)
	require.Equal(t, "allow", rec.Now[0].Decision.Decision)
	require.NotNil(t, rec.Now[0].Decision.ConsentID)
	require.Equal(t, c.ID, *rec.Now[0].Decision.ConsentID)
	require.Equal(t, 1, rec.Now[0].Calls)
	require.Equal(t, "deny", rec.Now[1].Decision.Decision)
	require.NotEmpty(t, rec.Now[1].Decision.Reasons)
	require.Equal(t, "Ann Lee", rec.As.Name)
	require.Equal(t, []string{"CT"}, rec.Places.States)
	require.Len(t, rec.Places.Zones, 1)
	require.Equal(t, "America/New_York", rec.Places.Zones[0].Zone)
	require.Equal(t, "2026-11-17T10:00:00-05:00", rec.Places.Zones[0].Local.Format(time.RFC3339), "the instant in the called party's zone")
	require.Equal(t, 1, rec.Total)
	require.Len(t, rec.Attempts, 1)
	require.Equal(t, attemptID, rec.Attempts[0].ID)
	require.Equal(t, "December hearings", rec.Attempts[0].Campaign)
	require.Len(t, rec.Consents, 1)
	require.Len(t, rec.Consents[0].EvidenceHash, 64)
	require.Len(t, rec.DNC, 1)
	require.NotNil(t, rec.DNC[0].RemovedAt)
	require.Empty(t, rec.Lists)
	require.Equal(t, 1, rec.Overrides)
	require.True(t, rec.At.Equal(numberClock))

	code, out = b.api(t, b.token(t, "para@firm.test"), "GET", "/api/v1/numbers/"+url.PathEscape(other), "")
	require.Equal(t, http.StatusOK, code, out)
	require.Contains(t, out, `"dnc_lists":[{"list":"internal"`)
	code, out = b.api(t, b.token(t, "para@firm.test"), "GET", "/api/v1/numbers/nope", "")
	require.Equal(t, http.StatusBadRequest, code, out)
	code, _ = b.api(t, "", "GET", "/api/v1/numbers/"+url.PathEscape(ann), "")
	require.Equal(t, http.StatusUnauthorized, code)

	anon := b.browser(t)
	code, _, _ = anon.get("/numbers?phone=" + url.QueryEscape(ann))
	require.Equal(t, http.StatusSeeOther, code, "signed-out visitors are sent to sign in")
}

// Without a dialer to ask, the page says so rather than that the number is
// on no list.
func TestNumberPageWithoutGate(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	_, err := b.db.Exec(ctx, `INSERT INTO dnc_internal (phone, method, source) VALUES ($1, $2, $3)`, "+18605550101", "staff", "asked")
	require.NoError(t, err)
	br := b.browser(t)
	code, _ := br.signin("atty@firm.test", password)
	require.Equal(t, http.StatusSeeOther, code)
	code, body, _ := br.get("/numbers?phone=8605550101")
	require.Equal(t, http.StatusOK, code, body)
	require.Contains(t, body, "This server has no dialer to ask")
	// Typed with a "+" but without its 1: the North American number, as
	// the opt-out page reads it, not Egypt's +20.
	code, plus, _ := br.get("/numbers?phone=" + url.QueryEscape("+860 555 0101"))
	require.Equal(t, http.StatusOK, code, plus)
	require.Contains(t, plus, "<td>asked</td>")
	require.NotContains(t, body, "On none of the do-not-call lists")
	require.Contains(t, body, "<td>asked</td>", "the entry is still listed")
	code, out := b.api(t, b.token(t, "atty@firm.test"), "GET", "/api/v1/numbers/%2B18605550101", "")
	require.Equal(t, http.StatusOK, code, out)
	require.Contains(t, out, `"now":null`)
	require.Contains(t, out, `"dnc_lists":null`)
}

// TestNumberPageLandline shows a contact whose list says its line is a
// landline, without consent: a reminder robocall may go (F3), and every
// other purpose is decided as for an unknown line, so a debt-collection
// robocall needs consent.
func TestNumberPageLandline(t *testing.T) {
	t.Parallel()
	b := setupWith(t, withPreview(t))
	ctx := context.Background()
	listID := insertList(t, b, "Landlines", "Lee Home")
	_, err := b.db.Exec(ctx, `UPDATE contacts SET line_type = 'landline' WHERE list_id = $1`, listID)
	require.NoError(t, err)
	br := b.browser(t)
	code, _ := br.signin("para@firm.test", password)
	require.Equal(t, http.StatusSeeOther, code)
	code, body, _ := br.get("/numbers?phone=8605550101")
	require.Equal(t, http.StatusOK, code, body)
	require.Contains(t, body, "whose list says the line is a landline (for reminders only)")
	row := func(p string) string {
		i := strings.Index(body, `<tr id="now-`+p+`">`)
		require.GreaterOrEqual(t, i, 0, p)
		j := strings.Index(body[i:], "</tr>")
		return body[i : i+j]
	}
	require.Contains(t, row("informational"), ">allow<")
	require.Contains(t, row("debt_collection"), ">deny<")
	require.Contains(t, row("debt_collection"), "consent.missing")
	code, out := b.api(t, b.token(t, "para@firm.test"), "GET", "/api/v1/numbers/%2B18605550101", "")
	require.Equal(t, http.StatusOK, code, out)
	require.Contains(t, out, `"line_type":"landline"`)
}
