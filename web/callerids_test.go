package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestCallerIDsPage: admins declare and retire the firm's caller IDs on
// /admin/callerids (paralegals and attorneys get 403, a form without its
// CSRF token 403); a number that is not the firm's to send, or one
// without the attestation, comes back beside the form with nothing
// stored; a retirement pauses the running campaigns that send it and
// says which. The new-campaign form offers the current ones, and refuses
// any other number.
func TestCallerIDsPage(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	admin, para, atty := b.signedIn(t, "admin@firm.test"), b.signedIn(t, "para@firm.test"), b.signedIn(t, "atty@firm.test")
	tok := admin.csrf("/admin/callerids")
	rows := func() int { return count(t, b.db, `SELECT count(*) FROM caller_ids`) }
	before := rows()

	t.Run("RolesAndCSRF", func(t *testing.T) {
		for _, br := range []*browser{para, atty} {
			code, _, _ := br.get("/admin/callerids")
			require.Equal(t, http.StatusForbidden, code)
			other := br.csrf("/campaigns")
			code, _, _ = br.post("/admin/callerids", url.Values{"_csrf": {other}, "number": {"203-555-0101"}, "label": {"x"}, "attest": {"1"}})
			require.Equal(t, http.StatusForbidden, code)
			code, _, _ = br.post("/admin/callerids/1/retire", url.Values{"_csrf": {other}})
			require.Equal(t, http.StatusForbidden, code)
			_, body, _ := br.get("/campaigns")
			require.NotContains(t, body, `href="/admin/callerids"`, "no link for them")
		}
		code, body, _ := admin.post("/admin/callerids", url.Values{"number": {"203-555-0101"}, "label": {"x"}, "attest": {"1"}})
		require.Equal(t, http.StatusForbidden, code)
		require.Contains(t, body, "CSRF")
		require.Equal(t, before, rows())
	})

	t.Run("BadInputKeepsTheForm", func(t *testing.T) {
		code, body, _ := admin.post("/admin/callerids", url.Values{"_csrf": {tok}, "number": {"+1 876 555 0100"}, "label": {"Kingston office"}})
		require.Equal(t, http.StatusUnprocessableEntity, code)
		body = html.UnescapeString(body)
		require.Contains(t, body, "Nothing was declared: correct the fields marked below.")
		require.Contains(t, body, `<p class="field-error" id="number-error">+1 876-555-0100 is a number of Jamaica (area code 876), not of the United States`)
		require.Contains(t, body, `<p class="field-error" id="attest-error">confirm that the number is the firm's own`)
		require.Contains(t, body, `value="Kingston office"`, "the form comes back filled in")
		require.Equal(t, before, rows())
	})

	var campaignID int64
	t.Run("DeclareOfferAndRetire", func(t *testing.T) {
		code, body, _ := admin.get("/campaigns")
		require.Equal(t, http.StatusOK, code)
		require.Contains(t, body, `<a href="/admin/callerids">Caller IDs</a>`, "the admin nav links to it")

		code, _, h := admin.post("/admin/callerids", url.Values{"_csrf": {tok}, "number": {"(203) 555-0101"}, "label": {"Hartford office"}, "attest": {"1"}})
		require.Equal(t, http.StatusSeeOther, code)
		require.Equal(t, "/admin/callerids", h.Get("Location"))
		code, body, _ = admin.get("/admin/callerids")
		require.Equal(t, http.StatusOK, code)
		body = html.UnescapeString(body)
		require.Contains(t, body, "Declared +1 203-555-0101 (Hartford office) one of the firm's caller IDs.")
		require.Regexp(t, `<tr id="callerid-\d+" data-phone="\+12035550101">\s*<td>\+1 203-555-0101</td>\s*<td>Hartford office</td>`, body)
		require.Equal(t, 1, count(t, b.db, `SELECT count(*) FROM caller_ids WHERE phone = '+12035550101' AND retired_at IS NULL
			AND added_by = (SELECT id FROM users WHERE email = 'admin@firm.test') AND attestation LIKE 'This number is the firm''s own%'`))
		require.Equal(t, 1, count(t, b.db, `SELECT count(*) FROM audit_log WHERE tbl = 'caller_ids' AND details->>'phone' = '+12035550101'`))

		// The new-campaign form offers the firm's caller IDs, and nothing else.
		code, body, _ = para.get("/campaigns/new")
		require.Equal(t, http.StatusOK, code)
		body = html.UnescapeString(body)
		require.Regexp(t, `<select id="caller_id" name="caller_id" required>\s*<option value="" selected>Choose one</option>\s*`+
			`<option value="\+12035550101">\+1 203-555-0101 \(Hartford office\)</option><option value="\+18605550100">\+1 860-555-0100 \(Main office\)</option>\s*</select>`, body)
		require.Contains(t, body, "an admin declares them on the Caller IDs page")

		// A number that is not the firm's: refused beside the field.
		var listID int64
		require.NoError(t, b.db.QueryRow(ctx, `INSERT INTO contact_lists (name) VALUES ('docket') RETURNING id`).Scan(&listID))
		_, err := b.db.Exec(ctx, `INSERT INTO contacts (list_id, name, phone) VALUES ($1, 'Ann', '+18605550101')`, listID)
		require.NoError(t, err)
		ptok := para.csrf("/campaigns/new")
		form := map[string]string{"_csrf": ptok, "name": "Hearings", "purpose": "informational", "list_id": fmt.Sprint(listID),
			"message": "Your hearing is on Monday.", "caller_id": "+18605550101"}
		// As a browser sends the form: multipart, with no recording.
		code, body = para.multipart("/campaigns", form, "audio", "", nil)
		require.Equal(t, http.StatusUnprocessableEntity, code)
		body = html.UnescapeString(body)
		require.Contains(t, body, `<option value="+18605550101" selected>+18605550101: not one of the firm's caller IDs</option>`)
		require.Contains(t, body, `<div class="field-error" id="caller-id-error">+1 860-555-0101 is not one of the firm's caller IDs`)
		require.Zero(t, count(t, b.db, `SELECT count(*) FROM campaigns`))

		form["caller_id"] = "+12035550101"
		code, body = para.multipart("/campaigns", form, "audio", "", nil)
		require.Equal(t, http.StatusSeeOther, code, body)
		require.NoError(t, b.db.QueryRow(ctx, `SELECT id FROM campaigns`).Scan(&campaignID))
		code, _, _ = para.post(fmt.Sprintf("/campaigns/%d/start", campaignID), url.Values{"_csrf": {ptok}})
		require.Equal(t, http.StatusSeeOther, code)
		require.Equal(t, 1, count(t, b.db, `SELECT count(*) FROM campaigns WHERE status = 'running'`))

		var id int64
		require.NoError(t, b.db.QueryRow(ctx, `SELECT id FROM caller_ids WHERE phone = '+12035550101'`).Scan(&id))
		_, body, _ = admin.get("/admin/callerids")
		require.Contains(t, body, fmt.Sprintf(`<a href="/campaigns/%d">Hearings</a> (running)`, campaignID))
		code, _, _ = admin.post(fmt.Sprintf("/admin/callerids/%d/retire", id), url.Values{"_csrf": {tok}})
		require.Equal(t, http.StatusSeeOther, code)
		_, body, _ = admin.get("/admin/callerids")
		body = html.UnescapeString(body)
		require.Contains(t, body, `Retired +1 203-555-0101 (Hartford office): campaigns can no longer send it. Paused the 1 running campaign(s) that sent it: "Hearings".`)
		require.Contains(t, body, `<table id="retired-callerids">`)
		require.Equal(t, 1, count(t, b.db, `SELECT count(*) FROM campaigns WHERE status = 'paused'`))

		code, body, _ = admin.post(fmt.Sprintf("/admin/callerids/%d/retire", id), url.Values{"_csrf": {tok}})
		require.Equal(t, http.StatusConflict, code)
		require.Contains(t, body, fmt.Sprintf("Caller ID %d was retired already.", id))

		// Its page's Start now names rule F11.
		code, body, _ = para.post(fmt.Sprintf("/campaigns/%d/start", campaignID), url.Values{"_csrf": {ptok}})
		require.Equal(t, http.StatusUnprocessableEntity, code)
		body = html.UnescapeString(body)
		require.Contains(t, body, "callerid.retired: rule F11 (caller ID)")
		require.Contains(t, body, "the campaign's caller ID +1 203-555-0101 is no longer one of the firm's caller IDs")
	})
}

