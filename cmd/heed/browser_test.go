package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/consent"
	"github.com/heed-dialer/heed/dialer"
	"github.com/heed-dialer/heed/internal/sheet/sheettest"
)

// newBrowser starts a headless Chromium for the test. It fails when none is
// installed: `make test` installs Debian's chromium.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	path := os.Getenv("HEED_CHROMIUM")
	if path == "" {
		for _, p := range []string{"chromium", "chromium-browser", "google-chrome"} {
			if lp, err := exec.LookPath(p); err == nil {
				path = lp
				break
			}
		}
	}
	require.NotEmpty(t, path, "a Chromium browser is required for UI tests (apt-get install chromium)")
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.WindowSize(1280, 900),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	require.NoError(t, chromedp.Do(ctx), "start chromium")
	return ctx
}

// screenshot saves the page to $HEED_SCREENSHOT_DIR, when set, for a person to look at.
func screenshot(t *testing.T, ctx context.Context, name string) {
	dir := os.Getenv("HEED_SCREENSHOT_DIR")
	if dir == "" {
		return
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(dir, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644))
}

// TestBrowserRunsDemoCampaign signs in as the first admin in a real browser,
// creates a campaign on the demo list, starts it and watches the outcomes
// arrive on the campaign page.
func TestBrowserRunsDemoCampaign(t *testing.T) {
	t.Parallel()
	tb := sharedTestbed(t)
	s := startHeed(t, tb)
	const pw = "browser test password"
	out := s.heed(t, "demo", "--admin-password", pw)
	require.Contains(t, out, "first admin")

	ctx := newBrowser(t)
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()

	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(s.URL+"/campaigns"),
		chromedp.WaitVisible(chromedp.ID("signin")),
		chromedp.SendKeys(chromedp.ID("email"), "admin@heed.local"),
		chromedp.SendKeys(chromedp.ID("password"), "wrong password"),
		chromedp.Click(chromedp.ID("signin")),
		chromedp.WaitVisible(chromedp.ID("error")),
	))
	errText, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("error")))
	require.NoError(t, err)
	require.Equal(t, "Wrong email or password.", strings.TrimSpace(errText))

	require.NoError(t, chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.ID("password"), pw),
		chromedp.Click(chromedp.ID("signin")),
		chromedp.WaitVisible(chromedp.ID("new-campaign")),
	))
	who, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("who")))
	require.NoError(t, err)
	require.Equal(t, "admin@heed.local · admin", who)
	screenshot(t, ctx, "campaigns-empty")

	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(chromedp.ID("new-campaign")),
		chromedp.WaitVisible(chromedp.ID("name")),
		chromedp.SendKeys(chromedp.ID("name"), "Hearing reminders (browser)"),
		chromedp.SendKeys(chromedp.ID("message"), "This is Smith and Lee calling about your hearing on Friday at ten."),
		// The caller ID is chosen from the firm's (rule F11): the one
		// heed demo declared.
		chromedp.SetValue(chromedp.ID("caller_id"), demoCallerID),
		chromedp.SetValue(chromedp.ID("ring_seconds"), "20"),
		chromedp.SetValue(chromedp.ID("max_attempts"), "1"),
		chromedp.SendKeys(chromedp.ID("transfer_to"), demoOffice),
	))
	offered, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll('#caller_id option')).map(o => o.value + ' ' + o.textContent.trim())`))
	require.NoError(t, err)
	require.Equal(t, []string{" Choose one", demoCallerID + " +1 203-555-0188 (" + demoCallerIDLabel + ")"}, offered,
		"the form offers the firm's caller IDs, not free text")
	screenshot(t, ctx, "campaign-new")
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(chromedp.ID("create")),
		chromedp.WaitVisible(chromedp.ID("start")),
	))
	// The draft is edited: its form comes back filled with what was stored,
	// so that renaming it changes nothing else.
	settings := func() string {
		t.Helper()
		text, err := chromedp.Run(ctx, chromedp.Evaluate[string](`['settings', 'schedule'].map(id => document.getElementById(id).textContent).join('|') + '|' + document.querySelector('.card').textContent`))
		require.NoError(t, err)
		return strings.ReplaceAll(text, "Hearing reminders (browser)", "NAME")
	}
	before := settings()
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(chromedp.ID("edit")),
		chromedp.WaitVisible(chromedp.ID("save")),
		chromedp.SetValue(chromedp.ID("name"), "Hearing reminders, December (browser)"),
		chromedp.Click(chromedp.ID("save")),
		chromedp.WaitVisible(chromedp.ID("start")),
	))
	flash, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("flash")))
	require.NoError(t, err)
	require.Equal(t, fmt.Sprintf(`Campaign "Hearing reminders, December (browser)" saved, with %d contacts.`, len(demoContacts)), strings.TrimSpace(flash))
	require.Equal(t, before, strings.ReplaceAll(settings(), "Hearing reminders, December (browser)", "NAME"), "an edit that renames changes nothing else")
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(chromedp.ID("start")),
		chromedp.WaitVisible(chromedp.ID("pause")),
	))
	// The live section refreshes itself over htmx until the campaign completes.
	_, err = chromedp.Run(ctx,
		chromedp.Poll[bool](`document.querySelector('#status') && document.querySelector('#status').textContent === 'completed'`,
			chromedp.WithPollingTimeout(2*time.Minute), chromedp.WithPollingInterval(500*time.Millisecond)))
	require.NoError(t, err, "campaign did not complete in the browser\n%s", s.log.String())
	screenshot(t, ctx, "campaign-completed")
	noPause, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector('#pause') === null`))
	require.NoError(t, err)
	require.True(t, noPause, "a completed campaign offers no Pause button")

	rows, err := chromedp.Run(ctx, chromedp.Evaluate[[]map[string]string](`Array.from(document.querySelectorAll('#attempts tbody tr[data-phone]')).map(r => ({
		phone: r.dataset.phone, decision: r.children[3].textContent.trim(), reasons: r.children[4].textContent.trim(),
		outcome: r.querySelector('.outcome').firstChild.textContent.trim()}))`))
	require.NoError(t, err)
	require.Len(t, rows, len(demoContacts))
	want := demoByPhone()
	for _, r := range rows {
		c := want[r["phone"]]
		require.Equal(t, c.Outcome, r["outcome"], "%s (%s) on the page", r["phone"], c.Behaviour)
		if c.OnDNC {
			require.Equal(t, "deny", r["decision"])
			require.Equal(t, "dnc.internal, consent.revoked", r["reasons"], "the entry and its revocation")
		}
	}

	campaignURL, err := chromedp.Run(ctx, chromedp.Location())
	require.NoError(t, err)
	reviewContacts(t, ctx)
	addLateContact(t, ctx, s.URL, campaignURL)
	reviewAttempts(t, ctx, campaignURL)
	lookUpNumber(t, ctx)
	callsReport(t, ctx)
	uploadSpreadsheet(t, ctx, s.URL)
	manageUsers(t, ctx, s.URL)
}

