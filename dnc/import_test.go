package dnc_test

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/dnc"
)

// zipOf returns a zip archive of the named files, in order.
func zipOf(t testing.TB, files ...string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for i := 0; i+1 < len(files); i += 2 {
		w, err := zw.Create(files[i])
		require.NoError(t, err)
		_, err = io.WriteString(w, files[i+1])
		require.NoError(t, err)
	}
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

func importText(t *testing.T, opts dnc.ImportOptions, mode dnc.Mode, text string) (*dnc.ImportResult, error) {
	t.Helper()
	return dnc.Import(t.Context(), opts, dnc.Input{Name: "in.txt", R: strings.NewReader(text), Mode: mode})
}

func members(s *dnc.Set) []uint64 {
	if s == nil {
		return nil
	}
	return slices.AppendSeq([]uint64{}, s.All())
}

func TestImportRegistryLayouts(t *testing.T) {
	t.Parallel()
	want := []uint64{2015550100, 8605550101, 9999999999}
	for name, text := range map[string]string{
		"ten digits":        "8605550101\n2015550100\n9999999999\n",
		"area code, number": "860,5550101\n201,5550100\n999,9999999\n",
		"CRLF":              "8605550101\r\n2015550100\r\n999,9999999\r\n",
		"no final newline":  "8605550101\n2015550100\n9999999999",
		"blank lines":       "\n\n8605550101\n\r\n  \n2015550100\n\n9999999999\n\n",
		"header lines":      "Do Not Call Registry extract\nAreaCode,PhoneNumber\n860,5550101\n201,5550100\n999,9999999\n",
		"spaces and BOM":    "\xef\xbb\xbf 8605550101 \n\t2015550100\t\n9999999999   \n",
		"duplicates":        "8605550101\n8605550101\n2015550100\n9999999999\n2015550100\n",
		"unsorted":          "9999999999\n8605550101\n2015550100\n",
		"E.164 and dashes":  "+18605550101\n1-201-555-0100\n(999) 999-9999\n",
		"quoted":            "\"8605550101\"\n\"201\",\"5550100\"\n999,999-9999\n",
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			res, err := importText(t, dnc.ImportOptions{}, dnc.ModeFull, text)
			require.NoError(t, err)
			require.Equal(t, want, members(res.Full))
			require.Zero(t, res.Report.Rejected)
			rep := res.Report
			require.Equal(t, rep.Lines, rep.Blank+rep.Headers+rep.Numbers)
			require.Equal(t, []string{"in.txt"}, rep.Inputs)
			require.Equal(t, int64(len(text)), rep.Bytes)
		})
	}
}

func TestImportRejectsGarbage(t *testing.T) {
	t.Parallel()
	text := "8605550101\n" +
		"hello\n" + // letters after data: not a header
		"860555010\n" + // nine digits
		"0605550101\n" + // area code starting with 0
		"8601550101\n" + // exchange starting with 1
		"86055501011234\n" + // too many digits
		"860,555010\n" + // short local number
		"2015550100\n" +
		"\x00\x01\x02\n" + // binary
		strings.Repeat("9", 5000) + "\n" + // too long
		"-8605550102\n" // a deletion marker in a full list

	res, err := importText(t, dnc.ImportOptions{}, dnc.ModeFull, text)
	require.Nil(t, res)
	require.ErrorIs(t, err, dnc.ErrGarbage)
	var ge *dnc.GarbageError
	require.ErrorAs(t, err, &ge)
	require.EqualValues(t, 9, ge.Report.Rejected)
	require.Len(t, ge.Report.Examples, 9)
	lines := []int64{}
	for _, ex := range ge.Report.Examples {
		lines = append(lines, ex.Line)
		require.NotEmpty(t, ex.Reason)
		require.Equal(t, "in.txt", ex.Input)
	}
	require.Equal(t, []int64{2, 3, 4, 5, 6, 7, 9, 10, 11}, lines)
	require.Contains(t, ge.Report.Examples[1].Reason, "9 digits")
	require.Contains(t, ge.Report.Examples[2].Reason, "area code 060")
	require.Contains(t, ge.Report.Examples[3].Reason, "exchange 155")
	require.Equal(t, "line too long", ge.Report.Examples[7].Reason)
	require.Contains(t, err.Error(), "9 garbage lines")
	require.Contains(t, err.Error(), "in.txt:2")

	// Tolerated, the same input imports the good lines.
	res, err = importText(t, dnc.ImportOptions{MaxRejected: -1, MaxExamples: 2}, dnc.ModeFull, text)
	require.NoError(t, err)
	require.Equal(t, []uint64{2015550100, 8605550101}, members(res.Full))
	require.EqualValues(t, 9, res.Report.Rejected)
	require.Len(t, res.Report.Examples, 2)

	_, err = importText(t, dnc.ImportOptions{MaxRejected: 8}, dnc.ModeFull, text)
	require.ErrorIs(t, err, dnc.ErrGarbage)
	_, err = importText(t, dnc.ImportOptions{MaxRejected: 9}, dnc.ModeFull, text)
	require.NoError(t, err)
}

