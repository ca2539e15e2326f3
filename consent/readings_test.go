package consent_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/consent"
)

// TestRevocationPlusWithoutOne: a revocation's phone written with a "+"
// but without the 1 ("+2035550199", valid in Egypt as written) revokes,
// and lists, the North American number the person meant, and the report
// names its row. The import stays all or nothing: with a bad row nothing
// is written, and the report still says how the row would be read.
func TestRevocationPlusWithoutOne(t *testing.T) {
	t.Parallel()
	b := setupLedger(t)
	at := time.Now().UTC().Add(-time.Hour).Format(time.RFC3339)
	rows := "phone,revoked_at,method,source\n" +
		"+2035550199," + at + ",email,asked to stop\n" +
		"+44 20 7946 0958," + at + ",email,\n" +
		"(860) 555-0193," + at + ",email,\n"
	const note = `phone "+2035550199" has a + but not the country code 1: read as the North American number +1 203-555-0199`

	_, err := b.ledger.ImportRevocations(b.ctx, strings.NewReader(rows+"860-555-0194,"+at+",pigeon,\n"), consent.FormatCSV, consent.ImportOptions{})
	var ie *consent.ImportError
	require.True(t, errors.As(err, &ie), "%v", err)
	require.Equal(t, []consent.RowError{{Line: 2, Reason: note}}, ie.Report.ReadAsNANP)
	require.Len(t, ie.Report.Rejected, 1)
	require.Equal(t, 5, ie.Report.Rejected[0].Line)
	require.Zero(t, b.count(t, `SELECT count(*) FROM revocations`), "all or nothing")
	require.Zero(t, b.count(t, `SELECT count(*) FROM dnc_internal`))

	rep, err := b.ledger.ImportRevocations(b.ctx, strings.NewReader(rows), consent.FormatCSV, consent.ImportOptions{DryRun: true})
	require.NoError(t, err)
	require.Equal(t, []consent.RowError{{Line: 2, Reason: note}}, rep.ReadAsNANP)
	require.Equal(t, []int{3, 0, 3}, []int{rep.New, rep.Imported, rep.Listed})

	rep, err = b.ledger.ImportRevocations(b.ctx, strings.NewReader(rows), consent.FormatCSV, consent.ImportOptions{})
	require.NoError(t, err)
	require.Equal(t, []consent.RowError{{Line: 2, Reason: note}}, rep.ReadAsNANP)
	require.Equal(t, []int{3, 3}, []int{rep.Imported, rep.Listed})
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM revocations WHERE phone = '+12035550199' AND source = 'asked to stop'`))
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM dnc_internal WHERE phone = '+12035550199' AND removed_at IS NULL`))
	require.Zero(t, b.count(t, `SELECT count(*) FROM revocations WHERE phone = '+2035550199'`), "not the foreign reading")
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM revocations WHERE phone = '+442079460958'`), "a foreign number written in full stays as written")

	// The same row again, written with its 1, is the same revocation.
	rep, err = b.ledger.ImportRevocations(b.ctx, strings.NewReader("phone,revoked_at,method,source\n+1 203 555 0199,"+at+",email,asked to stop\n"),
		consent.FormatCSV, consent.ImportOptions{})
	require.NoError(t, err)
	require.Empty(t, rep.ReadAsNANP)
	require.Zero(t, rep.Imported)
	require.Len(t, rep.Skipped, 1)

	// One revocation recorded by itself reads it the same way.
	r, err := b.ledger.AddRevocation(b.ctx, consent.NewRevocation{Phone: "+203 234 5678", Method: consent.RevokedByStaff, Source: "front desk"})
	require.NoError(t, err)
	require.Equal(t, "+12032345678", r.Phone.String())
}