// addLateContact records a client's consent with its signed letter, as
// an admin does on the consents page, imports the client into the demo
// list after its campaign completed, and adds them to the campaign from
// its page: the campaign runs again, calls them through the PSTN
// simulator (the number's last two digits, 02, answer and press 1), and
// completes.
func addLateContact(t *testing.T, ctx context.Context, base, campaignURL string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	dir := t.TempDir()
	contacts, letter := filepath.Join(dir, "late.csv"), filepath.Join(dir, "Lee engagement letter.pdf")
	const late = "+18605550202"
	require.NoError(t, os.WriteFile(contacts, []byte("name,phone\nLee Late,"+late+"\n"), 0o600))
	require.NoError(t, os.WriteFile(letter, []byte("%PDF-1.7\n% engagement letter, reminder calls agreed, signed Lee Late\n%%EOF\n"), 0o600))
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(base+"/admin/consents"),
		chromedp.WaitVisible(chromedp.ID("record-consent")),
		chromedp.SendKeys(chromedp.ID("c-phone"), "860-555-0202"),
		chromedp.SetValue(chromedp.ID("c-kind"), "pewc"),
		chromedp.SetValue(chromedp.ID("c-scope"), "informational"),
		chromedp.SetValue(chromedp.ID("c-obtained"), "2026-01-05T14:30"),
		chromedp.SendKeys(chromedp.ID("c-source"), "engagement letter"),
		chromedp.SetUploadFiles(chromedp.ID("c-document"), []string{letter}),
		chromedp.Click(chromedp.ID("record-consent")),
		chromedp.WaitVisible(chromedp.ID("flash")),
	))
	flash, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("flash")))
	require.NoError(t, err)
	require.Contains(t, flash, "recorded for "+late+": pewc for informational by voice.")
	consents := textOf(t, ctx, "consents")
	require.Contains(t, consents, "Lee engagement letter.pdf", "the number page links the signed letter")
	require.Contains(t, consents, "2026-01-05 14:30:00 EST", "given at 14:30 in New York, the form's zone")
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(base+"/lists"),
		chromedp.WaitVisible(chromedp.ID("upload")),
		chromedp.SendKeys(chromedp.ID("list"), demoListName),
		chromedp.SetUploadFiles(chromedp.ID("file"), []string{contacts}),
		chromedp.Click(chromedp.ID("upload")),
		chromedp.WaitVisible(chromedp.ID("flash")),
	))
	flash, err = chromedp.Run(ctx, chromedp.Text(chromedp.ID("flash")))
	require.NoError(t, err)
	require.Equal(t, `Imported 1 contacts into "`+demoListName+`".`, strings.TrimSpace(flash))
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(campaignURL),
		chromedp.WaitVisible(chromedp.ID("add-contacts")),
	))
	notice, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("new-contacts")))
	require.NoError(t, err)
	require.Contains(t, notice, "1 contact(s) were imported into the list after this campaign started")
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(chromedp.ID("add-contacts")),
		chromedp.WaitVisible(chromedp.ID("flash")),
	))
	flash, err = chromedp.Run(ctx, chromedp.Text(chromedp.ID("flash")))
	require.NoError(t, err)
	require.Equal(t, "Added 1 contact(s) to the campaign. It is running and calls them within its calling hours.", strings.TrimSpace(flash))
	_, err = chromedp.Run(ctx,
		chromedp.Poll[bool](`(() => {
			const row = document.querySelector('#attempts tr[data-phone="`+late+`"]');
			return document.querySelector('#status').textContent === 'completed' && row !== null && row.querySelector('.outcome').textContent.startsWith('confirmed');
		})()`, chromedp.WithPollingTimeout(75*time.Second), chromedp.WithPollingInterval(500*time.Millisecond)))
	require.NoError(t, err, "the late contact was not called and the campaign did not complete again")
	screenshot(t, ctx, "campaign-late-contact")
}