func TestImportChangeLists(t *testing.T) {
	t.Parallel()
	t.Run("separate files", func(t *testing.T) {
		t.Parallel()
		res, err := dnc.Import(t.Context(), dnc.ImportOptions{},
			dnc.Input{Name: "add.txt", R: strings.NewReader("8605550101\n860,5550102\n"), Mode: dnc.ModeAdditions},
			dnc.Input{Name: "del.txt", R: strings.NewReader("2015550100\n+8605550101\n"), Mode: dnc.ModeDeletions},
		)
		require.Nil(t, res)
		require.ErrorIs(t, err, dnc.ErrGarbage, "a '+' line in a deletions file contradicts it")

		res, err = dnc.Import(t.Context(), dnc.ImportOptions{},
			dnc.Input{Name: "add.txt", R: strings.NewReader("8605550101\n860,5550102\n+8605550103\n"), Mode: dnc.ModeAdditions},
			dnc.Input{Name: "del.txt", R: strings.NewReader("2015550100\n-2015550101\n"), Mode: dnc.ModeDeletions},
		)
		require.NoError(t, err)
		require.Nil(t, res.Full)
		require.Equal(t, []uint64{8605550101, 8605550102, 8605550103}, res.Adds)
		require.Equal(t, []uint64{2015550100, 2015550101}, res.Dels)
		require.EqualValues(t, 3, res.Report.Additions)
		require.EqualValues(t, 2, res.Report.Deletions)
	})
	t.Run("marked lines", func(t *testing.T) {
		t.Parallel()
		text := "+8605550101\n" +
			"- 860 555 0102\n" +
			"8605550103,D,2025-06-01\n" +
			"860,5550104,A\n" +
			"\"8605550105\",\"delete\"\n" +
			"+18605550106\n"
		res, err := importText(t, dnc.ImportOptions{}, dnc.ModeChanges, text)
		require.NoError(t, err)
		require.Equal(t, []uint64{8605550101, 8605550104, 8605550106}, res.Adds)
		require.Equal(t, []uint64{8605550102, 8605550103, 8605550105}, res.Dels)
	})
	t.Run("action column", func(t *testing.T) {
		t.Parallel()
		text := "Date,Action,Phone\n2025-06-01,Add,8605550101\n2025-06-01,Delete,(860) 555-0102\n2025-06-02,A,8605550103\n"
		res, err := importText(t, dnc.ImportOptions{}, dnc.ModeChanges, text)
		require.NoError(t, err)
		require.Equal(t, []uint64{8605550101, 8605550103}, res.Adds)
		require.Equal(t, []uint64{8605550102}, res.Dels)
		require.EqualValues(t, 1, res.Report.Headers)
	})
	t.Run("unmarked line", func(t *testing.T) {
		t.Parallel()
		_, err := importText(t, dnc.ImportOptions{}, dnc.ModeChanges, "+8605550101\n8605550102\n")
		var ge *dnc.GarbageError
		require.ErrorAs(t, err, &ge)
		require.Equal(t, int64(2), ge.Report.Examples[0].Line)
		require.Contains(t, ge.Report.Examples[0].Reason, "change line")
	})
	t.Run("direction from the file name", func(t *testing.T) {
		t.Parallel()
		z := zipOf(t,
			"changes/2025-06-01-additions.txt", "8605550101\n-8605550109\n",
			"changes/2025-06-01-deletions.txt", "2015550100\n",
		)
		res, err := dnc.Import(t.Context(), dnc.ImportOptions{}, dnc.Input{Name: "changes.zip", R: bytes.NewReader(z), Mode: dnc.ModeChanges})
		require.NoError(t, err)
		require.Equal(t, []uint64{8605550101}, res.Adds)
		require.Equal(t, []uint64{2015550100, 8605550109}, res.Dels)
	})
	t.Run("resolve", func(t *testing.T) {
		t.Parallel()
		current := build(t, []uint64{2015550100, 3035550100})
		res, err := dnc.Import(t.Context(), dnc.ImportOptions{},
			dnc.Input{Name: "add.txt", R: strings.NewReader("8605550101\n"), Mode: dnc.ModeAdditions},
			dnc.Input{Name: "del.txt", R: strings.NewReader("2015550100\n4045550100\n"), Mode: dnc.ModeDeletions},
		)
		require.NoError(t, err)
		s, st, err := res.Resolve(current)
		require.NoError(t, err)
		require.Equal(t, []uint64{3035550100, 8605550101}, members(s))
		require.Equal(t, dnc.ApplyStats{Added: 1, Removed: 1, Absent: 1, Exchanges: 3, Chunks: 3}, st)
		require.Equal(t, 2, current.Len(), "Resolve must leave the current set alone")

		// With a full list, the changes apply to it instead.
		res, err = dnc.Import(t.Context(), dnc.ImportOptions{},
			dnc.Input{Name: "full.txt", R: strings.NewReader("5055550100\n"), Mode: dnc.ModeFull},
			dnc.Input{Name: "add.txt", R: strings.NewReader("8605550101\n"), Mode: dnc.ModeAdditions},
		)
		require.NoError(t, err)
		s, _, err = res.Resolve(current)
		require.NoError(t, err)
		require.Equal(t, []uint64{5055550100, 8605550101}, members(s))
	})
}

