package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
)

// TestBrowserCTSalesWithDetectionOff: in a real browser, against `heed
// serve` whose Asterisk runs answering-machine detection
// (HEED_AMD_CONTEXT heed-amd), a Connecticut telemarketing campaign on the
// demo list (Connecticut numbers), its message in time for rule C4, is
// refused at its start with detection on, and starts once created with the
// form's "Turn detection off for this campaign" ticked, which its page
// then shows: the campaign's setting reaches the launch check alongside
// the Asterisks' configuration.
func TestBrowserCTSalesWithDetectionOff(t *testing.T) {
	t.Parallel()
	tb := sharedTestbed(t)
	s := startHeed(t, tb)
	const pw = "browser test password"
	require.Contains(t, s.heed(t, "demo", "--admin-password", pw), "first admin")
	// Telemarketing needs a national registry copy at most 31 days old.
	national := writeFile(t, "national.txt", "2035559999\n")
	s.heed(t, "dnc", "import", "--quiet", "--list", "national", "--as-of", time.Now().AddDate(0, 0, -1).Format(time.DateOnly), national)

	ctx := newBrowser(t)
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(s.URL+"/campaigns"),
		chromedp.WaitVisible(chromedp.ID("signin")),
		chromedp.SendKeys(chromedp.ID("email"), "admin@heed.local"),
		chromedp.SendKeys(chromedp.ID("password"), pw),
		chromedp.Click(chromedp.ID("signin")),
		chromedp.WaitVisible(chromedp.ID("new-campaign")),
	))
	create := func(name string, off bool) {
		t.Helper()
		require.NoError(t, chromedp.Do(ctx,
			chromedp.Navigate(s.URL+"/campaigns/new"),
			chromedp.WaitVisible(chromedp.ID("name")),
			chromedp.SendKeys(chromedp.ID("name"), name),
			chromedp.SetValue(chromedp.ID("purpose"), "telemarketing"),
			chromedp.SendKeys(chromedp.ID("message"), "We are calling about your claim. Would you like to continue, end the call, or be removed from our list? To end this call, hang up."),
			chromedp.SetValue(chromedp.ID("caller_id"), demoCallerID),
			chromedp.SetValue(chromedp.ID("ring_seconds"), "20"),
			chromedp.SetValue(chromedp.ID("max_attempts"), "1"),
		))
		if off {
			require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.ID("amd_off"))))
		}
		require.NoError(t, chromedp.Do(ctx,
			chromedp.Click(chromedp.ID("create")),
			chromedp.WaitVisible(chromedp.ID("start")),
		))
	}

	create("CT offer, detection on", false)
	detection, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("amd")))
	require.NoError(t, err)
	require.Contains(t, detection, "on where the Asterisk runs it")
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(chromedp.ID("start")),
		chromedp.WaitVisible(chromedp.ID("error")),
	))
	refusal, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("error")))
	require.NoError(t, err)
	require.Contains(t, refusal, "script.disclosure")
	require.Contains(t, refusal, "or with detection turned off for the campaign (amd.off")

	create("CT offer, detection off", true)
	detection, err = chromedp.Run(ctx, chromedp.Text(chromedp.ID("amd")))
	require.NoError(t, err)
	require.Contains(t, detection, "off for this campaign")
	screenshot(t, ctx, "campaign-detection-off")
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(chromedp.ID("start")),
		chromedp.WaitVisible(chromedp.ID("pause")),
	))
	flash, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("flash")))
	require.NoError(t, err)
	require.Equal(t, "Campaign started.", strings.TrimSpace(flash), "%s", s.log.String())
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(chromedp.ID("pause")),
		chromedp.WaitVisible(chromedp.ID("start")),
	))
}