// reviewAttempts opens, from the campaign's page, the record of the
// attempt the gate blocked (the demo contact on the internal do-not-call
// list) and of the late contact's call, which relied on their consent.
func reviewAttempts(t *testing.T, ctx context.Context, campaignURL string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var blocked string
	for _, c := range demoContacts {
		if c.OnDNC {
			blocked = c.Phone
		}
	}
	// open follows the campaign page's link to the record of the number's
	// attempt, and returns the text of the record's element id.
	open := func(phone, id string) string {
		t.Helper()
		require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(campaignURL)))
		require.NoError(t, clickLive(ctx, chromedp.Search(`//tr[@data-phone="`+phone+`"]/td[1]/a`)))
		require.NoError(t, chromedp.Do(ctx, chromedp.WaitVisible(chromedp.ID(id))))
		text, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID(id)))
		require.NoError(t, err)
		return text
	}
	grounds := open(blocked, "grounds")
	screenshot(t, ctx, "attempt-blocked")
	require.Contains(t, grounds, "dnc.internal")
	require.Contains(t, grounds, "F9 Internal (company) do-not-call list")
	require.Contains(t, grounds, "consent.revoked", "the demo's opt-out comes with its revocation, as every opt-out does")
	entries, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("dnc")))
	require.NoError(t, err)
	require.Contains(t, entries, "demo", "the demo's entry, and its source")
	open("+18605550202", "call")
	screenshot(t, ctx, "attempt-confirmed")
	record, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("main")))
	require.NoError(t, err)
	require.Contains(t, record, "Decision: allow")
	require.Contains(t, record, "Consent relied on: record")
	require.Contains(t, record, "(engagement letter); document Lee engagement letter.pdf, SHA-256 ", "the consent recorded through the form, with its letter")
	require.Contains(t, record, "confirmed")
}

