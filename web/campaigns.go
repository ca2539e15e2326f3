package web

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/heed-dialer/heed/campaign"
	"github.com/heed-dialer/heed/dialer"
	"github.com/heed-dialer/heed/internal/account"
)

func pathID(c echo.Context) (int64, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, echo.NewHTTPError(http.StatusNotFound, "No such campaign.")
	}
	return id, nil
}

func canRun(u *account.User) bool {
	return u != nil && (u.Role == account.RoleAdmin || u.Role == account.RoleParalegal)
}

func (s *Server) campaignsPage(c echo.Context) error {
	list, err := s.cfg.Campaigns.List(c.Request().Context())
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "campaigns", page{Title: "Campaigns", Data: list})
}

type newCampaignData struct {
	Lists  []campaign.ContactList
	Form   campaign.NewCampaign
	Retry  retryForm
	Errors campaign.FieldErrors
}

// retryForm is the retry rules as the form shows them, in minutes.
type retryForm struct {
	MaxAttempts, BusyMinutes, NoAnswerMinutes, FailedMinutes int
}

func retryFormOf(r campaign.RetryRules) retryForm {
	return retryForm{r.MaxAttempts, r.BusySeconds / 60, r.NoAnswerSecs / 60, r.FailedSeconds / 60}
}

func (s *Server) newCampaignPage(c echo.Context) error {
	lists, err := s.cfg.Campaigns.Lists(c.Request().Context())
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "campaign_new", page{Title: "New campaign", Data: newCampaignData{
		Lists: lists, Form: campaign.NewCampaign{Purpose: "informational", RingSeconds: 25, MaxConcurrent: 10},
		Retry: retryFormOf(campaign.DefaultRetry),
	}})
}

