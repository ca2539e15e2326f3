package dncbench

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/RoaringBitmap/roaring/v2/roaring64"

	"github.com/heed-dialer/heed/dnc"
)

// Structure is a set of numbers that Run measures. The built-in ones are
// named by Names; a PostgreSQL-backed one (an indexed table, looked up per
// number as SQL dialers do) can be passed in Options.Extra.
//
// Methods that a structure cannot do return an error wrapping
// errors.ErrUnsupported; the report then shows no figure for them.
type Structure interface {
	// Name is the structure's name in the report.
	Name() string
	// Build loads the data set.
	Build(ctx context.Context, in BuildInput) error
	// LookupDependent looks up the queries one after another, the next
	// number depending on the previous result: it looks up
	// qs[i] ^ (hit(i-1) & zero), where zero is 0 at run time but unknown to
	// the compiler. It returns the number of hits.
	LookupDependent(ctx context.Context, qs []uint64, zero uint64) (int, error)
	// LookupBatch sets out[i] to whether qs[i] is a member.
	LookupBatch(ctx context.Context, qs []uint64, out []bool) error
	// Apply removes dels, then adds adds (both sorted, distinct).
	Apply(ctx context.Context, adds, dels []uint64) error
	// Bytes returns the memory or storage the structure uses.
	Bytes() (int64, error)
	// SaveSnapshot writes the structure to a file.
	SaveSnapshot(ctx context.Context, path string) error
	// Release drops the in-memory data, so that LoadSnapshot can be timed
	// without two copies in memory.
	Release() error
	// LoadSnapshot reads the file SaveSnapshot wrote.
	LoadSnapshot(ctx context.Context, path string) error
	// Close releases everything.
	Close() error
}

// BuildInput is what Structure.Build may read.
type BuildInput struct {
	// Numbers is the data set, sorted, without duplicates.
	Numbers []uint64
	// TextPath is the data set as an FTC flat file: one ten-digit number a
	// line, in increasing order.
	TextPath string
}

// Names are the built-in structures, in report order.
var Names = []string{"heed", "map", "sorted", "roaring", "bitmap"}

// NewStructure returns the built-in structure of that name.
func NewStructure(name string) (Structure, error) {
	switch name {
	case "heed":
		return &heedSet{}, nil
	case "map":
		return &mapSet{}, nil
	case "sorted":
		return &sortedSet{}, nil
	case "roaring":
		return &roaringSet{}, nil
	case "bitmap":
		return &flatBitmap{}, nil
	}
	return nil, fmt.Errorf("dncbench: unknown structure %q (have %v)", name, Names)
}

// b2u is 1 for true and 0 for false, without a branch.
func b2u(b bool) uint64 {
	var u uint64
	if b {
		u = 1
	}
	return u
}

// heedSet is the dnc.Set, built from the flat file by the importer.
type heedSet struct{ set *dnc.Set }

func (h *heedSet) Name() string { return "heed" }

func (h *heedSet) Build(ctx context.Context, in BuildInput) error {
	f, err := os.Open(in.TextPath)
	if err != nil {
		return fmt.Errorf("heed build: %w", err)
	}
	defer f.Close()
	res, err := dnc.Import(ctx, dnc.ImportOptions{}, dnc.Input{Name: in.TextPath, R: f, Mode: dnc.ModeFull})
	if err != nil {
		return fmt.Errorf("heed build: %w", err)
	}
	h.set = res.Full
	return nil
}

func (h *heedSet) LookupDependent(_ context.Context, qs []uint64, zero uint64) (int, error) {
	hits, prev := 0, uint64(0)
	for _, q := range qs {
		prev = b2u(h.set.Contains(q ^ prev&zero))
		hits += int(prev)
	}
	return hits, nil
}

func (h *heedSet) LookupBatch(_ context.Context, qs []uint64, out []bool) error {
	h.set.ContainsBatch(qs, out)
	return nil
}

func (h *heedSet) Apply(_ context.Context, adds, dels []uint64) error {
	s, _, err := h.set.Apply(adds, dels)
	if err != nil {
		return fmt.Errorf("heed apply: %w", err)
	}
	h.set = s
	return nil
}

func (h *heedSet) Bytes() (int64, error) { return h.set.Bytes(), nil }

func (h *heedSet) SaveSnapshot(_ context.Context, path string) error {
	return writeFile(path, func(w io.Writer) error {
		return dnc.WriteSnapshot(w, dnc.Meta{List: dnc.National, Source: "dncbench"}, h.set)
	})
}

func (h *heedSet) Release() error { h.set = nil; return nil }

func (h *heedSet) LoadSnapshot(_ context.Context, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("heed load: %w", err)
	}
	defer f.Close()
	_, s, err := dnc.ReadSnapshot(f)
	if err != nil {
		return fmt.Errorf("heed load: %w", err)
	}
	h.set = s
	return nil
}

func (h *heedSet) Close() error { return h.Release() }

// mapSet is a Go map. Its snapshot is the raw numbers, loaded back into a
// map.
type mapSet struct{ m map[uint64]struct{} }

