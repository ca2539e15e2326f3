// Package dncbench measures heed's do-not-call set side by side with the
// obvious alternatives (a Go map, a sorted slice, a roaring bitmap, a flat
// bitmap over the whole number space, and any Structure passed in, such as
// a PostgreSQL table) on the same generated data, in one run.
package dncbench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"text/tabwriter"
	"time"
)

// Options configure Run.
type Options struct {
	// Numbers is the size of the data set; 1,000,000 when zero.
	Numbers int
	// Dataset is Random (the default) or Clustered.
	Dataset string
	// Seed makes the data; runs with the same seed use the same data.
	Seed uint64
	// AreaCodes limits the data to the first AreaCodes US area codes (see
	// Spec); all when zero.
	AreaCodes int
	// Queries is how many lookups each lookup phase may make; 4,194,304
	// when zero. Half are members.
	Queries int
	// Changes is the length of the change list applied; Numbers/100 (at
	// least 1,000) when zero.
	Changes int
	// Structures names the built-in structures to run (see Names); all when
	// empty.
	Structures []string
	// Extra are further structures to run after the built-in ones, such as
	// a PostgreSQL-backed one. Run closes them.
	Extra []Structure
	// Dir is where the flat file and the snapshots are written; a new
	// temporary directory, removed afterwards, when empty.
	Dir string
	// PhaseTime bounds each lookup phase of each structure; 3 s when zero.
	// Slow structures make fewer lookups.
	PhaseTime time.Duration
	// Log, when set, receives a line as each step starts.
	Log io.Writer
}

// Result holds one structure's figures. A nil figure was not measured
// (the structure cannot do it, or failed; see Error).
type Result struct {
	// Name is the structure's name.
	Name string `json:"name"`
	// BitsPerNumber is the memory per number after the build.
	BitsPerNumber *float64 `json:"bits_per_number"`
	// BuildNumbersPerS is the build rate; for heed it is the import of the
	// flat file, parsing included.
	BuildNumbersPerS *float64 `json:"build_numbers_per_s"`
	// LookupDependentNs is the time of one lookup whose number depends on
	// the previous lookup's result.
	LookupDependentNs *float64 `json:"lookup_dependent_ns"`
	// LookupBatchedNs is the time per number of batched lookups.
	LookupBatchedNs *float64 `json:"lookup_batched_ns"`
	// ApplyChangesPerS is the rate of applying the change list.
	ApplyChangesPerS *float64 `json:"apply_changes_per_s"`
	// SnapshotLoadS is the time to load the structure's snapshot file
	// (from the page cache, as it was just written).
	SnapshotLoadS *float64 `json:"snapshot_load_s"`
	// Bytes is the memory the structure uses after the build.
	Bytes int64 `json:"bytes"`
	// SnapshotBytes is the size of the snapshot file.
	SnapshotBytes int64 `json:"snapshot_bytes,omitempty"`
	// Error is the first error, if any; the figures before it stand.
	Error string `json:"error,omitempty"`
}

// Report is the outcome of Run.
type Report struct {
	// Numbers is the size of the data set.
	Numbers int `json:"numbers"`
	// Dataset is the data set's kind.
	Dataset string `json:"dataset"`
	// Queries and Changes are the lookup and change-list sizes.
	Queries int `json:"queries"`
	Changes int `json:"changes"`
	// CPUs is the number of CPUs Go could use.
	CPUs int `json:"cpus"`
	// Results has one entry per structure, in run order.
	Results []Result `json:"results"`
}