// importAudio converts the optional recorded message of the new-campaign
// form and returns its media name, or "" when none was uploaded.
func (s *Server) importAudio(c echo.Context) (string, error) {
	fh, err := c.FormFile("audio")
	if errors.Is(err, http.ErrMissingFile) || (err == nil && fh.Size == 0) {
		return "", nil
	}
	if err != nil {
		if strings.Contains(err.Error(), "request body too large") {
			return "", echo.NewHTTPError(http.StatusRequestEntityTooLarge)
		}
		return "", fmt.Errorf("%w: %v", dialer.ErrBadAudio, err)
	}
	src, err := fh.Open()
	if err != nil {
		return "", fmt.Errorf("open upload: %w", err)
	}
	defer src.Close()
	ext := strings.ToLower(filepath.Ext(fh.Filename))
	if ext != ".wav" && ext != ".mp3" {
		return "", fmt.Errorf("%w: %s", dialer.ErrBadAudio, fh.Filename)
	}
	tmp, err := os.CreateTemp("", "heed-upload-*"+ext)
	if err != nil {
		return "", fmt.Errorf("upload temp file: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := io.Copy(tmp, src); err != nil {
		tmp.Close()
		return "", fmt.Errorf("save upload: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return "", fmt.Errorf("save upload: %w", err)
	}
	return s.cfg.Media.Import(c.Request().Context(), tmp.Name())
}

func (s *Server) createCampaign(c echo.Context) error {
	ctx := c.Request().Context()
	in := campaign.NewCampaign{
		Name: c.FormValue("name"), Purpose: c.FormValue("purpose"), Message: c.FormValue("message"),
		CallerID: c.FormValue("caller_id"),
	}
	in.ListID, _ = strconv.ParseInt(c.FormValue("list_id"), 10, 64)
	in.MaxConcurrent, _ = strconv.Atoi(c.FormValue("max_concurrent"))
	in.RingSeconds, _ = strconv.Atoi(c.FormValue("ring_seconds"))
	retry := campaign.DefaultRetry
	minutes := func(name string, def int) int {
		v, err := strconv.Atoi(c.FormValue(name))
		if err != nil {
			return def
		}
		return v * 60
	}
	if v, err := strconv.Atoi(c.FormValue("max_attempts")); err == nil {
		retry.MaxAttempts = v
	}
	retry.BusySeconds = minutes("retry_busy", retry.BusySeconds)
	retry.NoAnswerSecs = minutes("retry_no_answer", retry.NoAnswerSecs)
	retry.FailedSeconds = minutes("retry_failed", retry.FailedSeconds)
	in.Retry = &retry
	audio, err := s.importAudio(c)
	if errors.Is(err, dialer.ErrBadAudio) {
		return s.newCampaignError(c, in, campaign.FieldErrors{"audio": "could not read the recording: upload a WAV or MP3 file"})
	}
	if err != nil {
		return err
	}
	in.Audio = audio
	created, err := s.cfg.Campaigns.Create(ctx, in, currentUser(c).ID)
	var fe campaign.FieldErrors
	if errors.As(err, &fe) {
		return s.newCampaignError(c, in, fe)
	}
	if err != nil {
		return err
	}
	s.flash(c, fmt.Sprintf("Campaign %q created with %d contacts.", created.Name, created.Counts.Targets))
	return c.Redirect(http.StatusSeeOther, fmt.Sprintf("/campaigns/%d", created.ID))
}

func (s *Server) newCampaignError(c echo.Context, in campaign.NewCampaign, fe campaign.FieldErrors) error {
	lists, err := s.cfg.Campaigns.Lists(c.Request().Context())
	if err != nil {
		return err
	}
	return s.render(c, http.StatusUnprocessableEntity, "campaign_new", page{Title: "New campaign",
		Error: "Please correct the fields marked below.", Data: newCampaignData{Lists: lists, Form: in, Retry: retryFormOf(*in.Retry), Errors: fe}})
}

type campaignData struct {
	Campaign campaign.Campaign
	Attempts []campaign.Attempt
	CanRun   bool
}

func (s *Server) campaignData(c echo.Context) (campaignData, error) {
	id, err := pathID(c)
	if err != nil {
		return campaignData{}, err
	}
	ctx := c.Request().Context()
	cp, err := s.cfg.Campaigns.Get(ctx, id)
	if err != nil {
		return campaignData{}, err
	}
	attempts, err := s.cfg.Campaigns.Attempts(ctx, id, 500)
	if err != nil {
		return campaignData{}, err
	}
	u := currentUser(c)
	return campaignData{Campaign: cp, Attempts: attempts, CanRun: canRun(&u)}, nil
}

func (s *Server) campaignPage(c echo.Context) error {
	d, err := s.campaignData(c)
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "campaign", page{Title: d.Campaign.Name, Data: d})
}

// attemptsPartial re-renders the live part of the campaign page for htmx polling.
func (s *Server) attemptsPartial(c echo.Context) error {
	d, err := s.campaignData(c)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	p := page{Data: d}
	p.CSRF, _ = c.Get(middleware.DefaultCSRFConfig.ContextKey).(string)
	if err := s.pages["campaign"].ExecuteTemplate(&buf, "live", p); err != nil {
		return fmt.Errorf("web: render live: %w", err)
	}
	return c.HTMLBlob(http.StatusOK, buf.Bytes())
}

func (s *Server) startCampaign(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	if _, err := s.cfg.Campaigns.Start(c.Request().Context(), id); err != nil {
		return err
	}
	s.flash(c, "Campaign started.")
	return c.Redirect(http.StatusSeeOther, fmt.Sprintf("/campaigns/%d", id))
}

func (s *Server) cancelCampaign(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	if _, err := s.cfg.Campaigns.Cancel(c.Request().Context(), id); err != nil {
		return err
	}
	s.flash(c, "Campaign cancelled. Calls in progress will finish; no other call will be placed.")
	return c.Redirect(http.StatusSeeOther, fmt.Sprintf("/campaigns/%d", id))
}

// exportAttempts sends a campaign's attempts and outcomes as CSV.
func (s *Server) exportAttempts(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := s.cfg.Campaigns.ExportAttempts(c.Request().Context(), id, &buf); err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderContentDisposition, fmt.Sprintf(`attachment; filename="campaign-%d-attempts.csv"`, id))
	return c.Blob(http.StatusOK, "text/csv; charset=utf-8", buf.Bytes())
}

func (s *Server) pauseCampaign(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	if _, err := s.cfg.Campaigns.Pause(c.Request().Context(), id); err != nil {
		return err
	}
	s.flash(c, "Campaign paused. Calls in progress will finish.")
	return c.Redirect(http.StatusSeeOther, fmt.Sprintf("/campaigns/%d", id))
}