func TestImportCSV(t *testing.T) {
	t.Parallel()
	want := []uint64{2015550100, 8605550101}
	for name, tc := range map[string]struct {
		text, column string
	}{
		"phone header": {"First Name,Last Name,Phone Number,Zip\n" +
			"Ann,\"Smith, Jr.\",\"(860) 555-0101\",06101\n" +
			"Bob,Jones,201.555.0100,07001\n", ""},
		"split area code": {"AreaCode,PhoneNumber,DateAdded\n860,5550101,2024-01-01\n201,555-0100,2024-01-02\n", ""},
		"no header":       {"Ann,Smith,8605550101\nBob,Jones,+1 201 555 0100\n", ""},
		"semicolons":      {"name;phone\nAnn;860-555-0101\nBob;201-555-0100\n", ""},
		"tabs":            {"name\ttel\nAnn\t8605550101\nBob\t2015550100\n", ""},
		"column by name":  {"id,home,mobile\n1,8005550000,8605550101\n2,8005550001,201-555-0100\n", "Mobile"},
		"column by index": {"1,8005550000,8605550101\n2,8005550001,201-555-0100\n", "3"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			res, err := importText(t, dnc.ImportOptions{PhoneColumn: tc.column}, dnc.ModeFull, tc.text)
			require.NoError(t, err)
			require.Equal(t, want, members(res.Full))
		})
	}
	t.Run("named column missing", func(t *testing.T) {
		t.Parallel()
		_, err := importText(t, dnc.ImportOptions{PhoneColumn: "cell"}, dnc.ModeFull, "id,phone\n1,8605550101\n")
		var ge *dnc.GarbageError
		require.ErrorAs(t, err, &ge)
		require.Equal(t, "no such column", ge.Report.Examples[0].Reason)
	})
	t.Run("bad index", func(t *testing.T) {
		t.Parallel()
		_, err := importText(t, dnc.ImportOptions{PhoneColumn: "0"}, dnc.ModeFull, "8605550101\n")
		require.ErrorIs(t, err, dnc.ErrUnsupportedInput)
	})
}

