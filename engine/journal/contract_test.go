package journal

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/rebind-dev/rebind/engine/journal/pgtest"
)

// backend opens journals for the contract tests. open returns a new
// journal; another opens a second handle on the same journal, standing for
// a second process (or machine).
type backend struct {
	name    string
	open    func(t *testing.T) (first Journal, another func() Journal)
	fencing bool // writes are fenced by claims (PostgreSQL)
}

func backends() []backend {
	return []backend{
		{name: "sqlite", open: func(t *testing.T) (Journal, func() Journal) {
			dir := t.TempDir()
			return openStore(t, dir), func() Journal { return openStore(t, dir) }
		}},
		{name: "postgres", fencing: true, open: func(t *testing.T) (Journal, func() Journal) {
			c := pgtest.Start(t)
			u := c.NewDB(t)
			return openPG(t, u, PGOptions{}), func() Journal { return openPG(t, u, PGOptions{}) }
		}},
	}
}

func openPG(t testing.TB, u string, opt PGOptions) *PGStore {
	t.Helper()
	s, err := OpenPG(context.Background(), u, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// forEachBackend runs test against every backend. The PostgreSQL cluster is
// started once per backend and shared by the subtests' databases.
func forEachBackend(t *testing.T, tests map[string]func(t *testing.T, j Journal, another func() Journal)) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			var open func(t *testing.T) (Journal, func() Journal)
			if b.name == "postgres" {
				c := pgtest.Start(t)
				open = func(t *testing.T) (Journal, func() Journal) {
					u := c.NewDB(t)
					return openPG(t, u, PGOptions{}), func() Journal { return openPG(t, u, PGOptions{}) }
				}
			} else {
				open = b.open
			}
			for name, test := range tests {
				t.Run(name, func(t *testing.T) {
					j, another := open(t)
					test(t, j, another)
				})
			}
		})
	}
}