// lookUpNumber looks up, from the menu, the demo contact who pressed 9 in
// the call, typed as people write numbers: the page shows the opt-out on
// the internal list and in the ledger, the gate refusing every purpose for
// it, and the call.
func lookUpNumber(t *testing.T, ctx context.Context) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var stopped demoContact
	for _, c := range demoContacts {
		if c.Outcome == "opted_out" {
			stopped = c
		}
	}
	require.Len(t, stopped.Phone, len("+18605550104"), "the demo has a contact who opts out")
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(chromedp.Search(`//nav/a[@href="/numbers"]`)),
		chromedp.WaitVisible(chromedp.ID("phone")),
		chromedp.SendKeys(chromedp.ID("phone"), "("+stopped.Phone[2:5]+") "+stopped.Phone[5:8]+"-"+stopped.Phone[8:]),
		chromedp.Click(chromedp.ID("look-up")),
		chromedp.WaitVisible(chromedp.ID("now-table")),
	))
	screenshot(t, ctx, "number")
	text := func(id string) string { return textOf(t, ctx, id) }
	require.Equal(t, stopped.Phone, text("number"))
	require.Contains(t, text("lists"), "internal")
	for _, p := range consent.Purposes() {
		row := text("now-" + string(p))
		require.Contains(t, row, "deny", p)
		require.Contains(t, row, "dnc.internal", p)
	}
	require.Contains(t, text("revocations"), "ivr", "the key press is in the ledger")
	calls := text("attempts")
	require.Contains(t, calls, "opted_out")
	require.Contains(t, calls, stopped.Name)
}

// callsReport opens the calls report from the menu: the demo's calls,
// checked against the records, contradict none of them, its one blocked
// number is counted, and so is the opt-out a callee pressed 9 for.
func callsReport(t *testing.T, ctx context.Context) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(chromedp.Search(`//nav/a[@href="/reports/calls"]`)),
		chromedp.WaitVisible(chromedp.ID("found")),
	))
	screenshot(t, ctx, "calls-report")
	text := func(id string) string { return textOf(t, ctx, id) }
	require.Contains(t, text("found"), "No finding")
	require.Contains(t, text("denied"), "dnc.internal 1")
	require.Contains(t, text("optouts"), "ivr 1")
	require.Contains(t, text("outcomes"), "opted_out 1")
}

// textOf returns the text of the page's element id.
func textOf(t *testing.T, ctx context.Context, id string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID(id)))
	require.NoError(t, err)
	return s
}

// clickLive clicks what sel finds on a campaign page, whose live section
// htmx may replace at any moment: when the node it found is gone before
// the click lands (CI saw "Could not find node with given id"), it finds
// it again and clicks again, a few times.
func clickLive[S chromedp.Selectable](ctx context.Context, sel S) error {
	var err error
	for range 5 {
		if err = chromedp.Do(ctx, chromedp.Click(sel)); err == nil || !strings.Contains(err.Error(), "Could not find node") {
			return err
		}
		time.Sleep(200 * time.Millisecond)
	}
	return err
}

