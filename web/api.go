package web

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/heed-dialer/heed/campaign"
	"github.com/heed-dialer/heed/internal/account"
	"github.com/heed-dialer/heed/internal/sheet"
)

// apiBodyLimit bounds the JSON bodies of the API (a campaign), in bytes.
const apiBodyLimit = 1 << 20

func (s *Server) apiRoutes(g *echo.Group) {
	all, runners := apiRole(everyRole...), apiRole(runnerRoles...)
	g.GET("/campaigns", s.apiCampaigns, all)
	g.POST("/campaigns", s.apiCreateCampaign, runners, limitBody(apiBodyLimit))
	g.GET("/campaigns/:id", s.apiCampaign, all)
	g.PUT("/campaigns/:id", s.apiUpdateCampaign, runners, limitBody(apiBodyLimit))
	g.POST("/campaigns/:id/start", s.apiStart, runners)
	g.POST("/campaigns/:id/pause", s.apiPause, runners)
	g.POST("/campaigns/:id/add_contacts", s.apiAddNewContacts, runners)
	g.GET("/campaigns/:id/attempts", s.apiAttempts, all)
	g.GET("/campaigns/:id/attempts.csv", s.exportAttempts, all)
	g.GET("/campaigns/:id/contacts", s.apiCampaignContacts, all)
	g.GET("/campaigns/:id/contacts.csv", s.exportCampaignContacts, all)
	g.POST("/campaigns/:id/contacts/:cid/skip", s.apiSkipContact, runners, limitBody(apiBodyLimit))
	g.POST("/campaigns/:id/contacts/:cid/restore", s.apiRestoreContact, runners)
	g.GET("/campaigns/:id/attempts/:aid", s.apiAttempt, all)
	g.GET("/campaigns/:id/attempts/:aid/recording", s.recording, apiRole(reviewerRoles...))
	g.POST("/campaigns/:id/cancel", s.apiCancel, runners)
	g.GET("/numbers/:phone", s.apiNumber, all)
	g.GET("/consents/:id/document", s.consentDocument, apiRole(reviewerRoles...))
	g.GET("/reports/calls", s.apiReport, apiRole(reviewerRoles...))
	g.GET("/reports/checks", s.apiChecks, apiRole(reviewerRoles...))
	g.GET("/lists", s.apiLists, runners)
	g.GET("/lists/:id/contacts", s.apiListContacts, runners)
	g.POST("/lists/import", s.apiImportContacts, runners, limitBody(s.cfg.UploadLimit))
	admin := apiRole(account.RoleAdmin)
	g.GET("/callerids", s.apiCallerIDs, runners)
	g.POST("/callerids", s.apiAddCallerID, admin, limitBody(apiBodyLimit))
	g.POST("/callerids/:id/retire", s.apiRetireCallerID, admin)
}

func (s *Server) apiCampaigns(c echo.Context) error {
	list, err := s.cfg.Campaigns.List(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"campaigns": list})
}

func (s *Server) apiCreateCampaign(c echo.Context) error {
	var in campaign.NewCampaign
	if err := c.Bind(&in); err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, "the body must be a JSON campaign: "+err.Error())
	}
	cp, err := s.cfg.Campaigns.Create(c.Request().Context(), in, currentUser(c).ID)
	var fe campaign.FieldErrors
	if errors.As(err, &fe) {
		return c.JSON(http.StatusUnprocessableEntity, map[string]any{"error": "invalid campaign", "fields": fe})
	}
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, cp)
}

// apiUpdateCampaign replaces a draft campaign's settings with the body's,
// as POST /campaigns takes them; the campaign keeps its recorded message.
func (s *Server) apiUpdateCampaign(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	var in campaign.NewCampaign
	if err := c.Bind(&in); err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, "the body must be a JSON campaign: "+err.Error())
	}
	cp, err := s.cfg.Campaigns.Update(c.Request().Context(), id, in, campaign.Edit{By: currentUser(c).ID, KeepAudio: true})
	var fe campaign.FieldErrors
	if errors.As(err, &fe) {
		return c.JSON(http.StatusUnprocessableEntity, map[string]any{"error": "invalid campaign", "fields": fe})
	}
	if errors.Is(err, campaign.ErrInvalidTransition) {
		return echo.NewHTTPError(http.StatusConflict, "only a draft campaign can be edited")
	}
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, cp)
}