// TestContract holds every backend to the journal contract the engine
// relies on.
func TestContract(t *testing.T) {
	ctx := context.Background()
	forEachBackend(t, map[string]func(t *testing.T, j Journal, another func() Journal){
		"AppendAndReadBack": func(t *testing.T, j Journal, another func() Journal) {
			run := createRun(t, j, Run{Inputs: []byte(`{"a":1}`), Plan: []byte(`{"p":2}`), Author: "ana"})
			if run.Status != StatusRunning || run.ID == "" {
				t.Fatalf("created %+v", run)
			}
			seq1, err := j.Append(ctx, Record{RunID: run.ID, Kind: KindIntent, Step: "step.file.a", Data: []byte(`{"x":1}`)})
			if err != nil {
				t.Fatal(err)
			}
			if err := j.AppendLazy(ctx, Record{RunID: run.ID, Kind: KindOutcome, Step: "step.file.a"}); err != nil {
				t.Fatal(err)
			}
			seq2, err := j.Append(ctx, Record{RunID: run.ID, Kind: KindIntent, Step: "step.file.b", Attempt: 2, Error: "e"})
			if err != nil {
				t.Fatal(err)
			}
			if seq2 <= seq1 {
				t.Errorf("seqs %d then %d, want increasing", seq1, seq2)
			}
			// A second handle (another process) reads what the first wrote.
			other := another()
			recs := records(t, other, run.ID)
			var got []string
			for _, r := range recs {
				got = append(got, fmt.Sprintf("%s %s %d %s %s", r.Kind, r.Step, r.Attempt, r.Data, r.Error))
			}
			want := []string{`intent step.file.a 0 {"x":1} `, `outcome step.file.a 0  `, `intent step.file.b 2  e`}
			if strings.Join(got, "|") != strings.Join(want, "|") {
				t.Errorf("records:\n got %q\nwant %q", got, want)
			}
			back, err := other.Run(ctx, run.ID)
			if err != nil {
				t.Fatal(err)
			}
			if string(back.Inputs) != `{"a":1}` || string(back.Plan) != `{"p":2}` || back.Author != "ana" || !back.Created.Equal(run.Created) {
				t.Errorf("run read back = %+v, created %+v", back, run)
			}
		},
		"CloseFlushesLazy": func(t *testing.T, j Journal, another func() Journal) {
			run := createRun(t, j, Run{})
			j.AppendLazy(ctx, Record{RunID: run.ID, Kind: KindOutcome, Step: "s"})
			if err := j.Close(); err != nil {
				t.Fatal(err)
			}
			if _, err := j.Append(ctx, Record{RunID: run.ID, Kind: KindNote}); !errors.Is(err, ErrClosed) {
				t.Errorf("Append after Close = %v, want ErrClosed", err)
			}
			if recs := records(t, another(), run.ID); len(recs) != 1 {
				t.Errorf("after Close, %d records, want the lazy one", len(recs))
			}
		},
		"RefusesUnknownRunAndKind": func(t *testing.T, j Journal, another func() Journal) {
			run := createRun(t, j, Run{})
			if _, err := j.Append(ctx, Record{RunID: "nope", Kind: KindNote}); !errors.Is(err, ErrNotFound) {
				t.Errorf("Append to unknown run = %v", err)
			}
			if _, err := j.Append(ctx, Record{RunID: run.ID, Kind: "bogus"}); err == nil || !strings.Contains(err.Error(), "bogus") {
				t.Errorf("Append of bogus kind = %v", err)
			}
		},
		"LockAllOrNothing": func(t *testing.T, j Journal, another func() Journal) {
			a, b := createRun(t, j, Run{}), createRun(t, j, Run{})
			if err := j.Lock(ctx, a.ID, []string{"user:1", "user:2"}); err != nil {
				t.Fatal(err)
			}
			err := another().Lock(ctx, b.ID, []string{"user:3", "user:2"})
			var le *LockError
			if !errors.As(err, &le) || le.Object != "user:2" || le.HeldBy != a.ID {
				t.Fatalf("Lock of a held object = %v, want a LockError naming user:2 and %s", err, a.ID)
			}
			locks, _ := j.Locks(ctx)
			if len(locks) != 2 || locks["user:3"] != "" {
				t.Errorf("locks after a refused Lock = %v, want user:1, user:2 only", locks)
			}
			if err := j.Unlock(ctx, a.ID); err != nil {
				t.Fatal(err)
			}
			if err := j.Lock(ctx, b.ID, []string{"user:2"}); err != nil {
				t.Errorf("Lock after Unlock: %v", err)
			}
		},
		"CreateRunLockingRace": func(t *testing.T, j Journal, another func() Journal) {
			stores := []Journal{j, another(), another()}
			errs := make(chan error, 9)
			var wg sync.WaitGroup
			for i := range 9 {
				wg.Add(1)
				go func(s Journal) {
					defer wg.Done()
					_, err := s.CreateRunLocking(ctx, Run{Runbook: "r"}, []string{"user:1", "group:2"})
					errs <- err
				}(stores[i%3])
			}
			wg.Wait()
			close(errs)
			created := 0
			for err := range errs {
				switch {
				case err == nil:
					created++
				case !errors.Is(err, ErrLocked):
					t.Errorf("CreateRunLocking: %v", err)
				}
			}
			if runs, _ := j.Runs(ctx); created != 1 || len(runs) != 1 {
				t.Errorf("%d runs created (%d in the journal), want exactly 1", created, len(runs))
			}
		},
		// Two processes locking overlapping objects named in opposite
		// orders, at once: exactly one wins, the other gets a *LockError
		// naming the first held object in its order. On PostgreSQL each
		// lock row's insert waits for the other transaction's; taken in
		// the order given, the two would wait for each other until the
		// server ended one as a deadlock
		// (https://www.postgresql.org/docs/current/explicit-locking.html#LOCKING-DEADLOCKS
		// advises acquiring locks "on multiple objects in a consistent
		// order").
		"LocksInOppositeOrders": func(t *testing.T, j Journal, another func() Journal) {
			stores := []Journal{j, another()}
			objs := [][]string{{"user:x", "user:y", "user:z"}, {"user:z", "user:y", "user:x"}}
			for round := range 20 {
				runs := []Run{createRun(t, j, Run{}), createRun(t, j, Run{})}
				var wg sync.WaitGroup
				errs := make([]error, 2)
				for k, s := range stores {
					wg.Add(1)
					go func() {
						defer wg.Done()
						errs[k] = s.Lock(ctx, runs[k].ID, objs[k])
					}()
				}
				wg.Wait()
				won := 0
				for k, err := range errs {
					var le *LockError
					switch {
					case err == nil:
						won++
					case errors.As(err, &le):
						if le.Object != objs[k][0] || le.HeldBy != runs[1-k].ID {
							t.Errorf("round %d: %v, want %s named, held by %s", round, err, objs[k][0], runs[1-k].ID)
						}
					default:
						t.Fatalf("round %d: Lock = %v, want success or a LockError", round, err)
					}
				}
				if won != 1 {
					t.Fatalf("round %d: %d Locks won, want exactly 1: %v", round, won, errs)
				}
				for k, s := range stores {
					if err := s.Unlock(ctx, runs[k].ID); err != nil {
						t.Fatal(err)
					}
				}
			}
		},
		"PlanAppliedOnce": func(t *testing.T, j Journal, another func() Journal) {
			first := createRun(t, j, Run{PlanDigest: "sha256:abc"})
			_, err := another().CreateRun(ctx, Run{Runbook: "r", PlanDigest: "sha256:abc"})
			if !errors.Is(err, ErrPlanApplied) || !strings.Contains(err.Error(), first.ID) {
				t.Errorf("second CreateRun for the plan = %v, want ErrPlanApplied naming %s", err, first.ID)
			}
			if _, err := j.CreateRun(ctx, Run{ID: first.ID}); !errors.Is(err, ErrRunExists) {
				t.Errorf("CreateRun with a taken id = %v, want ErrRunExists", err)
			}
		},
		"RunByPrefixAndOrder": func(t *testing.T, j Journal, another func() Journal) {
			a := createRun(t, j, Run{ID: "abc-1"})
			createRun(t, j, Run{ID: "abc-2"})
			c := createRun(t, j, Run{})
			if r, err := j.Run(ctx, "abc-1"); err != nil || r.ID != a.ID {
				t.Errorf("Run(abc-1) = %v, %v", r.ID, err)
			}
			if _, err := j.Run(ctx, "abc"); !errors.Is(err, ErrAmbiguous) {
				t.Errorf("Run(abc) = %v, want ErrAmbiguous", err)
			}
			if r, err := j.Run(ctx, c.ID[:12]); err != nil || r.ID != c.ID {
				t.Errorf("Run(prefix) = %v, %v", r.ID, err)
			}
			if _, err := j.Run(ctx, "zzz"); !errors.Is(err, ErrNotFound) {
				t.Errorf("Run(zzz) = %v, want ErrNotFound", err)
			}
			runs, _ := j.Runs(ctx)
			if len(runs) != 3 || runs[0].ID != "abc-1" || runs[2].ID != c.ID {
				t.Errorf("Runs not oldest first: %v", runs)
			}
		},
		"StatusAndApproval": func(t *testing.T, j Journal, another func() Journal) {
			run := createRun(t, j, Run{})
			if err := j.SetStatus(ctx, run.ID, StatusPaused, "waiting"); err != nil {
				t.Fatal(err)
			}
			if err := another().ApproveStep(ctx, run.ID, "step.x.y", "bob"); err != nil {
				t.Fatal(err)
			}
			ok, by, err := j.StepApproval(ctx, run.ID, "step.x.y")
			if err != nil || !ok || by != "bob" {
				t.Errorf("StepApproval = %v %q %v", ok, by, err)
			}
			r, _ := j.Run(ctx, run.ID)
			if r.Status != StatusPaused || r.Error != "waiting" {
				t.Errorf("run = %s %q", r.Status, r.Error)
			}
			recs := records(t, j, run.ID)
			if len(recs) != 2 || recs[0].Kind != KindStatus || recs[1].Kind != KindStepApproval {
				t.Errorf("records = %+v", recs)
			}
		},
		"ClaimIsExclusive": func(t *testing.T, j Journal, another func() Journal) {
			run := createRun(t, j, Run{})
			if l, err := j.Lease(ctx, run.ID); err != nil || l.State != LeaseFree {
				t.Errorf("Lease before Claim = %+v, %v", l, err)
			}
			release, err := j.Claim(run.ID)
			if err != nil {
				t.Fatal(err)
			}
			other := another()
			if _, err := other.Claim(run.ID); !errors.Is(err, ErrBusy) {
				t.Errorf("Claim from another process = %v, want ErrBusy", err)
			}
			if _, err := j.Claim(run.ID); !errors.Is(err, ErrBusy) {
				t.Errorf("second Claim in one process = %v, want ErrBusy", err)
			}
			if l, err := other.Lease(ctx, run.ID); err != nil || l.State != LeaseHeld || l.Holder == "" {
				t.Errorf("Lease while claimed = %+v, %v", l, err)
			}
			if err := release(); err != nil {
				t.Fatal(err)
			}
			if err := release(); err != nil {
				t.Errorf("second release: %v", err)
			}
			r2, err := other.Claim(run.ID)
			if err != nil {
				t.Fatalf("Claim after release: %v", err)
			}
			r2()
			if _, err := j.Claim("nope"); !errors.Is(err, ErrNotFound) {
				t.Errorf("Claim of unknown run = %v", err)
			}
		},
		"StateKeyShared": func(t *testing.T, j Journal, another func() Journal) {
			k1, err := j.StateKey()
			if err != nil {
				t.Fatal(err)
			}
			k2, err := another().StateKey()
			if err != nil || string(k1) != string(k2) || len(k1) != keySize {
				t.Errorf("state keys differ or are short: %x %x %v", k1, k2, err)
			}
		},
	})
}