// reviewContacts opens the completed campaign's contacts from its page, as
// an attorney reviewing it would, finds each demo contact's result, and
// keeps the contacts who were reached.
func reviewContacts(t *testing.T, ctx context.Context) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	require.NoError(t, clickLive(ctx, chromedp.ID("contacts-link")))
	require.NoError(t, chromedp.Do(ctx, chromedp.WaitVisible(chromedp.ID("results"))))
	screenshot(t, ctx, "campaign-contacts")
	results := func() map[string]string {
		t.Helper()
		rows, err := chromedp.Run(ctx, chromedp.Evaluate[[]map[string]string](`Array.from(document.querySelectorAll('#results tbody tr[data-phone]')).map(r => ({
			phone: r.dataset.phone, result: Array.from(r.querySelector('.result').classList).find(c => c.startsWith('result-')).slice(7)}))`))
		require.NoError(t, err)
		out := map[string]string{}
		for _, r := range rows {
			out[r["phone"]] = r["result"]
		}
		return out
	}
	want := demoByPhone()
	got := results()
	require.Len(t, got, len(demoContacts))
	reached := 0
	for ph, result := range got {
		c := want[ph]
		require.Equal(t, c.Outcome, result, "%s (%s): its result is its only call's outcome", ph, c.Behaviour)
		if dialer.Outcome(c.Outcome).Reached() {
			reached++
		}
	}
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(chromedp.ID("filter-reached")),
		chromedp.WaitVisible(chromedp.Search(`//a[@id="filter-reached" and @class="current"]`)),
	))
	got = results()
	require.Len(t, got, reached)
	for ph := range got {
		require.True(t, dialer.Outcome(want[ph].Outcome).Reached(), "%s was reached", ph)
	}
}

// manageUsers adds a paralegal on the users page, disables them, and
// resets their password, which the page shows once.
func manageUsers(t *testing.T, ctx context.Context, base string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(base+"/admin/users"),
		chromedp.WaitVisible(chromedp.ID("users")),
		chromedp.SendKeys(chromedp.ID("email"), "pat@firm.test"),
		chromedp.SendKeys(chromedp.ID("password"), "a long enough password"),
		chromedp.Click(chromedp.Search(`//button[normalize-space()="Add user"]`)),
		chromedp.Click(chromedp.Search(`//tr[td/a[normalize-space()="pat@firm.test"]]//button[normalize-space()="Disable"]`)),
		// The page before the click had a notice too: the new page is the
		// one whose row offers Enable.
		chromedp.WaitVisible(chromedp.Search(`//tr[td/a[normalize-space()="pat@firm.test"]]//button[normalize-space()="Enable"]`)),
	))
	flash, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("flash")))
	require.NoError(t, err)
	require.Equal(t, "Disabled pat@firm.test: they are signed out and their API tokens stop working.", strings.TrimSpace(flash))
	row, err := chromedp.Run(ctx, chromedp.Text(chromedp.Search(`//tr[td/a[normalize-space()="pat@firm.test"]]`)))
	require.NoError(t, err)
	require.Contains(t, row, "disabled")
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(chromedp.Search(`//tr[td/a[normalize-space()="pat@firm.test"]]//button[normalize-space()="Reset password"]`)),
		chromedp.WaitVisible(chromedp.ID("new-password")),
	))
	screenshot(t, ctx, "users")
	pw, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("new-password")))
	require.NoError(t, err)
	require.Len(t, strings.TrimSpace(pw), 16, "a generated password")
}

