// Package sheettest builds XLSX files for tests, as a spreadsheet saves what
// a person types: numbers as numbers, dates and times as date serials.
package sheettest

import (
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/xuri/excelize/v2"
)

// Workbook returns a one-sheet XLSX file whose rows are rows, from cell A1.
func Workbook(t testing.TB, rows [][]any) []byte {
	t.Helper()
	f := excelize.NewFile()
	defer f.Close() //nolint:errcheck // written to memory
	for i, r := range rows {
		cell, err := excelize.CoordinatesToCellName(1, i+1)
		require.NoError(t, err)
		require.NoError(t, f.SetSheetRow("Sheet1", cell, &r))
	}
	buf, err := f.WriteToBuffer()
	require.NoError(t, err)
	return buf.Bytes()
}
