package web

import (
	"archive/zip"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"mime/multipart"
	"net/http"
	"path"
	"strings"
	_ "time/tzdata" // the zones offered for times without an offset must not depend on the host

	"github.com/labstack/echo/v4"

	"github.com/heed-dialer/heed/consent"
	"github.com/heed-dialer/heed/internal/sheet"
	"github.com/heed-dialer/heed/internal/zipbound"
)

// maxReportRows bounds the rows each table of an import report shows.
const maxReportRows = 500

// importZones are the zones an upload may read times without an offset in,
// and the one-consent form its times, besides the firm's (Server.zones).
var importZones = []string{"UTC", "America/New_York", "America/Chicago", "America/Denver", "America/Phoenix",
	"America/Los_Angeles", "America/Anchorage", "Pacific/Honolulu"}

// consentsForm is the upload form as sent, to refill it.
type consentsForm struct {
	// Kind is "consents" or "revocations".
	Kind string
	// Columns is the column mapping: "Phone Number=phone,Type=kind".
	Columns string
	// DryRun asks for the report without writing.
	DryRun bool
	// Zone is the time zone of times written without an offset.
	Zone string
}

// consentsData is what the consents template shows.
type consentsData struct {
	Form   consentsForm
	Zones  []string
	Limit  string
	Report *consent.ImportReport
	// Rejected, Skipped and Unevidenced are the report's rows, at most
	// maxReportRows of each; the More counts say how many are not shown.
	Rejected, Skipped, Unevidenced             []consent.RowError
	MoreRejected, MoreSkipped, MoreUnevidenced int
	// ReadAsNANP are the report's rows of revocations whose number was
	// written with a "+" but without the 1, at most maxReportRows, and
	// MoreReadAsNANP how many are not shown.
	ReadAsNANP     []consent.RowError
	MoreReadAsNANP int
	// One is the form that records one consent, and OneErrors what was
	// wrong with it, by field; DocumentTypes names the files it keeps.
	One           oneConsentForm
	OneErrors     consent.FieldErrors
	DocumentTypes string
	// DocumentLimit is the largest document the form takes.
	DocumentLimit string
}

func (s *Server) consentsPage(c echo.Context) error {
	return s.renderConsents(c, http.StatusOK, "", "", consentsForm{Kind: "consents", Zone: s.firmZone()}, nil)
}

// firmZone names the firm's time zone (Config.TimeZone), the zone the
// consents page's forms read times without an offset in unless told
// otherwise, as heed consent import does.
func (s *Server) firmZone() string { return s.cfg.TimeZone.String() }

// zones are the zones the consents page offers: the firm's first, then
// importZones.
func (s *Server) zones() []string {
	firm := s.firmZone()
	out := []string{firm}
	for _, z := range importZones {
		if z != firm {
			out = append(out, z)
		}
	}
	return out
}

// uploadConsents imports a CSV or XLSX file of consents or revocations, all
// or nothing, or only checks it (dry run), and shows the report.
func (s *Server) uploadConsents(c echo.Context) error {
	form := consentsForm{Kind: c.FormValue("kind"), Columns: strings.TrimSpace(c.FormValue("columns")),
		DryRun: c.FormValue("dry_run") != "", Zone: c.FormValue("zone")}
	fh, err := s.formFile(c, "file")
	if err != nil {
		var he *echo.HTTPError
		if errors.As(err, &he) {
			return err
		}
		return s.renderConsents(c, http.StatusUnprocessableEntity, "Choose a CSV, XLSX or ZIP file to upload.", "", form, nil)
	}
	var rep consent.ImportReport
	if strings.EqualFold(path.Ext(fh.Filename), ".zip") {
		rep, err = s.importZip(c, fh, form)
	} else {
		format, opts, ferr := form.options(fh.Filename, s.zones())
		if ferr != nil {
			return s.renderConsents(c, http.StatusUnprocessableEntity, "Check the form: "+ferr.Error()+".", "", form, nil)
		}
		opts.UserID = currentUser(c).ID
		rep, err = s.importFile(c.Request().Context(), fh, form.Kind, format, opts)
	}
	var (
		ie *consent.ImportError
		fe formError
	)
	if errors.As(err, &fe) {
		return s.renderConsents(c, http.StatusUnprocessableEntity, "Check the form: "+fe.Error()+".", "", form, nil)
	}
	if errors.As(err, &ie) {
		return s.renderConsents(c, http.StatusUnprocessableEntity, "Nothing was imported: fix the rows below and upload the file again.", "", form, &ie.Report)
	}
	if err != nil {
		return err
	}
	return s.renderConsents(c, http.StatusOK, "", importSummary(rep), form, &rep)
}

