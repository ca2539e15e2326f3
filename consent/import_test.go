package consent_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/xuri/excelize/v2"

	"github.com/heed-dialer/heed/consent"
)

// consentsCSV has three good rows in three time formats.
const consentsCSV = "\ufeffPhone,Kind,Scope,Channel,Obtained_At,Source,Evidence,Expires_At,Notes\n" +
	"(860) 555-0101,PEWC,informational,voice,2025-01-15,engagement letter,I agree to calls.,2027-01-15,vip\n" +
	"+1 212 555 0101,pec,telemarketing,text,2025-02-01 09:30,intake form,,,\n" +
	"\n" +
	"305.555.0101,pec,debt_collection,voice,2025-03-01T10:00:00-05:00,recorded call,call 123,,\n"

func importUser(t *testing.T, b *ledgerBundle) int64 {
	t.Helper()
	var id int64
	require.NoError(t, b.db.QueryRow(b.ctx, `INSERT INTO users (email, role, password_hash) VALUES ('admin@firm.test', 'admin', 'x') RETURNING id`).Scan(&id))
	return id
}

func TestImportConsentsCSV(t *testing.T) {
	t.Parallel()
	b := setupLedger(t)
	user := importUser(t, b)
	ny, err := time.LoadLocation("America/New_York")
	require.NoError(t, err)
	opts := consent.ImportOptions{Location: ny, UserID: user}

	rep, err := b.ledger.ImportConsents(b.ctx, strings.NewReader(consentsCSV), consent.FormatCSV, opts)
	require.NoError(t, err)
	require.Equal(t, consent.ImportReport{Kind: "consents", Rows: 3, Valid: 3, New: 3, Imported: 3, Ignored: []string{"Notes"}}, rep)

	cs, _, err := b.ledger.History(b.ctx, "+18605550101")
	require.NoError(t, err)
	require.Len(t, cs, 1)
	c := cs[0]
	require.Equal(t, consent.ConsentPEWC, c.Kind)
	require.True(t, time.Date(2025, 1, 15, 0, 0, 0, 0, ny).Equal(c.ObtainedAt), "a date is midnight in the given zone")
	require.True(t, time.Date(2027, 1, 15, 0, 0, 0, 0, ny).Equal(c.ExpiresAt))
	require.Equal(t, "I agree to calls.", c.Evidence)
	require.Len(t, c.EvidenceHash, 64)
	require.Equal(t, user, c.CapturedBy)

	cs, _, err = b.ledger.History(b.ctx, "+12125550101")
	require.NoError(t, err)
	require.True(t, time.Date(2025, 2, 1, 9, 30, 0, 0, ny).Equal(cs[0].ObtainedAt))
	require.Equal(t, consent.ChannelText, cs[0].Channel)
	require.Empty(t, cs[0].EvidenceHash)
	cs, _, err = b.ledger.History(b.ctx, "+13055550101")
	require.NoError(t, err)
	require.True(t, time.Date(2025, 3, 1, 15, 0, 0, 0, time.UTC).Equal(cs[0].ObtainedAt))

	// The imported consents reach the index through the change log.
	recs, _, err := b.ledger.Since(b.ctx, 0)
	require.NoError(t, err)
	require.Len(t, recs, 3)

	// Importing the same file again writes nothing and says why.
	rep, err = b.ledger.ImportConsents(b.ctx, strings.NewReader(consentsCSV), consent.FormatCSV, opts)
	require.NoError(t, err)
	require.Equal(t, 3, rep.Valid)
	require.Zero(t, rep.Imported)
	require.Len(t, rep.Skipped, 3)
	require.Equal(t, 2, rep.Skipped[0].Line)
	require.Contains(t, rep.Skipped[0].Reason, "already on file as consent")
	require.Equal(t, 3, b.count(t, `SELECT count(*) FROM consents`))
}