func TestImportZip(t *testing.T) {
	t.Parallel()
	perAreaCode := zipOf(t,
		"201.txt", "2015550100\r\n2015550101\r\n",
		"860.txt", "860,5550101\n",
		"__MACOSX/._860.txt", "junk",
		"sub/", "",
	)
	t.Run("per area code", func(t *testing.T) {
		t.Parallel()
		var progress []int64
		res, err := dnc.Import(t.Context(), dnc.ImportOptions{Progress: func(n int64) { progress = append(progress, n) }},
			dnc.Input{Name: "dnc.zip", R: bytes.NewReader(perAreaCode)})
		require.NoError(t, err)
		require.Equal(t, []uint64{2015550100, 2015550101, 8605550101}, members(res.Full))
		require.Equal(t, []string{"dnc.zip:201.txt", "dnc.zip:860.txt"}, res.Report.Inputs)
		require.NotEmpty(t, progress)
		require.Equal(t, res.Report.Bytes, progress[len(progress)-1])
		require.True(t, slices.IsSorted(progress))
	})
	t.Run("not seekable", func(t *testing.T) {
		t.Parallel()
		res, err := dnc.Import(t.Context(), dnc.ImportOptions{},
			dnc.Input{Name: "dnc.zip", R: io.MultiReader(bytes.NewReader(perAreaCode))})
		require.NoError(t, err)
		require.Equal(t, 3, res.Full.Len())
		require.Equal(t, int64(len(perAreaCode)), res.Report.Bytes)
	})
	t.Run("whole registry", func(t *testing.T) {
		t.Parallel()
		var sb strings.Builder
		for i := range 100000 {
			sb.WriteString("86055")
			sb.WriteString(strings.Repeat("0", 5-len(itoa(i))))
			sb.WriteString(itoa(i))
			sb.WriteString("\n")
		}
		z := zipOf(t, "national.txt", sb.String())
		res, err := dnc.Import(t.Context(), dnc.ImportOptions{}, dnc.Input{Name: "all.zip", R: bytes.NewReader(z)})
		require.NoError(t, err)
		require.Equal(t, 100000, res.Full.Len())
		require.True(t, res.Full.Contains(8605599999))
	})
	t.Run("empty archive", func(t *testing.T) {
		t.Parallel()
		res, err := dnc.Import(t.Context(), dnc.ImportOptions{}, dnc.Input{Name: "empty.zip", R: bytes.NewReader(zipOf(t))})
		require.NoError(t, err)
		require.Zero(t, res.Full.Len())
		require.Empty(t, res.Report.Inputs)
	})
	t.Run("directory over its bound", func(t *testing.T) {
		t.Parallel()
		// 20,000 empty files with 100-character names: a directory of
		// over 2 MiB, which archive/zip would hold at some five times that.
		files := make([]string, 0, 40000)
		for i := range 20000 {
			files = append(files, fmt.Sprintf("%s%05d.txt", strings.Repeat("n", 91), i), "")
		}
		z := zipOf(t, files...)
		_, err := dnc.Import(t.Context(), dnc.ImportOptions{}, dnc.Input{Name: "many.zip", R: bytes.NewReader(z)})
		require.ErrorIs(t, err, dnc.ErrUnsupportedInput)
		require.ErrorContains(t, err, "many.zip: unsupported dnc import input: its list of files is over 1 MiB")
		_, err = dnc.Import(t.Context(), dnc.ImportOptions{}, dnc.Input{Name: "many.zip", R: io.MultiReader(bytes.NewReader(z))})
		require.ErrorIs(t, err, dnc.ErrUnsupportedInput, "not seekable")
	})
	t.Run("nested zip", func(t *testing.T) {
		t.Parallel()
		z := zipOf(t, "inner.zip", string(zipOf(t, "a.txt", "8605550101\n")))
		_, err := dnc.Import(t.Context(), dnc.ImportOptions{}, dnc.Input{Name: "outer.zip", R: bytes.NewReader(z)})
		require.ErrorIs(t, err, dnc.ErrUnsupportedInput)
	})
	t.Run("damaged", func(t *testing.T) {
		t.Parallel()
		bad := perAreaCode[:len(perAreaCode)-30]
		_, err := dnc.Import(t.Context(), dnc.ImportOptions{}, dnc.Input{Name: "dnc.zip", R: bytes.NewReader(bad)})
		require.ErrorContains(t, err, "dnc.zip")
		require.Error(t, err)
	})
	t.Run("damaged entry", func(t *testing.T) {
		t.Parallel()
		// Corrupt the compressed body of an entry: its checksum fails.
		z := zipOf(t, "a.txt", strings.Repeat("8605550101\n", 1000))
		i := bytes.Index(z, []byte("a.txt")) + 5 + 20
		bad := slices.Clone(z)
		bad[i] ^= 0xff
		_, err := dnc.Import(t.Context(), dnc.ImportOptions{}, dnc.Input{Name: "dnc.zip", R: bytes.NewReader(bad)})
		require.Error(t, err)
	})
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}

