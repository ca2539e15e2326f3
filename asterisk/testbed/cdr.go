package testbed

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Dispositions of CDRRecord, as Asterisk writes them.
const (
	// DispositionAnswered is the disposition of an answered call.
	DispositionAnswered = "ANSWERED"
	// DispositionNoAnswer is the disposition of a call that rang until the
	// caller gave up.
	DispositionNoAnswer = "NO ANSWER"
	// DispositionBusy is the disposition of a call refused as busy.
	DispositionBusy = "BUSY"
	// DispositionCongestion is the disposition of a call refused for
	// congestion.
	DispositionCongestion = "CONGESTION"
	// DispositionFailed is the disposition of a call that failed otherwise.
	DispositionFailed = "FAILED"
)

// CDRRecord is one line of the PSTN simulator's CDR (Master.csv): one call it
// received from the PBX, as it saw it.
type CDRRecord struct {
	// AccountCode is the account code; empty in the testbed.
	AccountCode string
	// Src is the caller's number as received, such as "+18605550000".
	Src string
	// Dst is the dialed number as received, such as "+18605550101".
	Dst string
	// DContext is the dialplan context the call ran in, "pstn".
	DContext string
	// CLID is the caller ID as received, such as `"Heed" <+18605550000>`.
	CLID string
	// Channel is the PSTN side's channel name.
	Channel string
	// DstChannel is the channel the call was connected to, if any.
	DstChannel string
	// LastApp is the last dialplan application the call ran.
	LastApp string
	// LastData is that application's arguments.
	LastData string
	// Start is when the call arrived.
	Start time.Time
	// Answer is when the callee answered; zero if it did not.
	Answer time.Time
	// End is when the call ended.
	End time.Time
	// Duration is the time from Start to End, in whole seconds.
	Duration time.Duration
	// Billable is the time from Answer to End (Asterisk's billsec), in whole
	// seconds.
	Billable time.Duration
	// Disposition is what became of the call: one of the Disposition
	// constants.
	Disposition string
	// AMAFlags is the AMA flag, normally "DOCUMENTATION".
	AMAFlags string
	// UniqueID is the PSTN side channel's unique ID.
	UniqueID string
	// UserField is the CDR user field; empty unless the dialplan sets it.
	UserField string
}

// cdrTimeLayout is the layout of cdr_csv's times (UTC, usegmtime = yes).
const cdrTimeLayout = "2006-01-02 15:04:05"

// cdrPath returns the PSTN simulator's Master.csv on this machine.
func (tb *Testbed) cdrPath() string {
	return filepath.Join(tb.pstn.hostDir, "log", "cdr-csv", "Master.csv")
}

// PSTNCalls returns the PSTN simulator's CDR: one record per call it has
// received that has ended, oldest first. Calls still in progress are not
// there yet; see WaitPSTNCalls.
func (tb *Testbed) PSTNCalls() ([]CDRRecord, error) {
	select {
	case <-tb.closed:
		return nil, ErrClosed
	default:
	}
	f, err := os.Open(tb.cdrPath())
	if errors.Is(err, os.ErrNotExist) {
		return []CDRRecord{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("testbed: reading PSTN CDR: %w", err)
	}
	defer f.Close()
	recs, err := ParseCDR(f)
	if err != nil {
		return nil, fmt.Errorf("testbed: %s: %w", tb.cdrPath(), err)
	}
	return recs, nil
}

// WaitPSTNCalls polls the PSTN simulator's CDR until it has at least n
// records, and returns them. It fails when ctx ends first.
func (tb *Testbed) WaitPSTNCalls(ctx context.Context, n int) ([]CDRRecord, error) {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		recs, err := tb.PSTNCalls()
		if err != nil {
			return nil, err
		}
		if len(recs) >= n {
			return recs, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("testbed: waiting for %d PSTN CDR records (have %d): %w", n, len(recs), ctx.Err())
		case <-tick.C:
		}
	}
}