// Run generates the data set and measures every structure on it, one after
// the other, freeing each before the next starts. A structure that fails
// gets its error in its Result; Run itself fails only when it cannot set
// up.
func Run(ctx context.Context, opts Options) (*Report, error) {
	defer func() {
		for _, s := range opts.Extra {
			s.Close()
		}
	}()
	if opts.Numbers == 0 {
		opts.Numbers = 1_000_000
	}
	if opts.Dataset == "" {
		opts.Dataset = Random
	}
	if opts.Queries <= 0 {
		opts.Queries = 1 << 22
	}
	if opts.Changes <= 0 {
		opts.Changes = max(opts.Numbers/100, 1000)
	}
	if opts.PhaseTime <= 0 {
		opts.PhaseTime = 3 * time.Second
	}
	names := opts.Structures
	if len(names) == 0 {
		names = Names
	}
	structures := make([]func() (Structure, error), 0, len(names)+len(opts.Extra))
	for _, name := range names {
		if _, err := NewStructure(name); err != nil {
			return nil, err
		}
		structures = append(structures, func() (Structure, error) { return NewStructure(name) })
	}
	for _, s := range opts.Extra {
		structures = append(structures, func() (Structure, error) { return s, nil })
	}

	dir := opts.Dir
	if dir == "" {
		d, err := os.MkdirTemp("", "dncbench")
		if err != nil {
			return nil, fmt.Errorf("dncbench: %w", err)
		}
		defer os.RemoveAll(d)
		dir = d
	}

	logf(opts.Log, "generating %d %s numbers", opts.Numbers, opts.Dataset)
	d, err := Generate(Spec{Kind: opts.Dataset, Numbers: opts.Numbers, Seed: opts.Seed, AreaCodes: opts.AreaCodes})
	if err != nil {
		return nil, err
	}
	qs := d.Queries(opts.Queries, opts.Seed+1)
	adds, dels := d.Changes(opts.Changes, opts.Seed+2)
	textPath := filepath.Join(dir, "numbers.txt")
	logf(opts.Log, "writing the flat file %s", textPath)
	if err := writeFile(textPath, func(w io.Writer) error {
		_, err := io.Copy(w, d.Text())
		return err
	}); err != nil {
		return nil, fmt.Errorf("dncbench: %w", err)
	}
	defer os.Remove(textPath)

	rep := &Report{Numbers: len(d.Numbers), Dataset: d.Kind, Queries: len(qs), Changes: len(adds) + len(dels), CPUs: runtime.GOMAXPROCS(0)}
	m := &measurer{opts: opts, d: d, qs: qs, adds: adds, dels: dels, dir: dir, textPath: textPath}
	for _, mk := range structures {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("dncbench: %w", err)
		}
		s, err := mk()
		if err != nil {
			return nil, err
		}
		rep.Results = append(rep.Results, m.measure(ctx, s))
	}
	return rep, nil
}

type measurer struct {
	opts       Options
	d          *Dataset
	qs         []uint64
	adds, dels []uint64
	dir        string
	textPath   string
}

func logf(w io.Writer, format string, args ...any) {
	if w != nil {
		fmt.Fprintf(w, "dncbench: "+format+"\n", args...)
	}
}

func ptr(f float64) *float64 { return &f }

// heapInUse returns the live heap after a full collection.
func heapInUse() int64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

// measure runs every phase on s and closes it.
func (m *measurer) measure(ctx context.Context, s Structure) (res Result) {
	res.Name = s.Name()
	n := len(m.d.Numbers)
	fail := func(step string, err error) Result {
		if !errors.Is(err, errors.ErrUnsupported) && res.Error == "" {
			res.Error = fmt.Sprintf("%s: %v", step, err)
		}
		return res
	}
	defer func() {
		s.Close()
		debug.FreeOSMemory()
	}()

	before := heapInUse()
	logf(m.opts.Log, "%s: build", res.Name)
	start := time.Now()
	if err := s.Build(ctx, BuildInput{Numbers: m.d.Numbers, TextPath: m.textPath}); err != nil {
		return fail("build", err)
	}
	res.BuildNumbersPerS = ptr(float64(n) / time.Since(start).Seconds())
	bytes, err := s.Bytes()
	if errors.Is(err, errors.ErrUnsupported) {
		bytes, err = heapInUse()-before, nil
	}
	if err != nil {
		return fail("size", err)
	}
	res.Bytes = bytes
	if n > 0 {
		res.BitsPerNumber = ptr(float64(bytes) * 8 / float64(n))
	}

	if err := m.verify(ctx, s, false); err != nil {
		return fail("verify", err)
	}

	logf(m.opts.Log, "%s: dependent lookups", res.Name)
	ns, err := m.lookups(ctx, func(qs []uint64) error {
		_, err := s.LookupDependent(ctx, qs, zero)
		return err
	})
	if err != nil {
		return fail("dependent lookups", err)
	}
	res.LookupDependentNs = ptr(ns)

	logf(m.opts.Log, "%s: batched lookups", res.Name)
	out := make([]bool, lookupSlice)
	ns, err = m.lookups(ctx, func(qs []uint64) error { return s.LookupBatch(ctx, qs, out[:len(qs)]) })
	if err != nil {
		return fail("batched lookups", err)
	}
	res.LookupBatchedNs = ptr(ns)

	logf(m.opts.Log, "%s: apply %d changes", res.Name, len(m.adds)+len(m.dels))
	start = time.Now()
	err = s.Apply(ctx, m.adds, m.dels)
	applied := err == nil
	if applied {
		res.ApplyChangesPerS = ptr(float64(len(m.adds)+len(m.dels)) / time.Since(start).Seconds())
	} else if fail("apply", err); !errors.Is(err, errors.ErrUnsupported) {
		return res
	}

	path := filepath.Join(m.dir, res.Name+".snapshot")
	logf(m.opts.Log, "%s: snapshot", res.Name)
	if err := s.SaveSnapshot(ctx, path); err != nil {
		return fail("save snapshot", err)
	}
	defer os.Remove(path)
	if st, err := os.Stat(path); err == nil {
		res.SnapshotBytes = st.Size()
	}
	if err := s.Release(); err != nil {
		return fail("release", err)
	}
	debug.FreeOSMemory()
	start = time.Now()
	if err := s.LoadSnapshot(ctx, path); err != nil {
		return fail("load snapshot", err)
	}
	res.SnapshotLoadS = ptr(time.Since(start).Seconds())
	if err := m.verify(ctx, s, applied); err != nil {
		return fail("verify loaded snapshot", err)
	}
	return res
}