// TestContractFencing: with the PostgreSQL journal, a process holding no
// claim cannot write to a run another process holds.
func TestContractFencing(t *testing.T) {
	ctx := context.Background()
	c := pgtest.Start(t)
	u := c.NewDB(t)
	a, b := openPG(t, u, PGOptions{}), openPG(t, u, PGOptions{})
	run := createRun(t, a, Run{})
	release, err := a.Claim(run.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Append(ctx, Record{RunID: run.ID, Kind: KindIntent, Step: "s"}); !errors.Is(err, ErrBusy) {
		t.Errorf("Append by a non-holder = %v, want ErrBusy", err)
	}
	if err := b.SetStatus(ctx, run.ID, StatusFailed, ""); !errors.Is(err, ErrBusy) {
		t.Errorf("SetStatus by a non-holder = %v, want ErrBusy", err)
	}
	if _, err := a.Append(ctx, Record{RunID: run.ID, Kind: KindIntent, Step: "s"}); err != nil {
		t.Errorf("Append by the holder: %v", err)
	}
	release()
	if _, err := b.Append(ctx, Record{RunID: run.ID, Kind: KindNote}); err != nil {
		t.Errorf("Append once nobody holds the run: %v", err)
	}
	if n := len(records(t, a, run.ID)); n != 2 {
		t.Errorf("%d records, want 2", n)
	}
}