func (s *mapSet) Name() string { return "map" }

func (s *mapSet) Build(_ context.Context, in BuildInput) error {
	s.m = make(map[uint64]struct{}, len(in.Numbers))
	for _, n := range in.Numbers {
		s.m[n] = struct{}{}
	}
	return nil
}

func (s *mapSet) LookupDependent(_ context.Context, qs []uint64, zero uint64) (int, error) {
	hits, prev := 0, uint64(0)
	for _, q := range qs {
		_, ok := s.m[q^prev&zero]
		prev = b2u(ok)
		hits += int(prev)
	}
	return hits, nil
}

func (s *mapSet) LookupBatch(_ context.Context, qs []uint64, out []bool) error {
	for i, q := range qs {
		_, out[i] = s.m[q]
	}
	return nil
}

func (s *mapSet) Apply(_ context.Context, adds, dels []uint64) error {
	for _, n := range dels {
		delete(s.m, n)
	}
	for _, n := range adds {
		s.m[n] = struct{}{}
	}
	return nil
}

func (s *mapSet) Bytes() (int64, error) {
	return 0, fmt.Errorf("map size: %w", errors.ErrUnsupported)
}

func (s *mapSet) SaveSnapshot(_ context.Context, path string) error {
	return writeFile(path, func(w io.Writer) error {
		var b [8]byte
		for n := range s.m {
			binary.LittleEndian.PutUint64(b[:], n)
			if _, err := w.Write(b[:]); err != nil {
				return err
			}
		}
		return nil
	})
}

func (s *mapSet) Release() error { s.m = nil; return nil }

func (s *mapSet) LoadSnapshot(_ context.Context, path string) error {
	st, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("map load: %w", err)
	}
	s.m = make(map[uint64]struct{}, st.Size()/8)
	return readWords(path, func(ws []uint64) {
		for _, n := range ws {
			s.m[n] = struct{}{}
		}
	})
}

func (s *mapSet) Close() error { return s.Release() }

// sortedSet is a sorted slice searched by bisection.
type sortedSet struct{ ns []uint64 }

func (s *sortedSet) Name() string { return "sorted" }

// hugeWords returns a zeroed slice of n words of capacity c, on huge pages
// where possible.
func hugeWords(n, c int) []uint64 {
	ws := make([]uint64, n, c)
	adviseHuge(ws[:c])
	return ws
}

func (s *sortedSet) Build(_ context.Context, in BuildInput) error {
	s.ns = hugeWords(len(in.Numbers), len(in.Numbers))
	copy(s.ns, in.Numbers)
	slices.Sort(s.ns)
	return nil
}

func (s *sortedSet) LookupDependent(_ context.Context, qs []uint64, zero uint64) (int, error) {
	hits, prev := 0, uint64(0)
	for _, q := range qs {
		_, ok := slices.BinarySearch(s.ns, q^prev&zero)
		prev = b2u(ok)
		hits += int(prev)
	}
	return hits, nil
}

func (s *sortedSet) LookupBatch(_ context.Context, qs []uint64, out []bool) error {
	for i, q := range qs {
		_, out[i] = slices.BinarySearch(s.ns, q)
	}
	return nil
}

func (s *sortedSet) Apply(_ context.Context, adds, dels []uint64) error {
	out := hugeWords(0, len(s.ns)+len(adds))
	i, j, k := 0, 0, 0
	for i < len(s.ns) || j < len(adds) {
		var n uint64
		switch {
		case j == len(adds) || i < len(s.ns) && s.ns[i] < adds[j]:
			n = s.ns[i]
			i++
		case i == len(s.ns) || adds[j] < s.ns[i]:
			n = adds[j]
			j++
		default:
			n = s.ns[i]
			i++
			j++
		}
		for k < len(dels) && dels[k] < n {
			k++
		}
		if k < len(dels) && dels[k] == n && !containsSorted(adds, n) {
			continue
		}
		out = append(out, n)
	}
	s.ns = out
	return nil
}

func containsSorted(xs []uint64, n uint64) bool {
	_, ok := slices.BinarySearch(xs, n)
	return ok
}

func (s *sortedSet) Bytes() (int64, error) { return int64(cap(s.ns)) * 8, nil }

func (s *sortedSet) SaveSnapshot(_ context.Context, path string) error {
	return writeFile(path, func(w io.Writer) error { return writeWords(w, s.ns) })
}

func (s *sortedSet) Release() error { s.ns = nil; return nil }

func (s *sortedSet) LoadSnapshot(_ context.Context, path string) error {
	st, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("sorted load: %w", err)
	}
	s.ns = hugeWords(0, int(st.Size()/8))
	return readWords(path, func(ws []uint64) { s.ns = append(s.ns, ws...) })
}

func (s *sortedSet) Close() error { return s.Release() }

// roaringSet is a 64-bit roaring bitmap.
type roaringSet struct{ rb *roaring64.Bitmap }

func (s *roaringSet) Name() string { return "roaring" }

func (s *roaringSet) Build(_ context.Context, in BuildInput) error {
	s.rb = roaring64.New()
	s.rb.AddMany(in.Numbers)
	s.rb.RunOptimize()
	return nil
}

