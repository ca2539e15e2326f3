package main

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/campaign"
)

// TestCLICallerID: `heed callerid add|list|retire` declares, lists and
// retires the firm's caller IDs as the admin --by names: a number that is
// not the firm's to send (Jamaica's +1 876), or one without the
// attestation, is refused field by field and nothing is stored; a
// retirement pauses the running campaigns that send the number and names
// them. heed demo declares the demo's caller ID, once.
func TestCLICallerID(t *testing.T) {
	t.Parallel()
	env, conn, count := cliUsers(t, [2]string{"para@firm.test", "paralegal"}, [2]string{"admin@firm.test", "admin"})
	ctx := context.Background()
	var err error

	_, _, err = runHeed(env, "callerid", "add", "--number", "203-555-0101", "--label", "Main office", "--attest")
	require.ErrorIs(t, err, errUsage, "--by is required")
	_, stderr, err := runHeed(env, "callerid", "add", "--number", "+1 876 555 0100", "--label", "", "--by", "admin@firm.test")
	require.ErrorIs(t, err, campaign.ErrInvalid)
	require.Contains(t, stderr, "--number: +1 876-555-0100 is a number of Jamaica (area code 876), not of the United States: ")
	require.Contains(t, stderr, "--label: a label is required")
	require.Contains(t, stderr, "--attest: confirm that the number is the firm's own")
	_, _, err = runHeed(env, "callerid", "add", "--number", "203-555-0101", "--label", "Main office", "--attest", "--by", "para@firm.test")
	require.ErrorIs(t, err, campaign.ErrNotAdmin)
	require.Zero(t, count(`SELECT count(*) FROM caller_ids`))

	out, _, err := runHeed(env, "callerid", "add", "--number", "203-555-0101", "--label", "Main office", "--attest", "--by", "ADMIN@firm.test")
	require.NoError(t, err)
	require.Regexp(t, `^declared caller ID 1: \+12035550101 \(Main office\), by admin@firm.test at \S+\n$`, out)

	// heed demo declares its own, once.
	out, _, err = runHeed(env, "demo")
	require.NoError(t, err)
	require.Contains(t, out, "demo caller ID +1 203-555-0188 ("+demoCallerIDLabel+"), declared by heed demo under admin@firm.test's name, for the testbed (fictional, affirmed by no one)")
	// Its record says so, rather than that the admin affirmed the
	// firm's attestation.
	var statement string
	require.NoError(t, conn.QueryRow(ctx, `SELECT attestation FROM caller_ids WHERE phone = $1`, demoCallerID).Scan(&statement))
	require.Equal(t, demoCallerIDStatement, statement)
	require.NotContains(t, statement, campaign.CallerIDAttestation)
	require.Contains(t, statement, "Declared by heed demo for the local testbed, not affirmed by anyone")
	require.Contains(t, statement, "+1 203-555-0188 is a fictional number")
	out, _, err = runHeed(env, "demo")
	require.NoError(t, err)
	require.NotContains(t, out, "demo caller ID")
	require.Equal(t, 2, count(`SELECT count(*) FROM caller_ids`))

	// A running campaign sends the first: its retirement pauses it.
	var campaignID int64
	require.NoError(t, conn.QueryRow(ctx, `INSERT INTO campaigns (name, purpose, list_id, message_text, caller_id, status)
		SELECT 'Hearings', 'informational', id, 'Hello.', '+12035550101', 'running' FROM contact_lists LIMIT 1 RETURNING id`).Scan(&campaignID))
	out, _, err = runHeed(env, "callerid", "list")
	require.NoError(t, err)
	require.Regexp(t, `(?m)^1\s+\+12035550101\s+Main office\s+current\s+\S+\s+admin@firm.test\s+Hearings \(running\)$`, out)
	require.Regexp(t, `(?m)^2\s+\+12035550188\s+Demo main line \(fictional\)\s+current\s`, out)

	_, _, err = runHeed(env, "callerid", "retire", "--number", "203-555-0101", "--by", "para@firm.test")
	require.ErrorIs(t, err, campaign.ErrNotAdmin)
	out, _, err = runHeed(env, "callerid", "retire", "--number", "203-555-0101", "--by", "admin@firm.test")
	require.NoError(t, err)
	require.Regexp(t, `^retired caller ID 1: \+12035550101 \(Main office\), by admin@firm.test at \S+\npaused campaign \d+ "Hearings", which sent it\n$`, out)
	var status string
	require.NoError(t, conn.QueryRow(ctx, `SELECT status FROM campaigns WHERE id = $1`, campaignID).Scan(&status))
	require.Equal(t, "paused", status)
	_, _, err = runHeed(env, "callerid", "retire", "--number", "203-555-0101", "--by", "admin@firm.test")
	require.ErrorIs(t, err, errNoSuchCallerID)
	_, _, err = runHeed(env, "callerid", "retire", "--id", "1", "--by", "admin@firm.test")
	require.ErrorIs(t, err, campaign.ErrCallerIDRetired)

	out, _, err = runHeed(env, "callerid", "list", "--json")
	require.NoError(t, err)
	var listed struct {
		CallerIDs   []campaign.CallerID `json:"caller_ids"`
		Attestation string              `json:"attestation"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &listed), out)
	require.Equal(t, campaign.CallerIDAttestation, listed.Attestation)
	require.Len(t, listed.CallerIDs, 2)
	require.True(t, listed.CallerIDs[0].Current(), "current first")
	require.Equal(t, "+12035550101", listed.CallerIDs[1].Phone.String())
	require.Equal(t, "admin@firm.test", listed.CallerIDs[1].RetiredByEmail)
}