func TestImportConsentsXLSX(t *testing.T) {
	t.Parallel()
	b := setupLedger(t)
	f := excelize.NewFile()
	sheet := f.GetSheetName(0)
	rows := [][]any{
		{"phone", "kind", "scope", "channel", "obtained_at", "source", "expires_at"},
		{8605550101, "pewc", "solicitation", "voice", time.Date(2025, 4, 1, 0, 0, 0, 0, time.UTC), "web form", ""},
		{"(212) 555-0101", "pec", "informational", "voice", "2025-04-02 08:15", "intake form", time.Date(2026, 4, 2, 12, 0, 0, 0, time.UTC)},
		{nil, nil, nil, nil, nil, nil, nil},
		{"305-555-0101", "pec", "informational", "text", time.Date(2025, 4, 3, 17, 45, 30, 0, time.UTC), "recorded call", nil},
	}
	for i, r := range rows {
		cell, err := excelize.CoordinatesToCellName(1, i+1)
		require.NoError(t, err)
		require.NoError(t, f.SetSheetRow(sheet, cell, &r))
	}
	var buf bytes.Buffer
	require.NoError(t, f.Write(&buf))

	rep, err := b.ledger.ImportConsents(b.ctx, &buf, consent.FormatXLSX, consent.ImportOptions{})
	require.NoError(t, err)
	require.Equal(t, 3, rep.Imported)

	cs, _, err := b.ledger.History(b.ctx, "+18605550101")
	require.NoError(t, err)
	require.Len(t, cs, 1)
	require.Equal(t, consent.PurposeSolicitation, cs[0].Scope)
	require.True(t, time.Date(2025, 4, 1, 0, 0, 0, 0, time.UTC).Equal(cs[0].ObtainedAt), "got %s", cs[0].ObtainedAt)
	cs, _, err = b.ledger.History(b.ctx, "+12125550101")
	require.NoError(t, err)
	require.True(t, time.Date(2025, 4, 2, 8, 15, 0, 0, time.UTC).Equal(cs[0].ObtainedAt))
	require.True(t, time.Date(2026, 4, 2, 12, 0, 0, 0, time.UTC).Equal(cs[0].ExpiresAt), "got %s", cs[0].ExpiresAt)
	cs, _, err = b.ledger.History(b.ctx, "+13055550101")
	require.NoError(t, err)
	require.True(t, time.Date(2025, 4, 3, 17, 45, 30, 0, time.UTC).Equal(cs[0].ObtainedAt), "got %s", cs[0].ObtainedAt)

	// A bad row in a spreadsheet is reported by its row number.
	f = excelize.NewFile()
	require.NoError(t, f.SetSheetRow(sheet, "A1", &[]any{"phone", "kind", "scope", "channel", "obtained_at", "source"}))
	require.NoError(t, f.SetSheetRow(sheet, "A3", &[]any{"8605550102", "maybe", "informational", "voice", "2025-01-01", "x"}))
	buf.Reset()
	require.NoError(t, f.Write(&buf))
	_, err = b.ledger.ImportConsents(b.ctx, &buf, consent.FormatXLSX, consent.ImportOptions{})
	var ie *consent.ImportError
	require.ErrorAs(t, err, &ie)
	require.Equal(t, []consent.RowError{{Line: 3, Reason: `kind "maybe" is not pec or pewc`}}, ie.Report.Rejected)

	_, err = b.ledger.ImportConsents(b.ctx, strings.NewReader("not a zip file"), consent.FormatXLSX, consent.ImportOptions{})
	require.ErrorAs(t, err, &ie)
	require.Contains(t, ie.Report.Rejected[0].Reason, "not a readable XLSX file")
}

