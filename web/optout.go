package web

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/heed-dialer/heed/campaign"
	"github.com/heed-dialer/heed/consent"
	"github.com/heed-dialer/heed/internal/phone"
)

// The abuse limits of the public opt-out page. Rule F9 asks that an opt-out
// be recorded when it is made, so the limits are generous for a person and
// tight for a script: a client address may submit the form at most 5 times
// in any 10 minutes and 30 times in any 24 hours.
var optOutLimits = []rateLimit{
	{Max: 5, Per: 10 * time.Minute},
	{Max: 30, Per: 24 * time.Hour},
}

const (
	// optOutClients bounds the client addresses the limiter remembers; the
	// least recently seen is forgotten first. At 30 hits of 8 bytes each,
	// the limiter stays under 5 MB.
	optOutClients = 10_000
	// optOutMaxBody bounds a submission's body, in bytes.
	optOutMaxBody = 8 << 10
	// optOutMaxNote bounds the note, in characters, and optOutMaxNoteBytes
	// in bytes, so that the source fits the ledger's 1000 bytes. A longer
	// note is cut; the opt-out is never refused for it.
	optOutMaxNote      = 500
	optOutMaxNoteBytes = 900
	// optOutHoneypot names the form field people do not see and bots fill:
	// a name no browser or password manager fills on its own (a field
	// named "website" may be), since a filled one loses the request.
	optOutHoneypot = "hp_leave_empty"
	// optOutSource is the revocation and do-not-call source of the page.
	optOutSource = "public opt-out page"
	// sessionOptOut carries the confirmed number to the confirmation page.
	sessionOptOut = "optout_number"
	// sessionOptOutTyped carries what the person typed to the
	// confirmation page when heed read it as a North American number
	// typed without its 1 (phone.MissingOne).
	sessionOptOutTyped = "optout_typed"
)

// optOutData is what the opt-out template shows.
type optOutData struct {
	// Firm names who is asking.
	Firm string
	// Phone and Note refill the form after an error.
	Phone, Note string
	// Done is the number whose calls stopped; set on the confirmation.
	Done string
	// Typed is what the person typed, on the confirmation of a number
	// typed with a "+" but without the 1 and read as a North American
	// number (phone.MissingOne); "" otherwise.
	Typed string
	// Limited says the client has hit the abuse limits.
	Limited bool
	// MaxNote is the note's length limit.
	MaxNote int
}

func (s *Server) optOutPage(c echo.Context) error {
	return s.renderOptOut(c, http.StatusOK, "", optOutData{})
}

// optOut takes a person's request to stop calls, which every gate refuses
// at once, and records it: a revocation of every consent (rule F12,
// revoke-all by F13) and an internal do-not-call entry (F9).
func (s *Server) optOut(c echo.Context) error {
	form := optOutData{Phone: strings.TrimSpace(c.FormValue("phone")), Note: cleanNote(c.FormValue("note"))}
	if c.FormValue(optOutHoneypot) != "" {
		s.cfg.Log.Info("web: opt-out honeypot filled; nothing recorded", "client", clientKey(c))
		return s.confirmOptOut(c, form.Phone, "")
	}
	// A number typed with a "+" but without the 1 ("+203 555 0199") is
	// read as the North American number the person almost certainly
	// meant, the only kind heed calls (phone.ParseMeant).
	n, err := phone.ParseMeant(form.Phone)
	if err != nil {
		msg := "Type the phone number we called, with its area code, for example (860) 555-0123."
		if form.Phone != "" {
			msg = fmt.Sprintf("%q is not a phone number we can read. ", form.Phone) + msg
		}
		return s.renderOptOut(c, http.StatusUnprocessableEntity, msg, form)
	}
	if err := s.recordOptOut(c.Request().Context(), n, form.Note); err != nil {
		return err
	}
	if phone.MissingOne(form.Phone) {
		return s.confirmOptOut(c, n.Display(), form.Phone)
	}
	return s.confirmOptOut(c, displayPhone(n), "")
}

// recordOptOut takes the request and records the revocation and the
// do-not-call entry in one transaction. A number already on the internal
// list still gets its revocation, and the caller cannot tell the two cases
// apart. A request taken whose records wait for the database (a long
// import) is confirmed all the same: it is kept, every gate refuses the
// number from its next sync, and heed records it as soon as it can.
func (s *Server) recordOptOut(ctx context.Context, n phone.Number, note string) error {
	source := optOutSource
	if note != "" {
		source += ": " + note
	}
	if _, err := s.takeOptOut(ctx, campaign.OptOut{Phone: n, Method: string(consent.RevokedByWeb), Source: source}); err != nil {
		return fmt.Errorf("opt-out: %w", err)
	}
	return nil
}

// optOutWriteTimeout bounds the writing of an opt-out, which goes on when
// the client leaves.
const optOutWriteTimeout = 10 * time.Second