// ParseCDR parses a Master.csv written by Asterisk's cdr_csv with
// loguniqueid and loguserfield on, as the PSTN simulator writes it.
func ParseCDR(r io.Reader) ([]CDRRecord, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	recs := []CDRRecord{}
	for line := 1; ; line++ {
		f, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return recs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("parsing CDR: %w", err)
		}
		if len(f) < 17 {
			return nil, fmt.Errorf("parsing CDR line %d: %d fields, want at least 17", line, len(f))
		}
		rec := CDRRecord{
			AccountCode: f[0],
			Src:         f[1],
			Dst:         f[2],
			DContext:    f[3],
			CLID:        f[4],
			Channel:     f[5],
			DstChannel:  f[6],
			LastApp:     f[7],
			LastData:    f[8],
			Disposition: f[14],
			AMAFlags:    f[15],
			UniqueID:    f[16],
		}
		if len(f) > 17 {
			rec.UserField = f[17]
		}
		times := []*time.Time{&rec.Start, &rec.Answer, &rec.End}
		for i, dst := range times {
			s := f[9+i]
			if s == "" {
				continue
			}
			t, err := time.ParseInLocation(cdrTimeLayout, s, time.UTC)
			if err != nil {
				return nil, fmt.Errorf("parsing CDR line %d: time %q: %w", line, s, err)
			}
			*dst = t
		}
		secs := []*time.Duration{&rec.Duration, &rec.Billable}
		for i, dst := range secs {
			n, err := strconv.Atoi(f[12+i])
			if err != nil {
				return nil, fmt.Errorf("parsing CDR line %d: seconds %q: %w", line, f[12+i], err)
			}
			*dst = time.Duration(n) * time.Second
		}
		recs = append(recs, rec)
	}
}

// Voicemail is a message recorded by the PSTN simulator's answering
// machine (numbers ending in 08).
type Voicemail struct {
	// Path is the WAV file on this machine.
	Path string
	// Number is the dialed number the message was left for.
	Number string
	// UniqueID is the unique ID of the PSTN side's channel; it matches the
	// call's CDRRecord.UniqueID.
	UniqueID string
	// Size is the file's size in bytes (a 44-byte header, then 16 000 bytes
	// per second of 8 kHz 16-bit audio).
	Size int64
}

// Voicemails lists the messages the PSTN simulator's answering machine has
// recorded, ordered by path. A message being recorded is listed too, with
// its size so far; wait for the call's CDR record to be sure it is complete.
func (tb *Testbed) Voicemails() ([]Voicemail, error) {
	return tb.spooled("voicemail", "")
}

// Heard lists what the PSTN simulator's listening callees (numbers ending
// in 20) heard: one 8 kHz 16-bit WAV file a call, of the audio that
// reached the callee from the PBX (its own "hello" is not in it), ordered
// by path. A file starts just after the callee answered: the call's CDR
// user field holds the two times, "<before Answer()> <at the recording's
// start>" in Unix seconds (0.5 s apart when the PBX sends no media at
// first, as while it runs answering-machine detection: Answer() waits
// that long for it). Asterisk finishes a file shortly after its call
// ends: wait for the call's CDR record, then for the file's size to
// settle.
func (tb *Testbed) Heard() ([]Voicemail, error) {
	return tb.spooled("heard", "-mix")
}

// spooled lists the WAV files in the PSTN's spool directory dir, named
// <number>-<uniqueid>.wav, leaving out those whose name ends in skip
// (when skip is not empty).
func (tb *Testbed) spooled(dir, skip string) ([]Voicemail, error) {
	select {
	case <-tb.closed:
		return nil, ErrClosed
	default:
	}
	path := filepath.Join(tb.pstn.hostDir, "spool", dir)
	entries, err := os.ReadDir(path)
	if err != nil {
		return nil, fmt.Errorf("testbed: listing %s: %w", dir, err)
	}
	vms := []Voicemail{}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".wav") || skip != "" && strings.HasSuffix(name, skip+".wav") {
			continue
		}
		info, err := e.Info()
		if err != nil {
			return nil, fmt.Errorf("testbed: %s %s: %w", dir, name, err)
		}
		number, id, _ := strings.Cut(strings.TrimSuffix(name, ".wav"), "-")
		vms = append(vms, Voicemail{Path: filepath.Join(path, name), Number: number, UniqueID: id, Size: info.Size()})
	}
	sort.Slice(vms, func(i, j int) bool { return vms[i].Path < vms[j].Path })
	return vms, nil
}