// TestCallerIDsAPI: GET /api/v1/callerids lists the firm's caller IDs for
// admins and paralegals (who create campaigns); only admins declare and
// retire them, with 422 and the fields for a bad declaration, 409 for a
// second retirement; a retirement answers the campaigns it paused.
func TestCallerIDsAPI(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	adminTok, paraTok, attyTok := b.token(t, "admin@firm.test"), b.token(t, "para@firm.test"), b.token(t, "atty@firm.test")

	code, body := b.api(t, attyTok, "GET", "/api/v1/callerids", "")
	require.Equal(t, http.StatusForbidden, code, body)
	code, body = b.api(t, paraTok, "POST", "/api/v1/callerids", `{"number":"203-555-0101","label":"Hartford office","attest":true}`)
	require.Equal(t, http.StatusForbidden, code, body)

	code, body = b.api(t, adminTok, "POST", "/api/v1/callerids", `{"number":"+1 876 555 0100","label":"","attest":false}`)
	require.Equal(t, http.StatusUnprocessableEntity, code, body)
	var bad struct {
		Fields map[string]string `json:"fields"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &bad))
	require.Contains(t, bad.Fields["number"], "Jamaica")
	require.Contains(t, bad.Fields["label"], "a label is required")
	require.Contains(t, bad.Fields["attest"], "confirm that the number is the firm's own")
	code, _ = b.api(t, adminTok, "POST", "/api/v1/callerids", `{not json`)
	require.Equal(t, http.StatusBadRequest, code)

	code, body = b.api(t, adminTok, "POST", "/api/v1/callerids", `{"number":"203-555-0101","label":"Hartford office","attest":true}`)
	require.Equal(t, http.StatusCreated, code, body)
	var k struct {
		ID           int64  `json:"id"`
		Phone        string `json:"phone"`
		AddedByEmail string `json:"added_by_email"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &k))
	require.Equal(t, "+12035550101", k.Phone)
	require.Equal(t, "admin@firm.test", k.AddedByEmail)

	code, body = b.api(t, paraTok, "GET", "/api/v1/callerids", "")
	require.Equal(t, http.StatusOK, code, body)
	var list struct {
		CallerIDs []struct {
			Phone string `json:"phone"`
		} `json:"caller_ids"`
		Attestation string `json:"attestation"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &list))
	require.Len(t, list.CallerIDs, 2)
	require.Contains(t, list.Attestation, "rule F11")

	// A campaign that sends it runs; the retirement pauses it.
	var listID int64
	require.NoError(t, b.db.QueryRow(ctx, `INSERT INTO contact_lists (name) VALUES ('api') RETURNING id`).Scan(&listID))
	_, err := b.db.Exec(ctx, `INSERT INTO contacts (list_id, name, phone) VALUES ($1, 'Ann', '+18605550101')`, listID)
	require.NoError(t, err)
	code, body = b.api(t, paraTok, "POST", "/api/v1/campaigns", fmt.Sprintf(
		`{"name":"Hearings","purpose":"informational","list_id":%d,"message":"Hello","caller_id":"+18765550100"}`, listID))
	require.Equal(t, http.StatusUnprocessableEntity, code, body)
	require.Contains(t, body, "is not one of the firm's caller IDs")
	code, body = b.api(t, paraTok, "POST", "/api/v1/campaigns", fmt.Sprintf(
		`{"name":"Hearings","purpose":"informational","list_id":%d,"message":"Hello","caller_id":"203-555-0101"}`, listID))
	require.Equal(t, http.StatusCreated, code, body)
	var cp struct {
		ID int64 `json:"id"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &cp))
	code, body = b.api(t, paraTok, "POST", fmt.Sprintf("/api/v1/campaigns/%d/start", cp.ID), "")
	require.Equal(t, http.StatusOK, code, body)

	code, body = b.api(t, paraTok, "POST", fmt.Sprintf("/api/v1/callerids/%d/retire", k.ID), "")
	require.Equal(t, http.StatusForbidden, code, body)
	code, body = b.api(t, adminTok, "POST", fmt.Sprintf("/api/v1/callerids/%d/retire", k.ID), "")
	require.Equal(t, http.StatusOK, code, body)
	var r struct {
		CallerID struct {
			RetiredByEmail string `json:"retired_by_email"`
		} `json:"caller_id"`
		Paused []struct {
			ID     int64  `json:"id"`
			Status string `json:"status"`
		} `json:"paused"`
		Held []any `json:"held"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &r))
	require.Equal(t, "admin@firm.test", r.CallerID.RetiredByEmail)
	require.Len(t, r.Paused, 1)
	require.Equal(t, cp.ID, r.Paused[0].ID)
	require.Equal(t, "paused", r.Paused[0].Status)
	require.NotNil(t, r.Held)
	code, body = b.api(t, adminTok, "POST", fmt.Sprintf("/api/v1/callerids/%d/retire", k.ID), "")
	require.Equal(t, http.StatusConflict, code, body)
	code, _ = b.api(t, adminTok, "POST", "/api/v1/callerids/999/retire", "")
	require.Equal(t, http.StatusNotFound, code)

	code, body = b.api(t, paraTok, "POST", fmt.Sprintf("/api/v1/campaigns/%d/start", cp.ID), "")
	require.Equal(t, http.StatusUnprocessableEntity, code, body)
	require.Contains(t, body, "callerid.retired")
}
