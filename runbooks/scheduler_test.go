package runbooks_test

import (
	"context"
	"math/rand"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rebind-dev/rebind/engine/journal"
)

// Connect's scheduler runs a Delta cycle every 30 minutes
// (learn.microsoft.com/entra/identity/hybrid/connect/how-to-connect-sync-feature-scheduler),
// and every bundled scenario runs it: such a cycle can fall between any
// two steps of a runbook. These tests move the lab's clock 30 minutes at a
// step boundary, so that the scheduler runs a cycle there unless the
// runbook holds it, and check that the runbook still ends where it ends
// without one.

// boundaryLog is an engine log that calls at(n) each time a step
// instance completes, n counting from 1, before the engine goes on.
type boundaryLog struct {
	t  *testing.T
	mu sync.Mutex
	n  int
	at func(n int)
}

func (b *boundaryLog) Write(p []byte) (int, error) {
	if strings.Contains(string(p), "done in ") {
		b.mu.Lock()
		b.n++
		n := b.n
		b.mu.Unlock()
		if b.at != nil {
			b.at(n)
		}
	}
	return testLog{b.t}.Write(p)
}

// scheduledCycle moves the lab's clock past the scheduler's interval and
// reports whether the scheduler ran a cycle.
func (l *lab) scheduledCycle() bool {
	before, _ := l.in.Tenant.LastSync()
	if code, body := l.do(http.MethodPost, "/lab/clock?advance=30m", nil); code != http.StatusOK {
		l.t.Fatalf("advance the clock: %d %v", code, body)
	}
	after, _ := l.in.Tenant.LastSync()
	return after.ID != before.ID
}

func envInt(name string, def int64) int64 {
	if v, err := strconv.ParseInt(os.Getenv(name), 10, 64); err == nil {
		return v
	}
	return def
}

// TestInterleavedSchedulerCycle runs each bundled runbook once as it is,
// then REBIND_CYCLE_TRIALS times (1 by default) with a scheduled cycle at
// a random step boundary (REBIND_CYCLE_SEED repeats a draw), and wants the
// same end state object by object.
func TestInterleavedSchedulerCycle(t *testing.T) {
	seed := envInt("REBIND_CYCLE_SEED", time.Now().UnixNano())
	trials := int(envInt("REBIND_CYCLE_TRIALS", 1))
	t.Logf("seed %d, %d trials per runbook (REBIND_CYCLE_SEED, REBIND_CYCLE_TRIALS)", seed, trials)
	rng := rand.New(rand.NewSource(seed))
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l, j := c.setup(t)
			count := &boundaryLog{t: t}
			if rep, err := j.run(context.Background(), count); err != nil || rep.Status != journal.StatusSucceeded {
				t.Fatalf("uninterrupted run: %v %+v", err, rep)
			}
			want, n := l.dump(), count.n
			for trial := 0; trial < trials; trial++ {
				at := 1 + rng.Intn(n)
				l, j := c.setup(t)
				ran := false
				log := &boundaryLog{t: t, at: func(k int) {
					if k == at {
						ran = l.scheduledCycle()
					}
				}}
				rep, err := j.run(context.Background(), log)
				if err != nil || rep.Status != journal.StatusSucceeded {
					t.Fatalf("trial %d, cycle after boundary %d of %d (scheduler ran one: %t): %v %+v", trial, at, n, ran, err, rep)
				}
				t.Logf("trial %d: boundary %d of %d, the scheduler ran a cycle: %t", trial, at, n, ran)
				sameEnd(t, want, l.dump())
			}
		})
	}
}

// TestRestoreMistakeHoldsTheScheduler: the boundary that matters for seed
// 000 is between the restore and the clear, where a cycle would find the
// restored user still holding its old anchor and delete it again. The
// runbook holds the scheduler there, so the clock passing runs no cycle,
// and puts it back as it was at the end.
func TestRestoreMistakeHoldsTheScheduler(t *testing.T) {
	l := startLab(t, "restore-mistake")
	ran := true
	tr := &trigger{t: t, marker: "step.entra_immutable_id.clear", fn: func() { ran = l.scheduledCycle() }}
	rep, err := restoreMistake(l).run(context.Background(), tr)
	if err != nil || rep.Status != journal.StatusSucceeded {
		t.Fatalf("run: %v %+v", err, rep)
	}
	if ran {
		t.Error("the scheduler ran a cycle between the restore and the clear")
	}
	u := l.dump().cloudUser(t, "nicki@contoso.com", false)
	if u["onPremisesSyncEnabled"] != true {
		t.Errorf("nicki is not bound: %v", u)
	}
	if !l.in.Tenant.Scheduler().SyncCycleEnabled {
		t.Error("the scheduler was left held")
	}
}