// zero is 0, but the compiler cannot know it.
var zero uint64

// lookupSlice is how many lookups go to a structure per call.
const lookupSlice = 1 << 16

// lookups times fn over the queries, a slice at a time, after a warm-up
// slice, until they run out or the phase time is up. It returns the time
// per lookup in nanoseconds.
func (m *measurer) lookups(ctx context.Context, fn func(qs []uint64) error) (float64, error) {
	qs := m.qs
	if len(qs) > lookupSlice {
		if err := fn(qs[len(qs)-lookupSlice:]); err != nil {
			return 0, err
		}
		qs = qs[:len(qs)-lookupSlice]
	}
	done := 0
	var spent time.Duration
	for done < len(qs) && spent < m.opts.PhaseTime {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		k := min(lookupSlice, len(qs)-done)
		start := time.Now()
		if err := fn(qs[done : done+k]); err != nil {
			return 0, err
		}
		spent += time.Since(start)
		done += k
	}
	if done == 0 {
		return 0, errors.New("no queries")
	}
	return float64(spent.Nanoseconds()) / float64(done), nil
}

// verify checks the structure's answers for the first queries against the
// data set (with the change list applied when changed).
func (m *measurer) verify(ctx context.Context, s Structure, changed bool) error {
	qs := m.qs[:min(len(m.qs), 4096)]
	if changed {
		qs = slices.Concat(qs, m.adds[:min(len(m.adds), 512)], m.dels[:min(len(m.dels), 512)])
	}
	out := make([]bool, len(qs))
	if err := s.LookupBatch(ctx, qs, out); err != nil {
		return err
	}
	for i, q := range qs {
		want := containsSorted(m.d.Numbers, q)
		if changed {
			want = want && !containsSorted(m.dels, q) || containsSorted(m.adds, q)
		}
		if out[i] != want {
			return fmt.Errorf("lookup of %d says %v, want %v", q, out[i], want)
		}
		hits, err := s.LookupDependent(ctx, []uint64{q}, zero)
		if err != nil {
			return err
		}
		if (hits == 1) != want {
			return fmt.Errorf("dependent lookup of %d says %v, want %v", q, hits == 1, want)
		}
	}
	return nil
}

// WriteJSON writes the report as one JSON object.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("dncbench: write json: %w", err)
	}
	return nil
}

// WriteTable writes the report as an aligned text table.
func (r *Report) WriteTable(w io.Writer) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "%s numbers (%s), %d queries, %d changes, %d CPUs\n", group(int64(r.Numbers)), r.Dataset, r.Queries, r.Changes, r.CPUs)
	tw := tabwriter.NewWriter(bw, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "name\tbits/number\tMB\tbuild numbers/s\tdependent ns\tbatched ns\tapply changes/s\tsnapshot load s\t")
	for _, res := range r.Results {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", res.Name,
			figure(res.BitsPerNumber, 2), strconv.FormatFloat(float64(res.Bytes)/1e6, 'f', 1, 64),
			rate(res.BuildNumbersPerS), figure(res.LookupDependentNs, 1), figure(res.LookupBatchedNs, 1),
			rate(res.ApplyChangesPerS), figure(res.SnapshotLoadS, 3))
	}
	tw.Flush()
	for _, res := range r.Results {
		if res.Error != "" {
			fmt.Fprintf(bw, "%s: %s\n", res.Name, res.Error)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("dncbench: write table: %w", err)
	}
	return nil
}

func figure(f *float64, prec int) string {
	if f == nil {
		return "-"
	}
	return strconv.FormatFloat(*f, 'f', prec, 64)
}

func rate(f *float64) string {
	if f == nil {
		return "-"
	}
	return group(int64(*f))
}

// group writes n with thousands separators.
func group(n int64) string {
	s := strconv.FormatInt(n, 10)
	for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
