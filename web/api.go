package web

import (
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/heed-dialer/heed/campaign"
	"github.com/heed-dialer/heed/internal/account"
)

func (s *Server) apiRoutes(g *echo.Group) {
	all := apiRole(account.RoleAdmin, account.RoleAttorney, account.RoleParalegal)
	runners := apiRole(account.RoleAdmin, account.RoleParalegal)
	g.GET("/campaigns", s.apiCampaigns, all)
	g.POST("/campaigns", s.apiCreateCampaign, runners)
	g.GET("/campaigns/:id", s.apiCampaign, all)
	g.POST("/campaigns/:id/start", s.apiStart, runners)
	g.POST("/campaigns/:id/pause", s.apiPause, runners)
	g.GET("/campaigns/:id/attempts", s.apiAttempts, all)
	g.GET("/campaigns/:id/attempts.csv", s.exportAttempts, all)
	g.GET("/campaigns/:id/attempts/:aid/recording", s.recording, apiRole(account.RoleAdmin, account.RoleAttorney))
	g.POST("/campaigns/:id/cancel", s.apiCancel, runners)
	g.GET("/lists", s.apiLists, runners)
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
	if fe, ok := err.(campaign.FieldErrors); ok {
		return c.JSON(http.StatusUnprocessableEntity, map[string]any{"error": "invalid campaign", "fields": fe})
	}
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, cp)
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
	cp, err := s.cfg.Campaigns.Start(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, cp)
}

func (s *Server) apiPause(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	cp, err := s.cfg.Campaigns.Pause(c.Request().Context(), id)
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
	cp, err := s.cfg.Campaigns.Cancel(c.Request().Context(), id)
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

func (s *Server) apiLists(c echo.Context) error {
	lists, err := s.cfg.Campaigns.Lists(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"lists": lists})
}