func TestImportConsentsRejected(t *testing.T) {
	t.Parallel()

	t.Run("MalformedCSV", func(t *testing.T) {
		t.Parallel()
		b := setupLedger(t)
		csv := "phone,kind,scope,channel,obtained_at,source\n8605550101,pec,informational,voice,2025-01-01,\"unterminated\n"
		rep, err := b.ledger.ImportConsents(b.ctx, strings.NewReader(csv), consent.FormatCSV, consent.ImportOptions{})
		require.ErrorIs(t, err, consent.ErrImportRejected)
		require.Len(t, rep.Rejected, 1)
		require.Equal(t, 2, rep.Rejected[0].Line)
		require.Contains(t, rep.Rejected[0].Reason, "malformed CSV")
		require.Zero(t, b.count(t, `SELECT count(*) FROM consents`))
	})

	t.Run("BadRowsWriteNothing", func(t *testing.T) {
		t.Parallel()
		b := setupLedger(t)
		future := time.Now().AddDate(0, 0, 2).Format(time.DateOnly)
		csv := "phone,kind,scope,channel,obtained_at,source,expires_at\n" +
			"8605550101,pec,informational,voice,2025-01-01,letter,\n" + // good
			"555-01,pec,informational,voice,2025-01-01,letter,\n" +
			"+442079460958,pec,informational,voice,2025-01-01,letter,\n" +
			"8605550102,oral,informational,voice,2025-01-01,letter,\n" +
			"8605550103,pec,marketing,fax,2025-01-01,letter,\n" +
			"8605550104,pec,informational,voice,01/02/2025,letter,\n" +
			"8605550105,pec,informational,voice," + future + ",letter,\n" +
			"8605550106,pec,informational,voice,2025-01-01,,\n" +
			"8605550107,pec,informational,voice,2025-01-01,letter,2024-01-01\n" +
			"8605550108,pec,informational\n"
		rep, err := b.ledger.ImportConsents(b.ctx, strings.NewReader(csv), consent.FormatCSV, consent.ImportOptions{})
		var ie *consent.ImportError
		require.ErrorAs(t, err, &ie)
		require.ErrorIs(t, err, consent.ErrImportRejected)
		require.Equal(t, rep, ie.Report)
		require.Equal(t, 10, rep.Rows)
		require.Equal(t, 1, rep.Valid)
		require.Zero(t, rep.Imported)
		reasons := map[int]string{}
		for _, r := range rep.Rejected {
			reasons[r.Line] = r.Reason
		}
		require.Len(t, reasons, 9)
		require.Contains(t, reasons[3], `phone "555-01" is not a valid phone number`)
		require.Contains(t, reasons[4], "outside the North American Numbering Plan")
		require.Contains(t, reasons[5], `kind "oral" is not pec or pewc`)
		require.Contains(t, reasons[6], `scope "marketing"`)
		require.Contains(t, reasons[6], `channel "fax" is not voice or text`)
		require.Contains(t, reasons[7], `obtained_at "01/02/2025" is not a time`)
		require.Contains(t, reasons[8], "is in the future")
		require.Contains(t, reasons[9], "source is required")
		require.Contains(t, reasons[10], "expires_at")
		require.Contains(t, reasons[11], "channel is empty")
		require.Contains(t, err.Error(), "9 row(s) rejected, nothing imported; line 3:")
		require.Zero(t, b.count(t, `SELECT count(*) FROM consents`), "one bad row means nothing is written")
		require.Zero(t, b.count(t, `SELECT count(*) FROM index_changes`))
	})

	t.Run("Header", func(t *testing.T) {
		t.Parallel()
		b := setupLedger(t)
		for _, tc := range []struct{ csv, reason string }{
			{"", "the file is empty"},
			{"phone,kind,scope,channel,obtained_at,source\n", "no rows"},
			{"phone,kind,scope,channel,source\n8605550101,pec,informational,voice,x\n", `missing required column "obtained_at"`},
			{"phone,phone,kind,scope,channel,obtained_at,source\n", `column "phone" appears twice`},
		} {
			_, err := b.ledger.ImportConsents(b.ctx, strings.NewReader(tc.csv), consent.FormatCSV, consent.ImportOptions{})
			var ie *consent.ImportError
			require.ErrorAs(t, err, &ie, tc.csv)
			require.Contains(t, ie.Report.Rejected[0].Reason, tc.reason)
		}
	})
}

func TestImportDryRun(t *testing.T) {
	t.Parallel()
	b := setupLedger(t)
	rep, err := b.ledger.ImportConsents(b.ctx, strings.NewReader(consentsCSV), consent.FormatCSV, consent.ImportOptions{DryRun: true})
	require.NoError(t, err)
	require.True(t, rep.DryRun)
	require.Equal(t, 3, rep.Valid)
	require.Equal(t, 3, rep.New)
	require.Zero(t, rep.Imported)
	require.Zero(t, b.count(t, `SELECT count(*) FROM consents`), "a dry run writes nothing")

	bad := consentsCSV + "8605550199,pec,informational,voice,yesterday,letter,,,\n"
	rep, err = b.ledger.ImportConsents(b.ctx, strings.NewReader(bad), consent.FormatCSV, consent.ImportOptions{DryRun: true})
	require.ErrorIs(t, err, consent.ErrImportRejected)
	require.Equal(t, []consent.RowError{{Line: 6, Reason: `obtained_at "yesterday" is not a time: use RFC 3339 (2026-06-10T14:30:00-04:00), YYYY-MM-DD or YYYY-MM-DD HH:MM`}}, rep.Rejected)

	// After a real import, a dry run reports the rows as already on file.
	_, err = b.ledger.ImportConsents(b.ctx, strings.NewReader(consentsCSV), consent.FormatCSV, consent.ImportOptions{})
	require.NoError(t, err)
	rep, err = b.ledger.ImportConsents(b.ctx, strings.NewReader(consentsCSV), consent.FormatCSV, consent.ImportOptions{DryRun: true})
	require.NoError(t, err)
	require.Zero(t, rep.New)
	require.Len(t, rep.Skipped, 3)

	rev := "phone,revoked_at,method\n8605550101,2025-06-01,web\n"
	rep, err = b.ledger.ImportRevocations(b.ctx, strings.NewReader(rev), consent.FormatCSV, consent.ImportOptions{DryRun: true})
	require.NoError(t, err)
	require.Equal(t, 1, rep.New)
	require.Zero(t, b.count(t, `SELECT count(*) FROM revocations`))
}

