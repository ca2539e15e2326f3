package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestListContacts: a list's page shows its contacts by name with each
// one's last call, a search by name, person, reference or phone digits
// (with LIKE's characters matched as written), pages, and the same through
// the API; roles, unknown lists and pages out of range are refused.
func TestListContacts(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	para := b.browser(t)
	code, _ := para.signin("para@firm.test", password)
	require.Equal(t, http.StatusSeeOther, code)
	code, body := para.upload("/lists", para.csrf("/lists"), "Docket", "c.csv", []byte(`name,phone,person_ref,external_ref,place
Cid 100%,8605550103,,,
Ann Lee,8605550101,D-7,M-1,Hartford Superior Court
Bob Stone,2035550102,,CASE_9,
`))
	require.Equal(t, http.StatusSeeOther, code, body)
	var listID, annID, campaignID int64
	require.NoError(t, b.db.QueryRow(ctx, `SELECT id FROM contact_lists WHERE name = 'Docket'`).Scan(&listID))
	require.NoError(t, b.db.QueryRow(ctx, `SELECT id FROM contacts WHERE phone = '+18605550101'`).Scan(&annID))
	require.NoError(t, b.db.QueryRow(ctx, `
		INSERT INTO campaigns (name, purpose, list_id, message_text, caller_id) VALUES ('Hearings', 'informational', $1, 'Hello.', '+18605550100') RETURNING id`, listID).Scan(&campaignID))
	for i, outcome := range []string{"no_answer", "answered"} {
		_, err := b.db.Exec(ctx, `
			INSERT INTO attempts (campaign_id, contact_id, attempt_no, phone, caller_id, decision, reasons, pack, decision_input, status, outcome)
			VALUES ($1, $2, $3, '+18605550101', '+18605550100', 'allow', '{}', 'p', '{}', 'ended', $4)`, campaignID, annID, i+1, outcome)
		require.NoError(t, err)
	}

	_, body, _ = para.get("/lists")
	require.Contains(t, body, fmt.Sprintf(`<a href="/lists/%d">Docket</a>`, listID))
	code, body, _ = para.get(fmt.Sprintf("/lists/%d", listID))
	require.Equal(t, http.StatusOK, code, body)
	require.Contains(t, body, "3 contacts.")
	ann, bob, cid := strings.Index(body, "Ann Lee"), strings.Index(body, "Bob Stone"), strings.Index(body, "Cid 100%")
	require.True(t, ann > 0 && ann < bob && bob < cid, "by name")
	require.Contains(t, body, "Hartford Superior Court")
	require.Contains(t, body, fmt.Sprintf(`<a href="/campaigns/%d">Hearings</a>: allow, answered`, campaignID), "Ann's last attempt")
	require.Equal(t, 2, strings.Count(body, `<span class="muted">none yet</span>`), "Bob and Cid: no attempt yet")
	require.Contains(t, body, "<th>Last attempt</th>", "an attempt refused or deferred is no call")

	search := func(q string) string {
		t.Helper()
		code, body, _ := para.get(fmt.Sprintf("/lists/%d?q=%s", listID, q))
		require.Equal(t, http.StatusOK, code, body)
		return body
	}
	for q, want := range map[string]string{"ann": "Ann Lee", "d-7": "Ann Lee", "case_9": "Bob Stone", "(203)+555": "Bob Stone", "100%25": "Cid 100%"} {
		body := search(q)
		require.Contains(t, body, "1 match", q)
		require.Contains(t, body, want, q)
	}
	body = search("_")
	require.Contains(t, body, "1 match", "an underscore is matched as written, not as any character")
	body = search("zed")
	require.Contains(t, body, "0 match")
	require.Contains(t, body, "No contact matches.")
	require.Contains(t, search("%3Cb%3E"), "&ldquo;&lt;b&gt;&rdquo;", "the search is escaped")

	// Pages.
	code, body, _ = para.get(fmt.Sprintf("/lists/%d?per_page=2", listID))
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, "Page 1 of 2")
	next := fmt.Sprintf("/lists/%d?q=&page=2&per_page=2", listID)
	require.Contains(t, body, `<a id="next" href="`+strings.ReplaceAll(next, "&", "&amp;")+`">Next</a>`)
	require.NotContains(t, body, "Cid 100%")
	code, body, _ = para.get(next)
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, "Cid 100%")
	require.Contains(t, body, `id="prev"`)
	for _, path := range []string{"?page=3&per_page=2", "?page=0", "?page=x", "?per_page=501"} {
		code, _, _ = para.get(fmt.Sprintf("/lists/%d%s", listID, path))
		require.Equal(t, http.StatusBadRequest, code, path)
	}
	for _, path := range []string{"/lists/999999", "/lists/x"} {
		code, _, _ = para.get(path)
		require.Equal(t, http.StatusNotFound, code, path)
	}

	atty := b.browser(t)
	code, _ = atty.signin("atty@firm.test", password)
	require.Equal(t, http.StatusSeeOther, code)
	code, _, _ = atty.get(fmt.Sprintf("/lists/%d", listID))
	require.Equal(t, http.StatusForbidden, code, "attorneys do not manage lists")

	// Bob says on the phone not to be called: his number goes on the
	// internal do-not-call list, naming the list, him, the paralegal and
	// the note, and the page comes back where it was.
	var bobID int64
	require.NoError(t, b.db.QueryRow(ctx, `SELECT id FROM contacts WHERE phone = '+12035550102'`).Scan(&bobID))
	optOut := func(br *browser, list, contact int64, extra url.Values) (int, http.Header) {
		t.Helper()
		form := url.Values{"_csrf": {para.csrf("/lists")}, "contact": {fmt.Sprint(contact)}}
		for k, v := range extra {
			form[k] = v
		}
		code, _, h := br.post(fmt.Sprintf("/lists/%d/optout", list), form)
		return code, h
	}
	code, h := optOut(para, listID, bobID, url.Values{"note": {"said so on the phone"}, "q": {"bob"}, "page": {"1"}})
	require.Equal(t, http.StatusSeeOther, code)
	require.Equal(t, fmt.Sprintf("/lists/%d?page=1&q=bob", listID), h.Get("Location"))
	var source, revSource string
	require.NoError(t, b.db.QueryRow(ctx, `SELECT source FROM dnc_internal WHERE phone = '+12035550102' AND method = 'staff' AND added_by = (SELECT id FROM users WHERE email = 'para@firm.test')`).Scan(&source))
	require.Equal(t, fmt.Sprintf(`contact %d "Bob Stone" on list %d "Docket", by para@firm.test: said so on the phone`, bobID, listID), source)
	require.NoError(t, b.db.QueryRow(ctx, `SELECT source FROM revocations WHERE phone = '+12035550102' AND method = 'staff' AND recorded_by = (SELECT id FROM users WHERE email = 'para@firm.test')`).Scan(&revSource))
	require.Equal(t, source, revSource, "a revocation of every consent, as a key press records")
	_, body, _ = para.get(h.Get("Location"))
	require.Contains(t, body, "Bob Stone (&#43;12035550102) is on the do-not-call list: no campaign will call the number again.")
	require.Contains(t, body, `<span class="optout">since `)
	require.NotContains(t, body, fmt.Sprintf(`id="optout-%d"`, bobID))
	code, _ = optOut(para, listID, bobID, nil)
	require.Equal(t, http.StatusSeeOther, code)
	_, body, _ = para.get(fmt.Sprintf("/lists/%d", listID))
	require.Contains(t, body, "Bob Stone (&#43;12035550102) was already on the do-not-call list; the request is recorded as a revocation of any consent.")
	require.Equal(t, 1, count(t, b.db, `SELECT count(*) FROM dnc_internal WHERE phone = '+12035550102'`))
	require.Equal(t, 2, count(t, b.db, `SELECT count(*) FROM revocations WHERE phone = '+12035550102'`))
	code, _ = para.upload("/lists", para.csrf("/lists"), "Other", "o.csv", []byte("name,phone\nGus,8605550177\n"))
	require.Equal(t, http.StatusSeeOther, code)
	var otherID int64
	require.NoError(t, b.db.QueryRow(ctx, `SELECT id FROM contact_lists WHERE name = 'Other'`).Scan(&otherID))
	code, _ = optOut(para, otherID, annID, nil)
	require.Equal(t, http.StatusNotFound, code, "Ann is not a contact of that list")
	code, _ = optOut(para, listID, bobID, url.Values{"note": {"line one\x00\x1b[31m red"}})
	require.Equal(t, http.StatusSeeOther, code, "control characters are cleaned, not refused")
	require.Equal(t, 1, count(t, b.db, `SELECT count(*) FROM revocations WHERE source LIKE '%: line one [31m red'`))
	code, _ = optOut(para, listID, annID, url.Values{"note": {strings.Repeat("x", 201)}})
	require.Equal(t, http.StatusUnprocessableEntity, code)
	code, _, _ = atty.post(fmt.Sprintf("/lists/%d/optout", listID), url.Values{"_csrf": {atty.csrf("/campaigns")}, "contact": {fmt.Sprint(annID)}})
	require.Equal(t, http.StatusForbidden, code)
	code, _, _ = para.post(fmt.Sprintf("/lists/%d/optout", listID), url.Values{"contact": {fmt.Sprint(annID)}})
	require.Equal(t, http.StatusForbidden, code, "no CSRF token")
	require.Zero(t, count(t, b.db, `SELECT count(*) FROM dnc_internal WHERE phone = '+18605550101'`))

	// The API.
	code, raw := b.api(t, b.token(t, "para@firm.test"), "GET", fmt.Sprintf("/api/v1/lists/%d/contacts?q=860", listID), "")
	require.Equal(t, http.StatusOK, code, raw)
	var page struct {
		List     struct{ Name string }
		Matching int
		Pages    int
		Contacts []struct {
			Name, Phone string
			PersonRef   string `json:"person_ref"`
			Last        *struct {
				Campaign, Outcome string
			} `json:"last_attempt"`
		}
	}
	require.NoError(t, json.Unmarshal([]byte(raw), &page))
	require.Equal(t, "Docket", page.List.Name)
	require.Equal(t, 2, page.Matching, "Ann's and Cid's numbers hold 860")
	require.Equal(t, 1, page.Pages)
	require.Len(t, page.Contacts, 2)
	require.Equal(t, "+18605550101", page.Contacts[0].Phone)
	require.NotNil(t, page.Contacts[0].Last)
	require.Equal(t, "answered", page.Contacts[0].Last.Outcome)
	require.Nil(t, page.Contacts[1].Last)
}