func (s *roaringSet) LookupDependent(_ context.Context, qs []uint64, zero uint64) (int, error) {
	hits, prev := 0, uint64(0)
	for _, q := range qs {
		prev = b2u(s.rb.Contains(q ^ prev&zero))
		hits += int(prev)
	}
	return hits, nil
}

func (s *roaringSet) LookupBatch(_ context.Context, qs []uint64, out []bool) error {
	for i, q := range qs {
		out[i] = s.rb.Contains(q)
	}
	return nil
}

func (s *roaringSet) Apply(_ context.Context, adds, dels []uint64) error {
	for _, n := range dels {
		s.rb.Remove(n)
	}
	s.rb.AddMany(adds)
	return nil
}

func (s *roaringSet) Bytes() (int64, error) { return int64(s.rb.GetSizeInBytes()), nil }

func (s *roaringSet) SaveSnapshot(_ context.Context, path string) error {
	return writeFile(path, func(w io.Writer) error {
		_, err := s.rb.WriteTo(w)
		return err
	})
}

func (s *roaringSet) Release() error { s.rb = nil; return nil }

func (s *roaringSet) LoadSnapshot(_ context.Context, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("roaring load: %w", err)
	}
	defer f.Close()
	s.rb = roaring64.New()
	if _, err := s.rb.ReadFrom(bufio.NewReaderSize(f, 1<<20)); err != nil {
		return fmt.Errorf("roaring load: %w", err)
	}
	return nil
}

func (s *roaringSet) Close() error { return s.Release() }

// flatBitmap is one bit for every ten-digit number: 1.25 GB, on huge pages
// where the kernel allows, like the other flat arrays here and heed's own.
type flatBitmap struct{ words []uint64 }

func (s *flatBitmap) Name() string { return "bitmap" }

func (s *flatBitmap) Build(_ context.Context, in BuildInput) error {
	s.words = hugeWords(dnc.MaxNumber/64, dnc.MaxNumber/64)
	for _, n := range in.Numbers {
		s.words[n/64] |= 1 << (n % 64)
	}
	return nil
}

func (s *flatBitmap) has(n uint64) bool {
	return n < dnc.MaxNumber && s.words[n/64]>>(n%64)&1 != 0
}

func (s *flatBitmap) LookupDependent(_ context.Context, qs []uint64, zero uint64) (int, error) {
	hits, prev := 0, uint64(0)
	for _, q := range qs {
		prev = b2u(s.has(q ^ prev&zero))
		hits += int(prev)
	}
	return hits, nil
}

func (s *flatBitmap) LookupBatch(_ context.Context, qs []uint64, out []bool) error {
	for i, q := range qs {
		out[i] = s.has(q)
	}
	return nil
}

func (s *flatBitmap) Apply(_ context.Context, adds, dels []uint64) error {
	for _, n := range dels {
		s.words[n/64] &^= 1 << (n % 64)
	}
	for _, n := range adds {
		s.words[n/64] |= 1 << (n % 64)
	}
	return nil
}

func (s *flatBitmap) Bytes() (int64, error) { return int64(len(s.words)) * 8, nil }

func (s *flatBitmap) SaveSnapshot(_ context.Context, path string) error {
	return writeFile(path, func(w io.Writer) error { return writeWords(w, s.words) })
}

func (s *flatBitmap) Release() error { s.words = nil; return nil }

func (s *flatBitmap) LoadSnapshot(_ context.Context, path string) error {
	s.words = hugeWords(0, dnc.MaxNumber/64)
	return readWords(path, func(ws []uint64) { s.words = append(s.words, ws...) })
}

func (s *flatBitmap) Close() error { return s.Release() }

// writeFile creates path and writes it through a buffer.
func writeFile(path string, fn func(w io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	if err := fn(bw); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// writeWords writes ws little-endian.
func writeWords(w io.Writer, ws []uint64) error {
	buf := make([]byte, 1<<20)
	for len(ws) > 0 {
		n := min(len(ws), len(buf)/8)
		for i, x := range ws[:n] {
			binary.LittleEndian.PutUint64(buf[8*i:], x)
		}
		if _, err := w.Write(buf[:8*n]); err != nil {
			return err
		}
		ws = ws[n:]
	}
	return nil
}

// readWords reads a file of little-endian words, passing them on in
// batches.
func readWords(path string, fn func(ws []uint64)) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	defer f.Close()
	buf := make([]byte, 8<<20)
	ws := make([]uint64, len(buf)/8)
	for {
		n, err := io.ReadFull(f, buf)
		k := n / 8
		for i := range k {
			ws[i] = binary.LittleEndian.Uint64(buf[8*i:])
		}
		fn(ws[:k])
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", path, err)
		}
	}
}

// Compile-time checks that the built-in structures are Structures.
var (
	_ Structure = (*heedSet)(nil)
	_ Structure = (*mapSet)(nil)
	_ Structure = (*sortedSet)(nil)
	_ Structure = (*roaringSet)(nil)
	_ Structure = (*flatBitmap)(nil)
)