func TestImportColumnMapping(t *testing.T) {
	t.Parallel()
	b := setupLedger(t)
	csv := "Mobile,Consent Type,Purpose,Medium,Signed On,Document\n" +
		"8605550101,pewc,informational,voice,2025-01-15,engagement letter\n"
	m, err := consent.ParseColumnMap("Mobile=phone, consent type=kind,Purpose=scope,Medium=channel,Signed On=obtained_at,Document=source")
	require.NoError(t, err)
	rep, err := b.ledger.ImportConsents(b.ctx, strings.NewReader(csv), consent.FormatCSV, consent.ImportOptions{Columns: m})
	require.NoError(t, err)
	require.Equal(t, 1, rep.Imported)

	_, err = b.ledger.ImportConsents(b.ctx, strings.NewReader(csv), consent.FormatCSV, consent.ImportOptions{})
	var ie *consent.ImportError
	require.ErrorAs(t, err, &ie, "without the mapping the columns are missing")
	require.Len(t, ie.Report.Rejected, 6)
	require.Len(t, ie.Report.Ignored, 5, "all but Document, which is the optional document column")

	m["signed on"] = "signed"
	m["fax"] = "channel"
	_, err = b.ledger.ImportConsents(b.ctx, strings.NewReader(csv), consent.FormatCSV, consent.ImportOptions{Columns: m})
	require.ErrorAs(t, err, &ie)
	var reasons []string
	for _, r := range ie.Report.Rejected {
		require.Equal(t, 1, r.Line)
		reasons = append(reasons, r.Reason)
	}
	joined := strings.Join(reasons, "\n")
	require.Contains(t, joined, `"signed" is not a column heed reads`)
	require.Contains(t, joined, `column mapping names "fax", which is not in the header`)

	for _, bad := range []string{"phone", "a=b,a=c", "=phone"} {
		_, err := consent.ParseColumnMap(bad)
		require.Error(t, err, bad)
	}
}

