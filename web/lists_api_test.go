package web_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/internal/sheet/sheettest"
)

// TestAPIImportContacts imports contacts through the API, as a case
// management system would: CSV and XLSX bodies, a mapping, a dry run, the
// report of rejected rows, the body limit and the roles.
func TestAPIImportContacts(t *testing.T) {
	t.Parallel()
	b := setup(t)
	para, atty := b.token(t, "para@firm.test"), b.token(t, "atty@firm.test")
	post := func(tok, query, contentType string, body []byte) (int, map[string]any) {
		t.Helper()
		req, err := http.NewRequest("POST", b.srv.URL+"/api/v1/lists/import?"+query, bytes.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", contentType)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		raw, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		var out map[string]any
		require.NoError(t, json.Unmarshal(raw, &out), "%s", raw)
		return resp.StatusCode, out
	}
	contacts := func() int { return count(t, b.db, `SELECT count(*) FROM contacts`) }
	book := sheettest.Workbook(t, [][]any{{"Client", "Cell", "ZIP"}, {"Ann", 8605550101, 6103}, {"Bob", 2035550102, ""}})
	const xlsxType = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

	code, out := post(atty, "list=a", "text/csv", []byte("name,phone\nAnn,8605550101\n"))
	require.Equal(t, http.StatusForbidden, code, "attorneys do not upload lists: %v", out)

	code, out = post(para, "list=court&map=Client%3Dname,Cell%3Dphone&dry_run=1", xlsxType, book)
	require.Equal(t, http.StatusOK, code, "%v", out)
	require.Equal(t, true, out["dry_run"])
	require.EqualValues(t, 2, out["valid"])
	require.EqualValues(t, 0, out["imported"])
	require.Zero(t, contacts(), "a dry run writes nothing")

	code, out = post(para, "list=court", xlsxType, book)
	require.Equal(t, http.StatusUnprocessableEntity, code, "without the mapping: %v", out)
	require.Contains(t, out["report"].(map[string]any)["rejected"].([]any)[0].(map[string]any)["reason"], `missing required column "name"`)

	code, out = post(para, "list=court&map=Client%3Dname,Cell%3Dphone", "application/octet-stream", book)
	require.Equal(t, http.StatusUnprocessableEntity, code, "an XLSX body read as CSV: %v", out)
	code, out = post(para, "list=court&format=xlsx&map=Client%3Dname,Cell%3Dphone", "application/octet-stream", book)
	require.Equal(t, http.StatusCreated, code, "%v", out)
	require.EqualValues(t, 2, out["imported"])
	require.Equal(t, 1, count(t, b.db, `SELECT count(*) FROM contacts WHERE phone = '+18605550101' AND zip = '06103'`))

	code, out = post(para, "list=court", "text/csv", []byte("name,phone\nCid,8605550103\n,8605550104\nAnn,8605550101\n"))
	require.Equal(t, http.StatusUnprocessableEntity, code)
	require.Equal(t, []any{
		map[string]any{"line": 3.0, "reason": "name is empty"},
		map[string]any{"line": 4.0, "reason": `phone +18605550101 is already on list "court"`},
	}, out["report"].(map[string]any)["rejected"])
	require.Equal(t, 2, contacts(), "a rejected file imports nothing")

	code, out = post(para, "list=court&skip_existing=1", "text/csv", []byte("name,phone\nCid,8605550103\nAnn,8605550101\n"))
	require.Equal(t, http.StatusCreated, code, "%v", out)
	require.EqualValues(t, 1, out["imported"])
	require.Len(t, out["skipped"], 1)
	require.Equal(t, 3, contacts())

	code, out = post(para, "list=court&update_existing=1", "text/csv", []byte("name,phone\nCid Smith,8605550103\nAnn,8605550101\n"))
	require.Equal(t, http.StatusCreated, code, "%v", out)
	require.EqualValues(t, 0, out["imported"])
	require.Equal(t, []any{map[string]any{"line": 2.0, "reason": "changes name"}}, out["updated"])
	require.EqualValues(t, 1, out["unchanged"])
	require.Equal(t, 1, count(t, b.db, `SELECT count(*) FROM contacts WHERE phone = '+18605550103' AND name = 'Cid Smith'`))
	require.Equal(t, 3, contacts())

	for _, q := range []string{"", "list=x&format=pdf", "list=x&map=Client", "list=x&dry_run=maybe", "list=x&skip_existing=perhaps",
		"list=x&update_existing=perhaps", "list=x&skip_existing=1&update_existing=1"} {
		code, out = post(para, q, "text/csv", []byte("name,phone\nCid,8605550103\n"))
		require.Equal(t, http.StatusBadRequest, code, "%q: %v", q, out)
	}
	code, _ = post(para, "list=big", "text/csv", []byte("name,phone\n"+strings.Repeat("Ann,8605550101\n", 70<<10/15)))
	require.Equal(t, http.StatusRequestEntityTooLarge, code)
	require.Equal(t, 3, contacts())
}