func (s *Server) apiCampaign(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	cp, err := s.cfg.Campaigns.Get(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, cp)
}

func (s *Server) apiStart(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	cp, err := s.cfg.Campaigns.Start(actorContext(c), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, cp)
}

// apiAddNewContacts is addNewContacts for the API: it answers how many
// contacts were added, and the campaign.
func (s *Server) apiAddNewContacts(c echo.Context) error {
	n, cp, err := s.addContacts(c)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"added": n, "campaign": cp})
}

func (s *Server) apiPause(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	cp, err := s.cfg.Campaigns.Pause(actorContext(c), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, cp)
}

func (s *Server) apiCancel(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	cp, err := s.cfg.Campaigns.Cancel(actorContext(c), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, cp)
}

func (s *Server) apiAttempts(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	limit, _ := strconv.Atoi(c.QueryParam("limit"))
	ctx := c.Request().Context()
	if _, err := s.cfg.Campaigns.Get(ctx, id); err != nil {
		return err
	}
	list, err := s.cfg.Campaigns.Attempts(ctx, id, limit)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"attempts": list})
}

// xlsxType is the media type of an XLSX file.
const xlsxType = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

// apiImportContacts imports the request body, a CSV or XLSX file, into the
// list named by the list parameter, as the Contact lists page does: format
// (csv or xlsx) names the file's format, else its Content-Type does (CSV
// unless it is XLSX's); map is a column mapping ("Client Name=name,...");
// dry_run=1 checks the file and writes nothing; skip_existing=1 skips the
// numbers already on the list. The report is the answer:
// 201 when imported, 200 for a dry run, 422 with the rejected rows.
func (s *Server) apiImportContacts(c echo.Context) error {
	format := sheet.CSV
	if mt, _, _ := mime.ParseMediaType(c.Request().Header.Get(echo.HeaderContentType)); mt == xlsxType {
		format = sheet.XLSX
	}
	if f := c.QueryParam("format"); f != "" {
		var err error
		if format, err = sheet.FormatOf(f); err != nil {
			return echo.NewHTTPError(http.StatusBadRequest, "format: want csv or xlsx")
		}
	}
	cols, err := sheet.ParseColumnMap(c.QueryParam("map"))
	if err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, "map: "+err.Error())
	}
	dryRun, err := strconv.ParseBool(cmp.Or(c.QueryParam("dry_run"), "false"))
	if err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, "dry_run: want true or false (or 1 or 0)")
	}
	skip, err := strconv.ParseBool(cmp.Or(c.QueryParam("skip_existing"), "false"))
	if err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, "skip_existing: want true or false (or 1 or 0)")
	}
	update, err := strconv.ParseBool(cmp.Or(c.QueryParam("update_existing"), "false"))
	if err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, "update_existing: want true or false (or 1 or 0)")
	}
	if skip && update {
		return echo.NewHTTPError(http.StatusBadRequest, "skip_existing and update_existing: give one or the other")
	}
	// The whole body first, so that one over the limit is refused as such
	// rather than read as a malformed file.
	body, err := io.ReadAll(c.Request().Body)
	if errors.Is(err, echo.ErrStatusRequestEntityTooLarge) {
		return err
	}
	if err != nil {
		return fmt.Errorf("read upload: %w", err)
	}
	rep, err := s.cfg.Campaigns.ImportContacts(c.Request().Context(), c.QueryParam("list"), bytes.NewReader(body),
		campaign.ImportOptions{Format: format, Columns: cols, DryRun: dryRun, SkipExisting: skip, UpdateExisting: update, UserID: currentUser(c).ID})
	var ie *campaign.ImportError
	switch {
	case errors.As(err, &ie):
		return c.JSON(http.StatusUnprocessableEntity, map[string]any{"error": "import rejected; nothing was imported", "report": ie.Report})
	case errors.Is(err, campaign.ErrInvalid):
		return echo.NewHTTPError(http.StatusBadRequest, "list: name the contact list to import into")
	case err != nil:
		return err
	case rep.DryRun:
		return c.JSON(http.StatusOK, rep)
	}
	return c.JSON(http.StatusCreated, rep)
}

func (s *Server) apiLists(c echo.Context) error {
	lists, err := s.cfg.Campaigns.Lists(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"lists": lists})
}