// options checks the form and returns the file's format and the import
// options it asks for; its zone must be one of zones.
func (f consentsForm) options(filename string, zones []string) (consent.Format, consent.ImportOptions, error) {
	if f.Kind != "consents" && f.Kind != "revocations" {
		return "", consent.ImportOptions{}, errors.New("choose what the file lists: consents or revocations")
	}
	format, err := consent.FormatOf(filename)
	if err != nil {
		return "", consent.ImportOptions{}, fmt.Errorf("%s is not a CSV or XLSX file: %w", filename, err)
	}
	cols, err := consent.ParseColumnMap(f.Columns)
	if err != nil {
		return "", consent.ImportOptions{}, err
	}
	loc, err := zoneOf(zones, f.Zone)
	if err != nil {
		return "", consent.ImportOptions{}, err
	}
	return format, consent.ImportOptions{DryRun: f.DryRun, Columns: cols, Location: loc}, nil
}

// formError is what is wrong with the import form or its file, said as a
// sentence's end; cause, when not nil, is the error that found it.
type formError struct {
	msg   string
	cause error
}

func (e formError) Error() string { return e.msg }

// Unwrap returns the error that found the problem, or nil.
func (e formError) Unwrap() error { return e.cause }

// Bounds on a ZIP file of consents and their documents, whose import
// reads each document twice (to check it, then to keep it): a few KiB of
// ZIP file can stand for a document of 10 MiB of zeros. A ZIP file over
// them is refused whole, before anything is read from it.
const (
	// maxZipFiles bounds the files a ZIP file holds: more documents than
	// a batch of signed consents has.
	maxZipFiles = 10_000
	// maxZipDirectory bounds the ZIP directory read, which lists its files
	// (some 100 bytes each).
	maxZipDirectory = 4 << 20
	// maxZipName and maxZipDepth bound a ZIP file's names: a path a
	// firm's folders give, with room to spare.
	maxZipName  = 1024
	maxZipDepth = 32
	// minZipUnpacked is what a ZIP file's files may unpack to, in all,
	// unless twice the upload limit is more (see zipUnpackLimit).
	minZipUnpacked = 256 << 20
)

// zipUnpackLimit bounds what a ZIP file's files unpack to, in all: 256 MiB,
// or twice the upload limit when that is more, as a ZIP file of documents
// that are already compressed (PDF files, photographs) unpacks to little
// more than its size.
func (s *Server) zipUnpackLimit() uint64 { return uint64(max(minZipUnpacked, 2*s.cfg.UploadLimit)) }

