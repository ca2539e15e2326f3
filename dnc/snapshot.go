package dnc

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"time"
)

// Snapshot file layout, version 1. Integers are little-endian.
//
//	magic      8 bytes  "HEEDDNC\x1a"
//	version    uint32   1
//	metaLen    uint32   length of the meta block
//	meta       list name, source (each a uvarint length and bytes), as-of
//	           and updated (int64 Unix nanoseconds, or minInt64 for none),
//	           count, version, seq (uint64)
//	areaCodes  uint32   number of area codes present, then each as uint16,
//	           increasing
//	sizes      per area code, 1,000 exchanges x 10 chunk sizes (bytes)
//	dataLen    uint64   the sum of the sizes
//	data       the chunks, in number order
//	crc        uint32   CRC-32C (Castagnoli) of every byte before it
//
// Reading it is one straight read into the set's data array plus a pass
// that checks every chunk, so a damaged file is reported, never trusted.
const (
	snapshotMagic   = "HEEDDNC\x1a"
	snapshotVersion = 1
	maxMetaLen      = 1 << 20
	noTime          = -1 << 63
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// WriteSnapshot writes set and the metadata of its list to w. The Count
// written is set.Len(), whatever meta says.
func WriteSnapshot(w io.Writer, meta Meta, set *Set) error {
	if set == nil {
		set = &Set{}
	}
	crc := crc32.New(castagnoli)
	bw := bufio.NewWriterSize(io.MultiWriter(w, crc), 256<<10)

	var m []byte
	m = appendString(m, meta.List.String())
	m = appendString(m, meta.Source)
	m = binary.LittleEndian.AppendUint64(m, uint64(timeNanos(meta.AsOf)))
	m = binary.LittleEndian.AppendUint64(m, uint64(timeNanos(meta.Updated)))
	m = binary.LittleEndian.AppendUint64(m, uint64(set.Len()))
	m = binary.LittleEndian.AppendUint64(m, meta.Version)
	m = binary.LittleEndian.AppendUint64(m, meta.Seq)

	head := []byte(snapshotMagic)
	head = binary.LittleEndian.AppendUint32(head, snapshotVersion)
	head = binary.LittleEndian.AppendUint32(head, uint32(len(m)))
	head = append(head, m...)
	head = binary.LittleEndian.AppendUint32(head, uint32(set.npas))
	for a, t := range set.npa {
		if t != nil {
			head = binary.LittleEndian.AppendUint16(head, uint16(a))
		}
	}
	if _, err := bw.Write(head); err != nil {
		return fmt.Errorf("write dnc snapshot header: %w", err)
	}
	dataLen := uint64(0)
	for _, t := range set.npa {
		if t == nil {
			continue
		}
		for x := range t {
			if _, err := bw.Write(t[x].sizes[:]); err != nil {
				return fmt.Errorf("write dnc snapshot directory: %w", err)
			}
			dataLen += uint64(t[x].bytes())
		}
	}
	if _, err := bw.Write(binary.LittleEndian.AppendUint64(nil, dataLen)); err != nil {
		return fmt.Errorf("write dnc snapshot: %w", err)
	}
	for _, t := range set.npa {
		if t == nil {
			continue
		}
		for x := range t {
			e := &t[x]
			if n := e.bytes(); n > 0 {
				if _, err := bw.Write(set.segs[e.seg][e.base : int(e.base)+n]); err != nil {
					return fmt.Errorf("write dnc snapshot data: %w", err)
				}
			}
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write dnc snapshot: %w", err)
	}
	if _, err := w.Write(binary.LittleEndian.AppendUint32(nil, crc.Sum32())); err != nil {
		return fmt.Errorf("write dnc snapshot checksum: %w", err)
	}
	return nil
}

// ReadSnapshot reads a snapshot written by WriteSnapshot. A file that is
// truncated, fails its checksum or holds malformed data gives an error
// wrapping ErrCorrupt; one of another format version, ErrVersion.
func ReadSnapshot(r io.Reader) (Meta, *Set, error) {
	sr := &snapshotReader{r: r, crc: crc32.New(castagnoli)}
	var meta Meta

	head := sr.read("header", len(snapshotMagic)+8)
	if sr.err != nil {
		return meta, nil, sr.err
	}
	if string(head[:len(snapshotMagic)]) != snapshotMagic {
		return meta, nil, fmt.Errorf("dnc snapshot: bad magic %q: %w", head[:len(snapshotMagic)], ErrCorrupt)
	}
	if v := binary.LittleEndian.Uint32(head[8:]); v != snapshotVersion {
		return meta, nil, fmt.Errorf("dnc snapshot: format version %d, want %d: %w", v, snapshotVersion, ErrVersion)
	}
	metaLen := binary.LittleEndian.Uint32(head[12:])
	if metaLen > maxMetaLen {
		return meta, nil, fmt.Errorf("dnc snapshot: meta block of %d bytes: %w", metaLen, ErrCorrupt)
	}
	mb := sr.read("meta", int(metaLen))
	npaBuf := sr.read("area codes", 4)
	if sr.err != nil {
		return meta, nil, sr.err
	}
	npas := int(binary.LittleEndian.Uint32(npaBuf))
	if npas > npaCount {
		return meta, nil, fmt.Errorf("dnc snapshot: %d area codes: %w", npas, ErrCorrupt)
	}
	codes := sr.read("area codes", 2*npas)
	sizes := sr.read("directory", npas*exchPerNPA*chunksPerExch)
	dl := sr.read("data length", 8)
	if sr.err != nil {
		return meta, nil, sr.err
	}
	sum := uint64(0)
	for _, b := range sizes {
		sum += uint64(b)
	}
	if dataLen := binary.LittleEndian.Uint64(dl); dataLen != sum {
		return meta, nil, fmt.Errorf("dnc snapshot: data length %d, directory says %d: %w", dataLen, sum, ErrCorrupt)
	}
	data := allocData(int(sum) + segPad)
	sr.readInto("data", data[:sum])
	if sr.err != nil {
		return meta, nil, sr.err
	}
	want := sr.crc.Sum32()
	tail := make([]byte, 4)
	if _, err := io.ReadFull(r, tail); err != nil {
		return meta, nil, sr.fail("checksum", err)
	}
	if got := binary.LittleEndian.Uint32(tail); got != want {
		return meta, nil, fmt.Errorf("dnc snapshot: checksum %08x, want %08x: %w", got, want, ErrCorrupt)
	}

	meta, count, err := decodeMeta(mb)
	if err != nil {
		return Meta{}, nil, err
	}
	s := &Set{segs: [][]byte{data}, live: int64(sum)}
	off := uint32(0)
	prev := -1
	for i := range npas {
		a := int(binary.LittleEndian.Uint16(codes[2*i:]))
		if a <= prev || a >= npaCount {
			return Meta{}, nil, fmt.Errorf("dnc snapshot: area code %d after %d: %w", a, prev, ErrCorrupt)
		}
		prev = a
		t := new(npaTable)
		used := false
		for x := range t {
			e := &t[x]
			copy(e.sizes[:], sizes[(i*exchPerNPA+x)*chunksPerExch:])
			e.base = off
			for k := range uint(chunksPerExch) {
				size := int(e.sizes[k])
				if size == 0 {
					continue
				}
				n, err := validateChunk(data[e.offset(k):], size)
				if err != nil {
					return Meta{}, nil, fmt.Errorf("dnc snapshot: block %03d%03d%d: %w", a, x, k, err)
				}
				s.n += n
			}
			n := uint32(e.bytes())
			if n == 0 {
				*e = exch{}
				continue
			}
			used = true
			off += n
		}
		if used {
			s.npa[a] = t
			s.npas++
		}
	}
	if uint64(s.n) != count {
		return Meta{}, nil, fmt.Errorf("dnc snapshot: holds %d numbers, header says %d: %w", s.n, count, ErrCorrupt)
	}
	s.packTables()
	meta.Count = s.n
	return meta, s, nil
}

func decodeMeta(b []byte) (Meta, uint64, error) {
	var meta Meta
	name, b, ok := readString(b)
	source, b, ok2 := readString(b)
	if !ok || !ok2 || len(b) != 5*8 {
		return meta, 0, fmt.Errorf("dnc snapshot: malformed meta block: %w", ErrCorrupt)
	}
	id, err := ParseList(name)
	if err != nil {
		return meta, 0, fmt.Errorf("dnc snapshot: %w: %w", ErrCorrupt, err)
	}
	meta.List = id
	meta.Source = source
	meta.AsOf = nanosTime(int64(binary.LittleEndian.Uint64(b)))
	meta.Updated = nanosTime(int64(binary.LittleEndian.Uint64(b[8:])))
	count := binary.LittleEndian.Uint64(b[16:])
	meta.Version = binary.LittleEndian.Uint64(b[24:])
	meta.Seq = binary.LittleEndian.Uint64(b[32:])
	return meta, count, nil
}

// snapshotReader reads sections, feeding the checksum, and keeps the first
// error.
type snapshotReader struct {
	r   io.Reader
	crc hash.Hash32
	err error
}

func (sr *snapshotReader) read(section string, n int) []byte {
	b := make([]byte, n)
	sr.readInto(section, b)
	return b
}

func (sr *snapshotReader) readInto(section string, b []byte) {
	if sr.err != nil {
		return
	}
	if _, err := io.ReadFull(sr.r, b); err != nil {
		sr.err = sr.fail(section, err)
		return
	}
	sr.crc.Write(b)
}

func (sr *snapshotReader) fail(section string, err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("dnc snapshot: truncated in the %s: %w", section, ErrCorrupt)
	}
	return fmt.Errorf("dnc snapshot: read %s: %w", section, err)
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func readString(b []byte) (string, []byte, bool) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)-k) {
		return "", nil, false
	}
	return string(b[k : k+int(n)]), b[k+int(n):], true
}

func timeNanos(t time.Time) int64 {
	if t.IsZero() {
		return noTime
	}
	return t.UnixNano()
}

func nanosTime(n int64) time.Time {
	if n == noTime {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}
