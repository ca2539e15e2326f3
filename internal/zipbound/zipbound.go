// Package zipbound opens ZIP files that may be made to cost more to open
// than they are worth. archive/zip holds every entry of a ZIP file's
// directory in memory, some five times the directory's size, before it
// says whether the file is one it can read; NewReader reads at most a
// stated number of bytes of the directory.
package zipbound

import (
	"archive/zip"
	"errors"
	"fmt"
	"io"
)

// ErrDirectory reports a ZIP file whose directory is larger than the bound
// NewReader was given.
var ErrDirectory = errors.New("zip directory larger than its bound")

// endRoom is what zip.NewReader reads to find the directory: the end of
// the file, up to 65 KiB (the directory's end record and its comment), and
// the ZIP64 records.
const endRoom = 80 << 10

// NewReader is zip.NewReader, reading at most maxDirectory bytes of r's
// ZIP directory (besides the end of the file that says where it is): a
// larger directory gives an error wrapping ErrDirectory. The reader it
// returns reads r unbounded.
func NewReader(r io.ReaderAt, size, maxDirectory int64) (*zip.Reader, error) {
	g := &guard{r: r, left: maxDirectory + endRoom}
	zr, err := zip.NewReader(g, size)
	g.left = -1
	if errors.Is(err, ErrDirectory) {
		return nil, fmt.Errorf("zip directory over %d bytes: %w", maxDirectory, ErrDirectory)
	}
	if err != nil {
		return nil, fmt.Errorf("open zip file: %w", err)
	}
	return zr, nil
}

// guard reads r at offsets, and while left is not negative at most left
// more bytes, after which it gives ErrDirectory.
type guard struct {
	r    io.ReaderAt
	left int64
}

func (g *guard) ReadAt(p []byte, off int64) (int, error) {
	if g.left >= 0 {
		if int64(len(p)) > g.left {
			return 0, ErrDirectory
		}
		g.left -= int64(len(p))
	}
	return g.r.ReadAt(p, off)
}
