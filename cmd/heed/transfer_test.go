package main

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/campaign"
)

// TestTransferToUnmappedExtension: key 2 with a transfer target that is a
// PBX extension rather than a number is dialed in the PBX's heed-office
// context; the shipped context maps no extension, so the office leg is
// refused at once and the callee hears the abandoned-call message.
func TestTransferToUnmappedExtension(t *testing.T) {
	t.Parallel()
	tb := sharedTestbed(t)
	start := time.Now()
	s := startHeed(t, tb)
	token := s.seedDemoAdmin(t, "correct horse battery")
	list := writeFile(t, "office.csv", "name,phone\nCasey Office,+18605550103\n")
	s.heed(t, "import", "contacts", "--list", "Extension transfer", list)
	var lists struct{ Lists []campaign.ContactList }
	require.Equal(t, http.StatusOK, s.api(t, token, "GET", "/api/v1/lists", nil, &lists))
	var listID int64
	for _, l := range lists.Lists {
		if l.Name == "Extension transfer" {
			listID = l.ID
		}
	}
	require.NotZero(t, listID)
	const callerID = "+12035550183"
	var cp campaign.Campaign
	require.Equal(t, http.StatusCreated, s.api(t, token, "POST", "/api/v1/campaigns", map[string]any{
		"name": "Extension transfer", "purpose": "informational", "list_id": listID,
		"message": "Your documents are due on Friday.", "caller_id": callerID, "ring_seconds": 20,
		"retry": map[string]int{"max_attempts": 1}, "transfer_to": "reception",
	}, &cp))
	require.Equal(t, http.StatusOK, s.api(t, token, "POST", fmt.Sprintf("/api/v1/campaigns/%d/start", cp.ID), nil, &cp))
	deadline := time.Now().Add(2 * time.Minute)
	for cp.Status != campaign.StatusCompleted {
		require.True(t, time.Now().Before(deadline), "campaign did not complete: %+v\n%s", cp, s.log.String())
		time.Sleep(500 * time.Millisecond)
		require.Equal(t, http.StatusOK, s.api(t, token, "GET", fmt.Sprintf("/api/v1/campaigns/%d", cp.ID), nil, &cp))
	}
	var got struct{ Attempts []campaign.Attempt }
	require.Equal(t, http.StatusOK, s.api(t, token, "GET", fmt.Sprintf("/api/v1/campaigns/%d/attempts", cp.ID), nil, &got))
	require.Len(t, got.Attempts, 1)
	a := got.Attempts[0]
	require.Equal(t, "abandoned", a.Outcome, "no one took the transfer: %+v", a)
	require.Equal(t, "reception", a.TransferTo)
	require.Contains(t, a.DTMF, "2")
	recs := waitCDR(t, tb, callerID, start, 1)
	require.Len(t, recs, 1, "one call to the callee, no office leg through the trunk: %s", fmtCDR(recs))
}
