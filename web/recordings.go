package web

import (
	"errors"
	"fmt"
	"net/http"
	"os"

	"github.com/labstack/echo/v4"

	"github.com/heed-dialer/heed/campaign"
	"github.com/heed-dialer/heed/dialer"
)

// recording serves the recording of one call, to attorneys and admins.
func (s *Server) recording(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	aid, err := attemptID(c)
	if err != nil {
		return err
	}
	name, err := s.cfg.Campaigns.Recording(c.Request().Context(), id, aid)
	switch {
	case errors.Is(err, campaign.ErrNotFound):
		return echo.NewHTTPError(http.StatusNotFound, "no such attempt in this campaign")
	case errors.Is(err, campaign.ErrNoRecording):
		return echo.NewHTTPError(http.StatusNotFound, "this call was not recorded")
	case err != nil:
		return err
	}
	path, err := dialer.RecordingPath(s.cfg.RecordingsDir, name)
	if err != nil {
		return echo.NewHTTPError(http.StatusNotFound, "this call's recording is not stored here")
	}
	if _, err := os.Stat(path); err != nil {
		return echo.NewHTTPError(http.StatusNotFound, "this call's recording is not stored here")
	}
	c.Response().Header().Set("Content-Disposition", fmt.Sprintf(`inline; filename="attempt-%d.wav"`, aid))
	c.Response().Header().Set("Cache-Control", "private, no-store")
	return c.File(path)
}
