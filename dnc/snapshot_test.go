package dnc_test

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/dnc"
)

func snapshotBytes(t testing.TB, meta dnc.Meta, s *dnc.Set) []byte {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, dnc.WriteSnapshot(&buf, meta, s))
	return buf.Bytes()
}

func TestSnapshotRoundTrip(t *testing.T) {
	t.Parallel()
	for _, ds := range datasets() {
		t.Run(ds.name, func(t *testing.T) {
			t.Parallel()
			rng := rand.New(rand.NewPCG(11, 12))
			ns := ds.gen(rng)
			s := build(t, ns)
			// A set made by Apply has several segments; the file has one.
			s, _, err := s.Apply([]uint64{8605550199, 2125550000}, ns[:len(ns)/3])
			require.NoError(t, err)
			tx, err := dnc.StateList("tx")
			require.NoError(t, err)
			meta := dnc.Meta{
				List: tx, Source: "tx-2025-06.csv",
				AsOf:    time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC),
				Updated: time.Date(2025, 6, 2, 3, 4, 5, 6, time.UTC),
				Count:   -1, Version: 7, Seq: 42,
			}
			got, loaded, err := dnc.ReadSnapshot(bytes.NewReader(snapshotBytes(t, meta, s)))
			require.NoError(t, err)
			meta.Count = s.Len()
			require.Equal(t, meta, got)
			require.Equal(t, s.Len(), loaded.Len())
			require.Equal(t, slices.AppendSeq([]uint64{}, s.All()), slices.AppendSeq([]uint64{}, loaded.All()))
			requireSame(t, newModel(slices.Collect(s.All())), loaded, probes(rng, slices.Collect(s.All())))
			require.Equal(t, 1, loaded.Stats().Segments)
		})
	}
}

func TestSnapshotEmptyAndZeroMeta(t *testing.T) {
	t.Parallel()
	meta, s, err := dnc.ReadSnapshot(bytes.NewReader(snapshotBytes(t, dnc.Meta{}, nil)))
	require.NoError(t, err)
	require.Equal(t, dnc.Meta{List: dnc.National}, meta)
	require.Zero(t, s.Len())
	require.True(t, meta.AsOf.IsZero())
}

func TestSnapshotDetectsCorruption(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(13, 14))
	var ns []uint64
	for range 3000 {
		ns = append(ns, 8600000000+rng.Uint64N(20_000_000))
	}
	for r := range uint64(1000) {
		ns = append(ns, 8605550000+r) // a full block
	}
	good := snapshotBytes(t, dnc.Meta{List: dnc.Internal, Source: "test"}, build(t, ns))

	t.Run("truncated", func(t *testing.T) {
		t.Parallel()
		for _, n := range []int{0, 1, 8, 15, 16, 30, len(good) / 2, len(good) - 5, len(good) - 1} {
			_, _, err := dnc.ReadSnapshot(bytes.NewReader(good[:n]))
			require.ErrorIs(t, err, dnc.ErrCorrupt, "truncated to %d bytes", n)
			require.ErrorContains(t, err, "truncated")
		}
	})
	t.Run("flipped bytes", func(t *testing.T) {
		t.Parallel()
		for i := range good {
			if i%7 != 0 && i > 64 && i < len(good)-64 {
				continue // every byte of the ends, every seventh in between
			}
			bad := slices.Clone(good)
			bad[i] ^= 1 << (i % 8)
			_, _, err := dnc.ReadSnapshot(bytes.NewReader(bad))
			require.Error(t, err, "byte %d flipped", i)
			if i >= 8 && i < 12 {
				require.ErrorIs(t, err, dnc.ErrVersion)
			} else {
				require.ErrorIs(t, err, dnc.ErrCorrupt, "byte %d flipped", i)
			}
		}
	})
	t.Run("not a snapshot", func(t *testing.T) {
		t.Parallel()
		_, _, err := dnc.ReadSnapshot(bytes.NewReader([]byte("8605550101\n8605550102\n")))
		require.ErrorIs(t, err, dnc.ErrCorrupt)
		require.ErrorContains(t, err, "magic")
	})
	t.Run("forged chunk with a valid checksum", func(t *testing.T) {
		t.Parallel()
		// Change a byte of the last chunk and fix the checksum: the
		// structure check must still catch it.
		bad := slices.Clone(good)
		bad[len(bad)-6] ^= 0xff
		binary.LittleEndian.PutUint32(bad[len(bad)-4:], crc32.Checksum(bad[:len(bad)-4], crc32.MakeTable(crc32.Castagnoli)))
		_, _, err := dnc.ReadSnapshot(bytes.NewReader(bad))
		require.ErrorIs(t, err, dnc.ErrCorrupt)
		require.ErrorContains(t, err, "block")
	})
	t.Run("trailing bytes are not read", func(t *testing.T) {
		t.Parallel()
		r := bytes.NewReader(append(slices.Clone(good), "next"...))
		_, s, err := dnc.ReadSnapshot(r)
		require.NoError(t, err)
		require.Equal(t, 4, r.Len())
		require.Equal(t, len(newModel(ns)), s.Len())
	})
}

func TestSnapshotUnknownList(t *testing.T) {
	t.Parallel()
	good := snapshotBytes(t, dnc.Meta{List: dnc.Litigator}, nil)
	// The list name is the first string of the meta block, at byte 16
	// after its one-byte length: "litigator" -> "xitigator" is unknown.
	bad := slices.Clone(good)
	i := bytes.Index(bad, []byte("litigator"))
	require.Equal(t, 17, i)
	bad[i] = 'x'
	binary.LittleEndian.PutUint32(bad[len(bad)-4:], crc32.Checksum(bad[:len(bad)-4], crc32.MakeTable(crc32.Castagnoli)))
	_, _, err := dnc.ReadSnapshot(bytes.NewReader(bad))
	require.ErrorIs(t, err, dnc.ErrCorrupt)
	require.ErrorIs(t, err, dnc.ErrUnknownList)
}
