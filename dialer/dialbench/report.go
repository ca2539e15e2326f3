package dialbench

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
)

// WriteJSON writes exactly the four headline figures as one JSON object:
// {"heed_cps":...,"bare_ari_cps":...,"ratio":...,"heed_cpu_ms_per_call":...}.
func (r *Report) WriteJSON(w io.Writer) error {
	out := struct {
		HeedCPS          float64 `json:"heed_cps"`
		BareCPS          float64 `json:"bare_ari_cps"`
		Ratio            float64 `json:"ratio"`
		HeedCPUMsPerCall float64 `json:"heed_cpu_ms_per_call"`
	}{r.HeedCPS, r.BareCPS, r.Ratio, r.HeedCPUMsPerCall}
	b, err := json.Marshal(out)
	if err != nil {
		return fmt.Errorf("dialbench: report: %w", err)
	}
	if _, err := fmt.Fprintf(w, "%s\n", b); err != nil {
		return fmt.Errorf("dialbench: report: %w", err)
	}
	return nil
}

// WriteTable writes every phase, then the bare loop and heed side by side.
func (r *Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "round\tphase\tcalls\tended\tseconds\tcalls/s\tcall s\tCPU ms/call\tcauses\t\n")
	for _, ph := range r.Phases {
		round := strconv.Itoa(ph.Round)
		if ph.Round == 0 {
			round = "warm-up"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%.2f\t%.1f\t%.3f\t%.2f\t%s\t\n", round, ph.Kind, ph.Calls, ph.Ended, ph.Seconds, ph.CPS,
			ph.CallSeconds, 1000*ph.CPUSeconds/float64(max(ph.Calls, 1)), causes(ph.Causes))
	}
	fmt.Fprintf(tw, "\t\t\t\t\t\t\t\t\t\n")
	lo, hi := r.spread(KindBare)
	fmt.Fprintf(tw, "\t\tbare ARI\theed\t\t\t\t\t\t\n")
	fmt.Fprintf(tw, "\tcalls/s\t%.1f\t%.1f\t\t\t\t\t\n", r.BareCPS, r.HeedCPS)
	hlo, hhi := r.spread(KindHeed)
	fmt.Fprintf(tw, "\tper round\t%.1f–%.1f\t%.1f–%.1f\t\t\t\t\t\n", lo, hi, hlo, hhi)
	fmt.Fprintf(tw, "\tcall s\t%.3f\t%.3f\t\t\t\t\t\n", r.meanCall(KindBare), r.meanCall(KindHeed))
	fmt.Fprintf(tw, "\tCPU ms/call\t%.2f\t%.2f\t\t\t\t\t\n", r.BareCPUMsPerCall, r.HeedCPUMsPerCall)
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("dialbench: report: %w", err)
	}
	_, err := fmt.Fprintf(w, "\nheed places %.1f%% of the bare loop's rate (rounds %.1f%%–%.1f%%; target ≥ 95%%), %d calls a phase, %d at once, %d rounds.\n",
		100*r.Ratio, 100*r.RatioMin, 100*r.RatioMax, r.Calls, r.Concurrency, r.Rounds)
	if err != nil {
		return fmt.Errorf("dialbench: report: %w", err)
	}
	if b, h := r.meanCall(KindBare), r.meanCall(KindHeed); b > 0 && h > 0 && (h/b < 0.8 || h/b > 1.25) {
		_, err = fmt.Fprintf(w, "The calls lasted differently (bare %.3f s, heed %.3f s), so the ratio compares different calls: an answered callee who hangs up at once is seen to hang up about 0.5 s later on a channel idle in Stasis (the bare loop) or in answering-machine detection, at once while heed plays its message (detection off).\n", b, h)
		if err != nil {
			return fmt.Errorf("dialbench: report: %w", err)
		}
	}
	lost := 0
	for _, ph := range r.Phases {
		if ph.Kind == KindHeed {
			lost += ph.Causes[0]
		}
	}
	if lost > 0 {
		_, err = fmt.Fprintf(w, "%d heed calls (cause 0) ended without an end event: the switch lost it and found the end by asking Asterisk, up to 20 s later; their phases' rates include that wait.\n", lost)
		if err != nil {
			return fmt.Errorf("dialbench: report: %w", err)
		}
	}
	return r.writeSteps(w)
}

// writeSteps writes the step times of the measured heed phases, summed,
// when they were taken.
func (r *Report) writeSteps(w io.Writer) error {
	sum := map[string]*Step{}
	calls := 0
	for _, ph := range r.Phases {
		if ph.Round == 0 || ph.Kind != KindHeed || len(ph.Steps) == 0 {
			continue
		}
		calls += ph.Calls
		for _, st := range ph.Steps {
			if sum[st.Name] == nil {
				sum[st.Name] = &Step{Name: st.Name}
			}
			sum[st.Name].Count += st.Count
			sum[st.Name].Seconds += st.Seconds
		}
	}
	if len(sum) == 0 {
		return nil
	}
	all := make([]Step, 0, len(sum))
	for _, st := range sum {
		all = append(all, *st)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].Seconds > all[j].Seconds })
	fmt.Fprintf(w, "\nheed's steps over the measured heed phases (%d calls; steps overlap, so times add up to more than the phases):\n", calls)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "step\tcount\tper call\tavg ms\tms per call\t\n")
	for _, st := range all {
		fmt.Fprintf(tw, "%s\t%d\t%.2f\t%.2f\t%.2f\t\n", st.Name, st.Count, float64(st.Count)/float64(max(calls, 1)), st.Ms(),
			1000*st.Seconds/float64(max(calls, 1)))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("dialbench: report: %w", err)
	}
	return nil
}

// meanCall returns the mean call time of the measured phases of a kind.
func (r *Report) meanCall(kind string) float64 {
	var sum float64
	n := 0
	for _, ph := range r.Phases {
		if ph.Round != 0 && ph.Kind == kind {
			sum += ph.CallSeconds * float64(ph.Ended)
			n += ph.Ended
		}
	}
	if n == 0 {
		return 0
	}
	return sum / float64(n)
}

// spread returns the lowest and highest rate of the measured phases of a kind.
func (r *Report) spread(kind string) (lo, hi float64) {
	first := true
	for _, ph := range r.Phases {
		if ph.Round == 0 || ph.Kind != kind {
			continue
		}
		if first || ph.CPS < lo {
			lo = ph.CPS
		}
		if first || ph.CPS > hi {
			hi = ph.CPS
		}
		first = false
	}
	return lo, hi
}

// causes formats hang-up cause counts as "16×300".
func causes(m map[int]int) string {
	keys := make([]int, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%d×%d", k, m[k])
	}
	return strings.Join(parts, " ")
}
