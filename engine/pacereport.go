package engine

import (
	"context"
	"maps"
	"slices"

	"github.com/rebind-dev/rebind/engine/journal"
	"github.com/rebind-dev/rebind/steps/httpx"
)

// pacedClient is an opened target whose requests are paced (entra's
// Client): what its pacer counted since the target was opened.
type pacedClient interface {
	PacerStats() httpx.PacerStats
}

// Pacing is what one target's requests spent during a run (its drift
// check included), as the journal records it in a note when the run ends.
type Pacing struct {
	Pacing   string `json:"pacing"` // the target, TYPE.NAME
	Requests int64  `json:"requests"`
	Units    int64  `json:"units"`
	Writes   int64  `json:"writes"`
	// Throttled counts the answers that asked to wait (429, or 503 with
	// Retry-After), a $batch item's included.
	Throttled int64 `json:"throttled"`
	// WaitedMS is the time requests waited for the budget, summed.
	WaitedMS int64 `json:"waited_ms"`
}

// recordPacing writes a note per opened target that paces its requests,
// with what they spent: the journal's count of requests, resource units,
// writes and answers that asked to wait.
func (s *session) recordPacing(ctx context.Context) {
	keys := slices.Sorted(maps.Keys(s.tgts))
	for _, k := range keys {
		ot := s.tgts[k]
		if ot.err != nil || ot.client == nil {
			continue
		}
		pc, ok := ot.client.(pacedClient)
		if !ok {
			continue
		}
		st := pc.PacerStats()
		_ = s.e.Store.AppendLazy(ctx, journal.Record{RunID: s.runID, Kind: journal.KindNote, Data: mustJSON(Pacing{
			Pacing: k, Requests: st.Requests, Units: st.Units, Writes: st.Writes, Throttled: st.Throttled, WaitedMS: st.Waited.Milliseconds(),
		})})
	}
}