func TestImportIsWholeOrNothing(t *testing.T) {
	t.Parallel()
	boom := errors.New("disk on fire")
	t.Run("read error", func(t *testing.T) {
		t.Parallel()
		r := io.MultiReader(strings.NewReader("8605550101\n8605550102\n"), iotest.ErrReader(boom))
		res, err := dnc.Import(t.Context(), dnc.ImportOptions{},
			dnc.Input{Name: "a.txt", R: strings.NewReader("2015550100\n")},
			dnc.Input{Name: "b.txt", R: r})
		require.Nil(t, res)
		require.ErrorIs(t, err, boom)
		require.ErrorContains(t, err, "b.txt")
	})
	t.Run("importer is spent after an error", func(t *testing.T) {
		t.Parallel()
		im := dnc.NewImporter(dnc.ImportOptions{})
		require.ErrorIs(t, im.Add(t.Context(), dnc.Input{Name: "x", R: iotest.ErrReader(boom)}), boom)
		require.ErrorIs(t, im.Add(t.Context(), dnc.Input{Name: "y", R: strings.NewReader("8605550101\n")}), boom)
		res, err := im.Finish()
		require.Nil(t, res)
		require.ErrorIs(t, err, boom)
	})
	t.Run("canceled", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		_, err := dnc.Import(ctx, dnc.ImportOptions{}, dnc.Input{Name: "a.txt", R: strings.NewReader("8605550101\n")})
		require.ErrorIs(t, err, context.Canceled)
	})
	t.Run("no reader", func(t *testing.T) {
		t.Parallel()
		_, err := dnc.Import(t.Context(), dnc.ImportOptions{}, dnc.Input{Name: "a.txt"})
		require.ErrorIs(t, err, dnc.ErrUnsupportedInput)
	})
	t.Run("finish twice", func(t *testing.T) {
		t.Parallel()
		im := dnc.NewImporter(dnc.ImportOptions{})
		_, err := im.Finish()
		require.NoError(t, err)
		_, err = im.Finish()
		require.Error(t, err)
	})
}

func TestImportEmptyFullList(t *testing.T) {
	t.Parallel()
	res, err := importText(t, dnc.ImportOptions{}, dnc.ModeFull, "Phone\n")
	require.NoError(t, err)
	require.NotNil(t, res.Full)
	require.Zero(t, res.Full.Len())
}

func TestImportLargeUnsorted(t *testing.T) {
	t.Parallel()
	// Several sorted runs and then random order: every builder path.
	var sb strings.Builder
	m := model{}
	add := func(n uint64) {
		m[n] = struct{}{}
		sb.WriteString(itoa(int(n)))
		sb.WriteByte('\n')
	}
	for r := range uint64(3) {
		for i := range uint64(40000) {
			add(9002000000 - r*100_000_000 + i*7)
		}
	}
	x := uint64(12345)
	for range 150000 {
		x = x*6364136223846793005 + 1442695040888963407
		y := x >> 20
		add((200+y%800)*10_000_000 + (200+y/800%800)*10_000 + y/640_000%10_000)
	}
	res, err := importText(t, dnc.ImportOptions{}, dnc.ModeFull, sb.String())
	require.NoError(t, err)
	require.Equal(t, m.sorted(), members(res.Full))
}
