package dnc_test

import (
	"bytes"
	"encoding/binary"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/dnc"
)

// checkImport checks what holds for any import that succeeded.
func checkImport(t *testing.T, res *dnc.ImportResult) {
	t.Helper()
	rep := res.Report
	require.Equal(t, rep.Lines, rep.Blank+rep.Headers+rep.Rejected+rep.Numbers+rep.Additions+rep.Deletions, "%+v", rep)
	require.LessOrEqual(t, len(rep.Examples), 10)
	valid := func(n uint64) bool { return n < dnc.MaxNumber && n/10_000_000 >= 200 && n/10_000%1000 >= 200 }
	if res.Full != nil {
		require.LessOrEqual(t, int64(res.Full.Len()), rep.Numbers)
		for n := range res.Full.All() {
			require.True(t, valid(n), "%d", n)
		}
	}
	for _, n := range slices.Concat(res.Adds, res.Dels) {
		require.True(t, valid(n), "%d", n)
	}
	require.True(t, slices.IsSorted(res.Adds))
	require.True(t, slices.IsSorted(res.Dels))
	require.LessOrEqual(t, int64(len(res.Adds)), rep.Additions)
	require.LessOrEqual(t, int64(len(res.Dels)), rep.Deletions)
}

func FuzzImportText(f *testing.F) {
	for _, seed := range []string{
		"8605550101\n2015550100\n",
		"860,5550101\r\n201,5550100\r\n",
		"AreaCode,PhoneNumber\n860,5550101\n\n",
		"+8605550101\n-2015550100\n8605550102,D,2025-01-01\n860,5550103,A\n",
		"hello\n8605550101\nworld\n0605550101\n",
		"\"(860) 555-0101\",\"Smith, Ann\"\n",
		"\xef\xbb\xbf8605550101",
		strings.Repeat("9", 5000) + "\n8605550101\n",
		"Phone;Action\n860-555-0101;delete\n",
	} {
		for mode := range uint8(4) {
			f.Add([]byte(seed), mode)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte, mode uint8) {
		if bytes.HasPrefix(data, []byte("PK")) {
			return // FuzzImportZip's business
		}
		m := dnc.Mode(mode % 4)
		res, err := dnc.Import(t.Context(), dnc.ImportOptions{MaxRejected: -1},
			dnc.Input{Name: "fuzz.txt", R: bytes.NewReader(data), Mode: m})
		require.NoError(t, err)
		checkImport(t, res)
		require.Equal(t, int64(len(data)), res.Report.Bytes)
		if m != dnc.ModeFull {
			return
		}
		// Every line of exactly ten digits that is a NANP number is in
		// the list.
		for line := range strings.Lines(string(data)) {
			line = strings.TrimLeft(strings.TrimRight(line, "\r\n \t"), " \t")
			if len(line) != 10 || strings.Trim(line, "0123456789") != "" {
				continue
			}
			if line[0] < '2' || line[3] < '2' {
				continue
			}
			n := uint64(0)
			for _, c := range line {
				n = n*10 + uint64(c-'0')
			}
			require.True(t, res.Full.Contains(n), "line %q", line)
		}
	})
}

func FuzzImportCSV(f *testing.F) {
	f.Add([]byte("First,Last,Phone\nAnn,Smith,(860) 555-0101\n"), "")
	f.Add([]byte("id,home,mobile\n1,8005550000,8605550101\n"), "mobile")
	f.Add([]byte("1,8005550000,8605550101\n"), "3")
	f.Add([]byte("AreaCode,PhoneNumber\n860,5550101\n"), "")
	f.Add([]byte("a\tb\n\"x\"\"y\",860 555 0101\n"), "b")
	f.Fuzz(func(t *testing.T, data []byte, column string) {
		if bytes.HasPrefix(data, []byte("PK")) {
			return
		}
		res, err := dnc.Import(t.Context(), dnc.ImportOptions{MaxRejected: -1, PhoneColumn: column},
			dnc.Input{Name: "fuzz.csv", R: bytes.NewReader(data), Mode: dnc.ModeFull})
		if err != nil {
			require.ErrorIs(t, err, dnc.ErrUnsupportedInput) // a bad column number
			return
		}
		checkImport(t, res)
	})
}

