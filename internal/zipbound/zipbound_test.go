package zipbound_test

import (
	"archive/zip"
	"bytes"
	"fmt"
	"io"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/internal/zipbound"
)

// TestNewReader: a ZIP file whose directory is over the bound is refused
// with ErrDirectory, one within it is read whole, and one that is no ZIP
// file is refused as archive/zip refuses it.
func TestNewReader(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	for i := range 5000 {
		f, err := w.Create(fmt.Sprintf("dir/%04d.txt", i))
		require.NoError(t, err)
		_, err = fmt.Fprintf(f, "file %d", i)
		require.NoError(t, err)
	}
	require.NoError(t, w.Close())
	data := bytes.NewReader(buf.Bytes())

	// 5,000 entries of 46 bytes and a 12-byte name: 290,000 bytes.
	_, err := zipbound.NewReader(data, data.Size(), 200_000)
	require.ErrorIs(t, err, zipbound.ErrDirectory)

	zr, err := zipbound.NewReader(data, data.Size(), 300_000)
	require.NoError(t, err)
	require.Len(t, zr.File, 5000)
	f, err := zr.Open("dir/4999.txt")
	require.NoError(t, err)
	body, err := io.ReadAll(f)
	require.NoError(t, err)
	require.Equal(t, "file 4999", string(body))

	_, err = zipbound.NewReader(bytes.NewReader([]byte("not a zip file")), 14, 64<<10)
	require.ErrorIs(t, err, zip.ErrFormat)
}