func TestImportRevocations(t *testing.T) {
	t.Parallel()
	b := setupLedger(t)
	before := time.Now()
	today := before.UTC().Format(time.DateOnly) // the same day as before, even at midnight
	csv := "phone,revoked_at,method,source,scope\n" +
		"8605550101,2025-06-01,web,opt-out page,\n" +
		"2125550101,2025-06-01 14:30,Keyword,STOP reply,telemarketing\n" +
		"+44 20 7946 0958,2025-06-01T14:30:15.5Z,email,,all\n" +
		"3055550101," + today + ",staff,,\n"
	rep, err := b.ledger.ImportRevocations(b.ctx, strings.NewReader(csv), consent.FormatCSV, consent.ImportOptions{})
	require.NoError(t, err)
	require.Equal(t, 4, rep.Imported)
	require.Equal(t, 3, rep.Listed, "every revocation of every purpose is an opt-out: an internal entry, as a key press makes")
	require.Equal(t, 0, b.count(t, `SELECT count(*) FROM dnc_internal WHERE phone = '+12125550101'`), "one limited to telemarketing is not")
	var (
		listedAt       time.Time
		method, source string
	)
	require.NoError(t, b.db.QueryRow(b.ctx, `SELECT added_at, method, source FROM dnc_internal WHERE phone = '+18605550101'`).Scan(&listedAt, &method, &source))
	require.True(t, time.Date(2025, 6, 1, 23, 59, 59, 999999000, time.UTC).Equal(listedAt), "dated as the revocation: got %s", listedAt)
	require.Equal(t, []string{"web", "opt-out page"}, []string{method, source})

	// A dry run counts; a number already listed gets no second entry; a
	// number revoked twice in one file gets one, dated the later.
	more := "phone,revoked_at,method\n8605550101,2025-07-01,email\n8605550102,2025-07-01,letter\n8605550102,2025-08-01,email\n8605550103,2025-08-01,ivr\n"
	rep, err = b.ledger.ImportRevocations(b.ctx, strings.NewReader(more), consent.FormatCSV, consent.ImportOptions{DryRun: true})
	require.NoError(t, err)
	require.Equal(t, []int{4, 0, 2}, []int{rep.New, rep.Imported, rep.Listed})
	require.Equal(t, 3, b.count(t, `SELECT count(*) FROM dnc_internal`), "a dry run writes nothing")
	rep, err = b.ledger.ImportRevocations(b.ctx, strings.NewReader(more), consent.FormatCSV, consent.ImportOptions{})
	require.NoError(t, err)
	require.Equal(t, []int{4, 4, 2}, []int{rep.New, rep.Imported, rep.Listed})
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM dnc_internal WHERE phone = '+18605550101'`))
	require.NoError(t, b.db.QueryRow(b.ctx, `SELECT added_at, method FROM dnc_internal WHERE phone = '+18605550102'`).Scan(&listedAt, &method))
	require.True(t, time.Date(2025, 8, 1, 23, 59, 59, 999999000, time.UTC).Equal(listedAt), "got %s", listedAt)
	require.Equal(t, "email", method)

	_, rs, err := b.ledger.History(b.ctx, "+18605550101")
	require.NoError(t, err)
	require.True(t, time.Date(2025, 6, 1, 23, 59, 59, 999999000, time.UTC).Equal(rs[0].RevokedAt), "a date is read as the end of the day: got %s", rs[0].RevokedAt)
	require.Equal(t, consent.RevokedByWeb, rs[0].Method)
	require.Equal(t, "opt-out page", rs[0].Source)
	_, rs, err = b.ledger.History(b.ctx, "+12125550101")
	require.NoError(t, err)
	require.True(t, time.Date(2025, 6, 1, 14, 30, 59, 999999000, time.UTC).Equal(rs[0].RevokedAt), "got %s", rs[0].RevokedAt)
	require.Equal(t, consent.RevokedByKeyword, rs[0].Method)
	require.Equal(t, consent.PurposeTelemarketing, rs[0].Scope)
	_, rs, err = b.ledger.History(b.ctx, "+442079460958")
	require.NoError(t, err)
	require.True(t, time.Date(2025, 6, 1, 14, 30, 15, 500000000, time.UTC).Equal(rs[0].RevokedAt))
	require.Equal(t, consent.Purpose(""), rs[0].Scope)
	_, rs, err = b.ledger.History(b.ctx, "+13055550101")
	require.NoError(t, err)
	require.False(t, rs[0].RevokedAt.After(time.Now()), "today's date is read as now at the latest")
	require.False(t, rs[0].RevokedAt.Before(before.Truncate(time.Microsecond)))

	// A consent given the same day as a date-only revocation, earlier in
	// the day, stays revoked.
	rev, err := b.ledger.LoadSnapshot(b.ctx)
	require.NoError(t, err)
	snap := rev.Apply(consent.Record{Type: consent.RecordConsent, ID: 99, Number: 8605550101, Kind: consent.ConsentPEWC,
		Scope: consent.PurposeInformational, Channel: consent.ChannelVoice, At: time.Date(2025, 6, 1, 9, 0, 0, 0, time.UTC)})
	var f consent.ConsentFacts
	snap.Lookup(8605550101, consent.PurposeInformational, consent.ChannelVoice, time.Date(2025, 6, 2, 12, 0, 0, 0, time.UTC), &f)
	require.False(t, f.RevokedAt.Before(f.ObtainedAt))

	bad := "phone,revoked_at,method\n" +
		"8605550101,2025-06-01,carrier pigeon\n" +
		"12,2025-06-01,web\n" +
		"8605550101,,web\n" +
		"8605550101,2999-01-01,web\n"
	rep, err = b.ledger.ImportRevocations(b.ctx, strings.NewReader(bad), consent.FormatCSV, consent.ImportOptions{})
	require.ErrorIs(t, err, consent.ErrImportRejected)
	require.Len(t, rep.Rejected, 4)
	require.Contains(t, rep.Rejected[0].Reason, `method "carrier pigeon" is not one of ivr, keyword, web, staff, email, letter`)
	require.Contains(t, rep.Rejected[1].Reason, "not a valid phone number")
	require.Contains(t, rep.Rejected[2].Reason, "revoked_at is empty")
	require.Contains(t, rep.Rejected[3].Reason, "in the future")
	require.Equal(t, 8, b.count(t, `SELECT count(*) FROM revocations`))
	require.Equal(t, 5, b.count(t, `SELECT count(*) FROM dnc_internal`))
}

func TestFormatOf(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]consent.Format{"csv": consent.FormatCSV, "XLSX": consent.FormatXLSX, "list.CSV": consent.FormatCSV, "/tmp/optouts.xlsx": consent.FormatXLSX, "a.txt": consent.FormatCSV} {
		got, err := consent.FormatOf(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
	_, err := consent.FormatOf("list.xls")
	require.ErrorIs(t, err, consent.ErrUnknownFormat)
}