// importZip imports the consents of a ZIP file holding one CSV or XLSX file
// of consents and the documents its document column names, by their paths
// from the sheet's folder: what heed consent import --documents does with
// a folder. Folders and files a Mac adds to a ZIP it makes (__MACOSX, ._
// files) are passed over. A ZIP file of more than maxZipFiles files, or
// whose files unpack to more than zipUnpackLimit, is refused. What is
// wrong with the form or the ZIP is a formError.
func (s *Server) importZip(c echo.Context, fh *multipart.FileHeader, form consentsForm) (consent.ImportReport, error) {
	if form.Kind != "consents" {
		return consent.ImportReport{}, formError{msg: "a ZIP file holds consents with their documents; revocations come as a CSV or XLSX file"}
	}
	f, err := fh.Open()
	if err != nil {
		return consent.ImportReport{}, fmt.Errorf("open upload: %w", err)
	}
	defer f.Close()
	zr, err := zipbound.NewReader(f, fh.Size, maxZipDirectory)
	if errors.Is(err, zipbound.ErrDirectory) {
		return consent.ImportReport{}, formError{fmt.Sprintf("the ZIP file lists too many files (its directory is larger than %d MiB); heed takes at most %d", maxZipDirectory>>20, maxZipFiles), err}
	}
	if err != nil {
		return consent.ImportReport{}, formError{fmt.Sprintf("%s is not a ZIP file heed can read (%v)", fh.Filename, errors.Unwrap(err)), err}
	}
	var (
		sheets []*zip.File
		name   string // the sheet's, as the ZIP's files are opened by
		seen   = map[string]bool{}
		files  int
		size   uint64 // what the files unpack to, as the ZIP file says
		limit  = s.zipUnpackLimit()
	)
	for _, zf := range zr.File {
		// Every file counts, even one passed over below (__MACOSX): a
		// row may name it as its document. archive/zip reads no file
		// past the size it gives.
		if !zf.FileInfo().IsDir() {
			if files++; files > maxZipFiles {
				return consent.ImportReport{}, formError{msg: fmt.Sprintf("the ZIP file holds more than %d files, the most heed takes", maxZipFiles)}
			}
			if zf.UncompressedSize64 > limit-size {
				return consent.ImportReport{}, formError{msg: fmt.Sprintf("the ZIP file's files unpack to more than %d MiB, the most heed takes", limit>>20)}
			}
			size += zf.UncompressedSize64
		}
		// archive/zip lists, on the first look by name, every folder of
		// every name: a few thousand names each thousands of folders deep
		// would cost seconds and hundreds of MiB.
		if len(zf.Name) > maxZipName || strings.Count(zf.Name, "/")+strings.Count(zf.Name, `\`) > maxZipDepth {
			return consent.ImportReport{}, formError{msg: fmt.Sprintf("the ZIP file holds a name longer than %d characters or %d folders deep: %.80s…", maxZipName, maxZipDepth, zf.Name)}
		}
		n := zipName(zf.Name)
		if seen[n] && !zf.FileInfo().IsDir() {
			// Opened by name, the first would be read; an unzipping
			// program may show the other.
			return consent.ImportReport{}, formError{msg: fmt.Sprintf("the ZIP file holds %s twice", n)}
		}
		seen[n] = true
		base := path.Base(n)
		// Passed over: what a Mac adds to a ZIP it makes, and the lock
		// file of a workbook open in Excel.
		if strings.HasPrefix(n, "__MACOSX/") || strings.HasPrefix(base, "._") || strings.HasPrefix(base, "~$") || zf.FileInfo().IsDir() {
			continue
		}
		// A .txt file is a document (a consent's text), never the sheet.
		if _, err := consent.FormatOf(base); err == nil && !strings.EqualFold(path.Ext(base), ".txt") {
			sheets, name = append(sheets, zf), n
		}
	}
	if len(sheets) != 1 {
		return consent.ImportReport{}, formError{msg: fmt.Sprintf("the ZIP file must hold one CSV or XLSX file of consents beside their documents; it holds %d", len(sheets))}
	}
	sh := sheets[0]
	if sh.UncompressedSize64 > consent.MaxImportBytes {
		return consent.ImportReport{}, formError{msg: fmt.Sprintf("%s is larger than %d MiB", name, consent.MaxImportBytes>>20)}
	}
	format, opts, err := form.options(name, s.zones())
	if err != nil {
		return consent.ImportReport{}, formError{err.Error(), err}
	}
	opts.UserID = currentUser(c).ID
	if opts.Documents, err = fs.Sub(zr, path.Dir(name)); err != nil {
		return consent.ImportReport{}, fmt.Errorf("documents of %s: %w", name, err)
	}
	r, err := sh.Open()
	if err != nil {
		return consent.ImportReport{}, formError{fmt.Sprintf("%s cannot be read from the ZIP file (%v)", name, err), err}
	}
	defer r.Close()
	return s.cfg.Consents.ImportConsents(c.Request().Context(), r, format, opts)
}

// zipName is a ZIP file entry's name as archive/zip opens it: with / between
// folders, cleaned, without a leading / or ../ (a program that wrote
// Windows paths, or absolute ones, still finds its documents).
func zipName(n string) string {
	p := path.Clean(strings.ReplaceAll(n, `\`, "/"))
	p = strings.TrimPrefix(p, "/")
	for strings.HasPrefix(p, "../") {
		p = p[len("../"):]
	}
	if p == ".." {
		p = "."
	}
	return p
}

// importFile runs the import the form asks for on the uploaded file.
func (s *Server) importFile(ctx context.Context, fh *multipart.FileHeader, kind string, format consent.Format, opts consent.ImportOptions) (consent.ImportReport, error) {
	f, err := fh.Open()
	if err != nil {
		return consent.ImportReport{}, fmt.Errorf("open upload: %w", err)
	}
	defer f.Close()
	imp := s.cfg.Consents.ImportConsents
	if kind == "revocations" {
		imp = s.cfg.Consents.ImportRevocations
	}
	return imp(ctx, f, format, opts)
}

// importSummary says in a sentence what an import did or would do.
func importSummary(rep consent.ImportReport) string {
	listed := ""
	if rep.Kind == "revocations" {
		listed = fmt.Sprintf(", and %d numbers put on the internal do-not-call list", rep.Listed)
		if rep.DryRun {
			listed = fmt.Sprintf(", and would put %d numbers on the internal do-not-call list", rep.Listed)
		}
	}
	if rep.Documents > 0 {
		listed = fmt.Sprintf(", with %d documents", rep.Documents)
	}
	if rep.DryRun {
		return fmt.Sprintf("Check only, nothing was written: the file is valid, and importing it would add %d %s (%d rows read, %d skipped as duplicates)%s.",
			rep.New, rep.Kind, rep.Rows, len(rep.Skipped), listed)
	}
	return fmt.Sprintf("Imported %d %s (%d rows read, %d skipped as duplicates)%s.", rep.Imported, rep.Kind, rep.Rows, len(rep.Skipped), listed)
}

func (s *Server) renderConsents(c echo.Context, status int, msg, flash string, form consentsForm, rep *consent.ImportReport) error {
	one := oneConsentForm{Kind: "pec", Scope: string(consent.PurposeInformational), Channel: string(consent.ChannelVoice), Zone: s.firmZone()}
	return s.renderConsentsPage(c, status, msg, flash, form, rep, one, nil)
}

// renderConsentsPage shows the consents page: the import form as sent,
// with its report when there is one, and the form that records one
// consent, as sent, with what was wrong with it.
func (s *Server) renderConsentsPage(c echo.Context, status int, msg, flash string, form consentsForm, rep *consent.ImportReport,
	one oneConsentForm, oneErrors consent.FieldErrors) error {
	d := consentsData{Form: form, Zones: s.zones(), Limit: sizeString(s.cfg.UploadLimit), Report: rep, One: one, OneErrors: oneErrors,
		DocumentTypes: consent.DocumentTypes(), DocumentLimit: sizeString(s.documentLimit())}
	if rep != nil {
		d.Rejected, d.MoreRejected = firstRows(rep.Rejected)
		d.Skipped, d.MoreSkipped = firstRows(rep.Skipped)
		d.Unevidenced, d.MoreUnevidenced = firstRows(rep.Unevidenced)
		d.ReadAsNANP, d.MoreReadAsNANP = firstRows(rep.ReadAsNANP)
	}
	return s.render(c, status, "consents", page{Title: "Consents and revocations", Error: msg, Flash: flash, Data: d})
}

// firstRows returns at most maxReportRows of an import report's rows and
// how many it left out.
func firstRows(rows []sheet.Problem) ([]sheet.Problem, int) {
	if len(rows) <= maxReportRows {
		return rows, 0
	}
	return rows[:maxReportRows], len(rows) - maxReportRows
}