// uploadSpreadsheet uploads a paralegal's spreadsheet, with its own
// headers, through the contact lists page: checked first (dry run), then
// imported.
func uploadSpreadsheet(t *testing.T, ctx context.Context, base string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	book := filepath.Join(t.TempDir(), "Court dates.xlsx")
	require.NoError(t, os.WriteFile(book, sheettest.Workbook(t, [][]any{{"Client", "Cell", "ZIP"}, {"Gil", 8605550171, 6103}, {"Hal", 2035550172, ""}}), 0o600))
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(base+"/lists"),
		chromedp.WaitVisible(chromedp.ID("upload")),
		chromedp.SendKeys(chromedp.ID("list"), "Court dates"),
		chromedp.SetUploadFiles(chromedp.ID("file"), []string{book}),
		chromedp.SendKeys(chromedp.ID("columns"), "Client=name,Cell=phone"),
		chromedp.Click(chromedp.ID("dry_run")),
		chromedp.Click(chromedp.ID("upload")),
		chromedp.WaitVisible(chromedp.CSS("#report, #error")),
	))
	screenshot(t, ctx, "lists-dry-run")
	page, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("main")))
	require.NoError(t, err)
	require.Contains(t, page, "Check only (dry run): nothing was written", page)
	valid, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("valid")))
	require.NoError(t, err)
	require.Equal(t, "2", valid, "the dry run would import both rows")
	require.NoError(t, chromedp.Do(ctx,
		chromedp.SetUploadFiles(chromedp.ID("file"), []string{book}),
		chromedp.Click(chromedp.ID("dry_run")),
		chromedp.Click(chromedp.ID("upload")),
		// The dry run's page has a report and a notice: the import's page
		// has a notice alone.
		chromedp.WaitNotPresent(chromedp.ID("report")),
		chromedp.WaitVisible(chromedp.ID("flash")),
	))
	flash, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("flash")))
	require.NoError(t, err)
	require.Equal(t, `Imported 2 contacts into "Court dates".`, strings.TrimSpace(flash))
	screenshot(t, ctx, "lists-imported")
	lists, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("main")))
	require.NoError(t, err)
	require.Contains(t, lists, "Court dates\t2", "the new list and its size")

	// The firm's spreadsheet changes (Hal's ZIP is filled in) and is
	// uploaded again, updating the list's contacts.
	require.NoError(t, os.WriteFile(book, sheettest.Workbook(t, [][]any{{"Client", "Cell", "ZIP"}, {"Gil", 8605550171, 6103}, {"Hal", 2035550172, 6106}}), 0o600))
	require.NoError(t, chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.ID("list"), "Court dates"),
		chromedp.SetUploadFiles(chromedp.ID("file"), []string{book}),
		chromedp.SendKeys(chromedp.ID("columns"), "Client=name,Cell=phone"),
		chromedp.Click(chromedp.ID("existing_update")),
		chromedp.Click(chromedp.ID("dry_run")),
		chromedp.Click(chromedp.ID("upload")),
		chromedp.WaitVisible(chromedp.CSS("#updated, #error")),
	))
	screenshot(t, ctx, "lists-update-dry-run")
	updated, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("updated")))
	require.NoError(t, err)
	require.Contains(t, updated, "3\tchanges zip", "the row and the field it changes")
	require.NoError(t, chromedp.Do(ctx,
		chromedp.SetUploadFiles(chromedp.ID("file"), []string{book}),
		chromedp.Click(chromedp.ID("dry_run")),
		chromedp.Click(chromedp.ID("upload")),
		chromedp.WaitNotPresent(chromedp.ID("report")),
		chromedp.WaitVisible(chromedp.ID("flash")),
	))
	flash, err = chromedp.Run(ctx, chromedp.Text(chromedp.ID("flash")))
	require.NoError(t, err)
	require.Equal(t, `Imported 0 contacts into "Court dates", 1 already on the list updated and 1 unchanged.`, strings.TrimSpace(flash))

	// The list's own page shows its contacts, and finds one by phone.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(chromedp.Search(`//a[normalize-space()="Court dates"]`)),
		chromedp.WaitVisible(chromedp.ID("contacts")),
		chromedp.SendKeys(chromedp.ID("q"), "(203) 555"),
		chromedp.Click(chromedp.ID("search")),
		chromedp.WaitVisible(chromedp.ID("clear")),
	))
	screenshot(t, ctx, "list-contacts")
	found, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("contacts")))
	require.NoError(t, err)
	require.Contains(t, found, "Hal\t+12035550172\t\t06106", "the updated contact")
	require.NotContains(t, found, "Gil", "the search keeps Hal alone")

	// Hal asks on the phone not to be called again.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS(`#contacts input[name="note"]`), "asked on the phone"),
		chromedp.Click(chromedp.Search(`//tr[td[normalize-space()="Hal"]]//button[normalize-space()="Do not call"]`)),
		chromedp.WaitVisible(chromedp.CSS(".optout")),
	))
	flash, err = chromedp.Run(ctx, chromedp.Text(chromedp.ID("flash")))
	require.NoError(t, err)
	require.Equal(t, "Hal (+12035550172) is on the do-not-call list: no campaign will call the number again.", strings.TrimSpace(flash))
	q, err := chromedp.Run(ctx, chromedp.Value(chromedp.ID("q")))
	require.NoError(t, err)
	require.Equal(t, "(203) 555", q, "back on the same search")
}
