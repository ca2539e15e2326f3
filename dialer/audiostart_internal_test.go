package dialer

import (
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/internal/logbuf"
)

// TestAudioBeganIsRecordedAndLateOnesLogged: a call's audio start is the
// time from Asterisk's StasisStart (the answer) to its first
// PlaybackStarted, both by Asterisk's clock, taken once (the playbacks
// after the first change nothing) and reported with the call's end; a
// start later than the launch checks allow (playStart) is logged, unless
// detection held the call up (its time is part of the start then). The
// real testbed's TestDisclosureHeardInTime checks the recorded figure
// against what the callee heard.
func TestAudioBeganIsRecordedAndLateOnesLogged(t *testing.T) {
	logged := &logbuf.Buffer{}
	s := &Switch{log: slog.New(slog.NewTextHandler(logged, nil)), calls: map[string]*call{}}
	answer := time.Date(2026, 11, 28, 15, 0, 0, 0, time.UTC)

	onTime := &call{channelID: "on-time", answeredAt: answer, firstPlayback: "on-time-play-0-0"}
	s.audioBegan(onTime, "on-time-play-0-0", answer.Add(23*time.Millisecond))
	s.audioBegan(onTime, "on-time-play-0-1", answer.Add(7*time.Second)) // the message's file
	require.True(t, onTime.audioStarted)
	require.Equal(t, 23*time.Millisecond, onTime.audioStart)
	require.Empty(t, logged.String())

	late := &call{channelID: "late", answeredAt: answer, firstPlayback: "late-play-0-0"}
	s.audioBegan(late, "late-play-0-0", answer.Add(1960*time.Millisecond))
	require.Equal(t, 1960*time.Millisecond, late.audioStart)
	require.Contains(t, logged.String(), "heed's audio began late after the answer")
	require.Contains(t, logged.String(), "channel=late after=1.96s allowed=250ms")

	logged = &logbuf.Buffer{}
	s.log = slog.New(slog.NewTextHandler(logged, nil))
	detected := &call{channelID: "detected", answeredAt: answer, amd: "HUMAN HUMAN", firstPlayback: "detected-play-0-0"}
	s.audioBegan(detected, "detected-play-0-0", answer.Add(2500*time.Millisecond))
	require.Equal(t, 2500*time.Millisecond, detected.audioStart, "recorded, detection's time included")
	require.Empty(t, logged.String(), "detection's time is no late start")

	// A playback on a call whose answer was not seen (an orphan taken up
	// while it rang) has no start to measure.
	orphan := &call{channelID: "orphan", firstPlayback: "orphan-play-0-0"}
	s.audioBegan(orphan, "orphan-play-0-0", answer)
	require.False(t, orphan.audioStarted)

	// The first playback's start lost (the websocket reconnected): a later
	// playback's says nothing of when heed began.
	lost := &call{channelID: "lost", answeredAt: answer, firstPlayback: "lost-play-0-0"}
	s.audioBegan(lost, "lost-play-0-1", answer.Add(7*time.Second))
	require.False(t, lost.audioStarted, "unknown, not 7 s")
}
