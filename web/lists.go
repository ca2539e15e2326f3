package web

import (
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/heed-dialer/heed/campaign"
)

type listsData struct {
	Lists  []campaign.ContactList
	Report *campaign.ImportReport
	Limit  string
}

func (s *Server) listsPage(c echo.Context) error {
	lists, err := s.cfg.Campaigns.Lists(c.Request().Context())
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "lists", page{Title: "Contact lists", Data: listsData{Lists: lists, Limit: sizeString(s.cfg.UploadLimit)}})
}

func (s *Server) uploadList(c echo.Context) error {
	ctx := c.Request().Context()
	name := c.FormValue("list")
	fh, err := c.FormFile("file")
	if err != nil {
		var he *echo.HTTPError
		if errors.As(err, &he) {
			return err
		}
		if strings.Contains(err.Error(), "request body too large") {
			return echo.NewHTTPError(http.StatusRequestEntityTooLarge)
		}
		return s.listsError(c, "Choose a CSV file to upload.", nil)
	}
	if ext := strings.ToLower(filepath.Ext(fh.Filename)); ext != ".csv" && ext != ".txt" {
		return s.listsError(c, fmt.Sprintf("%s is not a CSV file.", fh.Filename), nil)
	}
	f, err := fh.Open()
	if err != nil {
		return fmt.Errorf("open upload: %w", err)
	}
	defer f.Close()
	rep, err := s.cfg.Campaigns.ImportContacts(ctx, name, f, currentUser(c).ID)
	var ie *campaign.ImportError
	if errors.As(err, &ie) {
		return s.listsError(c, "Nothing was imported: fix the rows below and upload the file again.", &ie.Report)
	}
	if errors.Is(err, campaign.ErrInvalid) {
		return s.listsError(c, "Give the list a name.", nil)
	}
	if err != nil {
		return err
	}
	s.flash(c, fmt.Sprintf("Imported %d contacts into %q.", rep.Imported, rep.List))
	return c.Redirect(http.StatusSeeOther, "/lists")
}

func (s *Server) listsError(c echo.Context, msg string, rep *campaign.ImportReport) error {
	lists, err := s.cfg.Campaigns.Lists(c.Request().Context())
	if err != nil {
		return err
	}
	return s.render(c, http.StatusUnprocessableEntity, "lists", page{Title: "Contact lists", Error: msg,
		Data: listsData{Lists: lists, Report: rep, Limit: sizeString(s.cfg.UploadLimit)}})
}