func FuzzImportZip(f *testing.F) {
	f.Add(zipOf(f, "201.txt", "2015550100\n", "860.txt", "860,5550101\n"), uint8(0))
	f.Add(zipOf(f, "add.txt", "8605550101\n", "del.txt", "8605550102\n"), uint8(3))
	f.Add(zipOf(f, "a/b/c.txt", "x\ny\n8605550101\r\n"), uint8(1))
	f.Add(zipOf(f), uint8(0))
	f.Add([]byte("PK\x03\x04garbage"), uint8(0))
	f.Fuzz(func(t *testing.T, data []byte, mode uint8) {
		res, err := dnc.Import(t.Context(), dnc.ImportOptions{MaxRejected: -1},
			dnc.Input{Name: "fuzz.zip", R: bytes.NewReader(data), Mode: dnc.Mode(mode % 4)})
		if err != nil {
			require.Nil(t, res)
			return
		}
		checkImport(t, res)
	})
}

func FuzzReadSnapshot(f *testing.F) {
	f.Add(snapshotBytes(f, dnc.Meta{}, nil))
	var ns []uint64
	for i := range uint64(3000) {
		ns = append(ns, 8605550000+i*i%10000, 2015550000+i*3)
	}
	var b dnc.Builder
	require.NoError(f, b.AddMany(ns))
	f.Add(snapshotBytes(f, dnc.Meta{List: dnc.Internal, Source: "x", Seq: 9}, b.Build()))
	f.Fuzz(func(t *testing.T, data []byte) {
		meta, s, err := dnc.ReadSnapshot(bytes.NewReader(data))
		if err != nil {
			return
		}
		require.Equal(t, s.Len(), meta.Count)
		all := slices.Collect(s.All())
		for _, n := range all[:min(len(all), 100)] {
			s.Contains(n)
		}
		out := make([]bool, len(all))
		s.ContainsBatch(all, out)
		_, _, err = s.Apply([]uint64{8605550101}, all[:len(all)/2])
		require.NoError(t, err)
		var buf bytes.Buffer
		require.NoError(t, dnc.WriteSnapshot(&buf, meta, s))
	})
}

// FuzzSet builds sets from arbitrary bytes, read as offsets into a few
// exchanges so that every encoding is exercised, and checks them and
// changes to them against a map.
func FuzzSet(f *testing.F) {
	f.Add([]byte{0, 0, 1, 0, 255, 255}, []byte{0, 0})
	f.Add(bytes.Repeat([]byte{7, 3}, 900), []byte{1, 2, 3, 4})
	full := make([]byte, 0, 2000)
	for i := range uint16(1000) {
		full = binary.LittleEndian.AppendUint16(full, i)
	}
	f.Add(full, full[:100])
	f.Fuzz(func(t *testing.T, a, d []byte) {
		a, d = a[:min(len(a), 8192)], d[:min(len(d), 2048)]
		decode := func(b []byte) []uint64 {
			var out []uint64
			for i := 0; i+1 < len(b); i += 2 {
				v := uint64(binary.LittleEndian.Uint16(b[i:]))
				out = append(out, 9999970000+v%30000) // three exchanges at the top
			}
			return out
		}
		ns, changes := decode(a), decode(d)
		s := build(t, ns)
		m := newModel(ns)
		var adds, dels []uint64
		for i, n := range changes {
			if i%2 == 0 {
				dels = append(dels, n)
			} else {
				adds = append(adds, n)
			}
		}
		s2, _, err := s.Apply(adds, dels)
		require.NoError(t, err)
		m2 := newModel(ns)
		for _, n := range dels {
			delete(m2, n)
		}
		for _, n := range adds {
			m2[n] = struct{}{}
		}
		for _, pair := range []struct {
			m model
			s *dnc.Set
		}{{m, s}, {m2, s2}} {
			require.Equal(t, len(pair.m), pair.s.Len())
			require.Equal(t, pair.m.sorted(), slices.AppendSeq([]uint64{}, pair.s.All()))
			for v := uint64(9999969990); v < dnc.MaxNumber; v += 7 {
				_, want := pair.m[v]
				require.Equal(t, want, pair.s.Contains(v), "%d", v)
			}
		}
	})
}