// takeOptOut takes and records an opt-out (campaign.RecordOptOut), and
// logs one whose records wait for the database. A person asked: their
// opt-out is written even when their browser leaves (the request's
// context ends) while the write waits, for up to optOutWriteTimeout.
func (s *Server) takeOptOut(ctx context.Context, o campaign.OptOut) (campaign.OptOutTaken, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), optOutWriteTimeout)
	defer cancel()
	t, err := campaign.RecordOptOut(ctx, s.cfg.DB, o)
	if err == nil && !t.Recorded {
		s.cfg.Log.Warn("web: opt-out taken; its records wait for the database", "request", t.ID, "method", o.Method, "err", t.Wait)
	}
	return t, err
}

// confirmOptOut sends the browser to the confirmation, so that reloading it
// does not submit the form again. shown is the number whose calls stop;
// typed, when not "", is what the person typed, read as the North
// American number shown (phone.MissingOne).
func (s *Server) confirmOptOut(c echo.Context, shown, typed string) error {
	if shown == "" {
		shown = "your number"
	}
	ctx := c.Request().Context()
	s.sessions.Put(ctx, sessionOptOut, shown)
	if typed != "" {
		s.sessions.Put(ctx, sessionOptOutTyped, typed)
	} else {
		s.sessions.Remove(ctx, sessionOptOutTyped)
	}
	return c.Redirect(http.StatusSeeOther, "/optout/done")
}

func (s *Server) optOutDone(c echo.Context) error {
	shown := s.sessions.PopString(c.Request().Context(), sessionOptOut)
	typed := s.sessions.PopString(c.Request().Context(), sessionOptOutTyped)
	if shown == "" {
		return c.Redirect(http.StatusSeeOther, "/optout")
	}
	return s.renderOptOut(c, http.StatusOK, "", optOutData{Done: shown, Typed: typed})
}

func (s *Server) renderOptOut(c echo.Context, status int, msg string, d optOutData) error {
	d.Firm, d.MaxNote = s.cfg.FirmName, optOutMaxNote
	return s.render(c, status, "optout", page{Title: "Stop calls", Error: msg, Data: d})
}

// optOutRateLimit refuses a submission, with a 429 page, once the client
// has reached the abuse limits. Only submissions count; reading the page is
// free.
func (s *Server) optOutRateLimit(l *rateLimiter) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if c.Request().Method != http.MethodPost {
				return next(c)
			}
			ok, wait := l.allow(clientKey(c))
			if ok {
				return next(c)
			}
			s.cfg.Log.Info("web: opt-out rate limit reached", "client", clientKey(c))
			retryAfter(c, wait)
			msg := fmt.Sprintf("Too many requests have come from your network: this page takes at most %d in %s and %d a day. "+
				"Please try again in %s. Requests already confirmed are in effect.",
				optOutLimits[0].Max, humanDuration(optOutLimits[0].Per), optOutLimits[1].Max, humanDuration(wait))
			return s.renderOptOut(c, http.StatusTooManyRequests, msg, optOutData{Limited: true})
		}
	}
}

// optOutTooLarge is the opt-out page's answer to a form over optOutMaxBody.
const optOutTooLarge = "The form is too large. Type only your phone number and a short note."

// optOutBodyLimit refuses a submission larger than the form can be, before
// anything reads it.
func (s *Server) optOutBodyLimit(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		if r.ContentLength > optOutMaxBody {
			return s.renderOptOut(c, http.StatusRequestEntityTooLarge, optOutTooLarge, optOutData{})
		}
		r.Body = http.MaxBytesReader(c.Response(), r.Body, optOutMaxBody)
		// A form sent in chunks is measured only as it is read.
		tooLarge, done := parseForm(r)
		defer done()
		if tooLarge {
			return s.renderOptOut(c, http.StatusRequestEntityTooLarge, optOutTooLarge, optOutData{})
		}
		return next(c)
	}
}

// cleanNote trims a note, turns control characters into spaces and cuts it
// to optOutMaxNote characters and optOutMaxNoteBytes bytes.
func cleanNote(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == utf8.RuneError {
			return ' '
		}
		return r
	}, s)
	s = strings.Join(strings.Fields(s), " ")
	chars := 0
	for i, r := range s {
		if chars == optOutMaxNote || i+utf8.RuneLen(r) > optOutMaxNoteBytes {
			return strings.TrimSpace(s[:i])
		}
		chars++
	}
	return s
}

// displayPhone writes a NANP number as (860) 555-0123 and any other number
// in E.164 form.
func displayPhone(n phone.Number) string {
	s := n.String()
	if n.AreaCode() == "" {
		return s
	}
	return "(" + s[2:5] + ") " + s[5:8] + "-" + s[8:]
}

// humanDuration writes a wait for people: "10 minutes", "1 minute",
// "3 hours".
func humanDuration(d time.Duration) string {
	if d >= 2*time.Hour {
		return fmt.Sprintf("%d hours", int((d+time.Hour-1)/time.Hour))
	}
	m := int((d + time.Minute - 1) / time.Minute)
	if m <= 1 {
		return "1 minute"
	}
	return fmt.Sprintf("%d minutes", m)
}
