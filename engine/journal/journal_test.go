package journal

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func openStore(t testing.TB, dir string) *Store {
	t.Helper()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// createRun creates r in j (for the runbook restore-mistake unless r names
// one).
func createRun(t testing.TB, j Journal, r Run) Run {
	t.Helper()
	if r.Runbook == "" {
		r.Runbook = "restore-mistake"
	}
	r, err := j.CreateRun(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func records(t testing.TB, j Journal, runID string) []Record {
	t.Helper()
	recs, err := j.Records(context.Background(), runID)
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

func TestOpenCreatesPrivateStateDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), ".rebind")
	s := openStore(t, dir)
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o700 {
		t.Errorf("state directory mode = %v, want 0700", fi.Mode().Perm())
	}
	fi, err = os.Stat(s.Path())
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("%s mode = %v, want 0600", s.Path(), fi.Mode().Perm())
	}
	if s.Path() != filepath.Join(dir, "journal.db") {
		t.Errorf("Path() = %s", s.Path())
	}
	var mode string
	var sync int
	s.wconn.QueryRowContext(context.Background(), "PRAGMA journal_mode").Scan(&mode)
	s.wconn.QueryRowContext(context.Background(), "PRAGMA synchronous").Scan(&sync)
	if mode != "wal" || sync != 2 {
		t.Errorf("journal_mode = %s, synchronous = %d; want wal, 2 (FULL)", mode, sync)
	}
}

func TestRecordsSurviveReopen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	run := createRun(t, s, Run{
		RunbookDigest: "sha256:rb", PlanDigest: "sha256:plan", Author: "ada@example.com",
		Dir: "/srv/runbooks", Inputs: []byte(`{"upn":"a@example.com"}`), Plan: []byte(`{"steps":[]}`),
	})
	when := time.Date(2026, 11, 21, 4, 35, 12, 123456789, time.UTC)
	want := []Record{
		{RunID: run.ID, Time: when, Kind: KindIntent, Step: `step.file.a["k1"]`, Attempt: 1, Data: []byte(`{"before":1}`)},
		{RunID: run.ID, Time: when, Kind: KindFailure, Step: `step.file.a["k1"]`, Attempt: 1, Error: "throttled"},
	}
	for i := range want {
		seq, err := s.Append(ctx, want[i])
		if err != nil {
			t.Fatal(err)
		}
		want[i].Seq = seq
	}
	if want[1].Seq <= want[0].Seq {
		t.Errorf("seqs %d, %d not increasing", want[0].Seq, want[1].Seq)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(ctx, want[0]); !errors.Is(err, ErrClosed) {
		t.Errorf("Append after Close = %v, want ErrClosed", err)
	}

	s = openStore(t, dir)
	got := records(t, s, run.ID)
	if len(got) != len(want) {
		t.Fatalf("got %d records, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Seq != w.Seq || g.RunID != w.RunID || !g.Time.Equal(w.Time) || g.Kind != w.Kind ||
			g.Step != w.Step || g.Attempt != w.Attempt || string(g.Data) != string(w.Data) || g.Error != w.Error {
			t.Errorf("record %d = %+v, want %+v", i, g, w)
		}
	}
	r, err := s.Run(ctx, run.ID)
	if err != nil {
		t.Fatal(err)
	}
	if r.Runbook != run.Runbook || r.RunbookDigest != run.RunbookDigest || r.PlanDigest != run.PlanDigest ||
		r.Author != run.Author || r.Dir != run.Dir || string(r.Inputs) != string(run.Inputs) ||
		string(r.Plan) != string(run.Plan) || r.Status != StatusRunning || !r.Created.Equal(run.Created) {
		t.Errorf("run after reopen = %+v, want %+v", r, run)
	}
}

// TestLazyRecordDurableWithNextAppend checks through a second store (other
// connections, as another process would have) that a lazy record is not
// committed on its own and is committed, before the durable one, by the
// next Append.
func TestLazyRecordDurableWithNextAppend(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openStore(t, dir)
	other := openStore(t, dir)
	run := createRun(t, s, Run{})

	if err := s.AppendLazy(ctx, Record{RunID: run.ID, Kind: KindOutcome, Step: "step.a"}); err != nil {
		t.Fatal(err)
	}
	if got := records(t, other, run.ID); len(got) != 0 {
		t.Fatalf("lazy record committed on its own: %+v", got)
	}
	commits := s.commits.Load()
	seq, err := s.Append(ctx, Record{RunID: run.ID, Kind: KindIntent, Step: "step.b"})
	if err != nil {
		t.Fatal(err)
	}
	if n := s.commits.Load() - commits; n != 1 {
		t.Errorf("lazy + durable took %d commits, want 1", n)
	}
	got := records(t, other, run.ID)
	if len(got) != 2 || got[0].Step != "step.a" || got[1].Step != "step.b" || got[1].Seq != seq {
		t.Fatalf("after Append, other store sees %+v", got)
	}
}

func TestCloseFlushesLazyRecords(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	run := createRun(t, s, Run{})
	if err := s.AppendLazy(context.Background(), Record{RunID: run.ID, Kind: KindOutcome, Step: "step.a"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if got := records(t, openStore(t, dir), run.ID); len(got) != 1 {
		t.Fatalf("after Close, %d records, want the lazy one", len(got))
	}
}

func TestAppendRefusesUnknownRunAndKind(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir())
	if _, err := s.Append(ctx, Record{RunID: "nope", Kind: KindIntent}); !errors.Is(err, ErrNotFound) {
		t.Errorf("Append to unknown run = %v, want ErrNotFound", err)
	}
	if err := s.AppendLazy(ctx, Record{RunID: "nope", Kind: KindOutcome}); !errors.Is(err, ErrNotFound) {
		t.Errorf("AppendLazy to unknown run = %v, want ErrNotFound", err)
	}
	run := createRun(t, s, Run{})
	if _, err := s.Append(ctx, Record{RunID: run.ID, Kind: "intnet"}); err == nil {
		t.Error("Append with an unknown kind succeeded")
	}
	if _, err := s.Records(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Records of unknown run = %v, want ErrNotFound", err)
	}
}

// TestGroupCommitBatches holds the database's write lock from another
// connection while 50 goroutines Append, as a slow disk or another rebind
// process would: they must all be committed together once it is released.
func TestGroupCommitBatches(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openStore(t, dir)
	run := createRun(t, s, Run{})

	blocker, err := sql.Open("sqlite", dsn(s.Path(), false))
	if err != nil {
		t.Fatal(err)
	}
	defer blocker.Close()
	conn, err := blocker.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}

	const n = 50
	commits := s.commits.Load()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	appendOne := func(i int) {
		wg.Go(func() {
			_, err := s.Append(ctx, Record{RunID: run.ID, Kind: KindIntent, Step: fmt.Sprintf("step.a[%d]", i)})
			errs <- err
		})
	}
	waitQueued := func(want int) {
		t.Helper()
		deadline := time.Now().Add(4 * time.Second) // within busy_timeout
		for {
			s.mu.Lock()
			queued := len(s.queue)
			s.mu.Unlock()
			if queued == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d appends queued, want %d", queued, want)
			}
			time.Sleep(time.Millisecond)
		}
	}
	// The committer takes the first Append and waits for the lock...
	taken := s.batches.Load()
	appendOne(0)
	for s.batches.Load() == taken {
		time.Sleep(time.Millisecond)
	}
	waitQueued(0)
	// ...while the others queue behind it.
	for i := 1; i < n; i++ {
		appendOne(i)
	}
	waitQueued(n - 1)
	if _, err := conn.ExecContext(ctx, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := s.commits.Load() - commits; got != 2 {
		t.Errorf("%d concurrent appends took %d commits, want 2", n, got)
	}
	if got := records(t, s, run.ID); len(got) != n {
		t.Errorf("%d records, want %d", len(got), n)
	}
}

// TestGroupCommitUnderLoad runs the fan-out without help: on any disk whose
// fsync takes longer than queueing a record, appends share commits.
func TestGroupCommitUnderLoad(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir())
	run := createRun(t, s, Run{})
	const goroutines, each = 50, 10
	commits := s.commits.Load()
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range each {
				step := fmt.Sprintf("step.a[%d]", g)
				if err := s.AppendLazy(ctx, Record{RunID: run.ID, Kind: KindOutcome, Step: step, Attempt: i}); err != nil {
					t.Error(err)
				}
				if _, err := s.Append(ctx, Record{RunID: run.ID, Kind: KindIntent, Step: step, Attempt: i + 1}); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	got := s.commits.Load() - commits
	t.Logf("%d durable appends in %d commits", goroutines*each, got)
	if got >= goroutines*each {
		t.Errorf("%d durable appends took %d commits: no group commit", goroutines*each, got)
	}
	// Each goroutine's records keep their submission order.
	last := map[string]int{}
	for _, r := range records(t, s, run.ID) {
		want := last[r.Step]
		if r.Kind == KindIntent {
			want++
		}
		if r.Attempt != want {
			t.Fatalf("%s: %s attempt %d after attempt %d", r.Step, r.Kind, r.Attempt, last[r.Step])
		}
		last[r.Step] = r.Attempt
	}
}

func TestLockAllOrNothing(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir())
	a := createRun(t, s, Run{})
	b := createRun(t, s, Run{})

	if err := s.Lock(ctx, a.ID, []string{"user:1", "user:2"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Lock(ctx, a.ID, []string{"user:2", "user:3"}); err != nil {
		t.Fatalf("re-locking by the same run: %v", err)
	}
	err := s.Lock(ctx, b.ID, []string{"user:9", "user:3", "user:1"})
	var le *LockError
	if !errors.As(err, &le) || le.Object != "user:3" || le.HeldBy != a.ID || !errors.Is(err, ErrLocked) {
		t.Fatalf("conflicting Lock = %v, want *LockError for user:3 held by %s", err, a.ID)
	}
	if want := fmt.Sprintf("object user:3 is locked by run %s", a.ID); !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not say %q", err, want)
	}
	locks, err := s.Locks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"user:1": a.ID, "user:2": a.ID, "user:3": a.ID}
	if fmt.Sprint(locks) != fmt.Sprint(want) {
		t.Errorf("Locks() = %v, want %v (user:9 must not be taken)", locks, want)
	}

	if err := s.Unlock(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.Lock(ctx, b.ID, []string{"user:9", "user:3"}); err != nil {
		t.Fatalf("Lock after Unlock: %v", err)
	}
	if err := s.Lock(ctx, "nope", []string{"user:4"}); !errors.Is(err, ErrNotFound) {
		t.Errorf("Lock for unknown run = %v, want ErrNotFound", err)
	}
}

// A run created with its locks is created holding all of them, or not at
// all: when another run holds one, no run is left behind.
func TestCreateRunLockingAllOrNothing(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir())
	a := createRun(t, s, Run{})
	if err := s.Lock(ctx, a.ID, []string{"user:1"}); err != nil {
		t.Fatal(err)
	}
	_, err := s.CreateRunLocking(ctx, Run{Runbook: "r", PlanDigest: "sha256:p"}, []string{"user:2", "user:1"})
	var le *LockError
	if !errors.As(err, &le) || le.Object != "user:1" || le.HeldBy != a.ID {
		t.Fatalf("CreateRunLocking on a held object = %v, want *LockError for user:1 held by %s", err, a.ID)
	}
	if runs, _ := s.Runs(ctx); len(runs) != 1 {
		t.Errorf("%d runs after a refused CreateRunLocking, want 1", len(runs))
	}
	if locks, _ := s.Locks(ctx); len(locks) != 1 {
		t.Errorf("Locks() = %v, want user:1 alone", locks)
	}
	// The plan was not spent by the refusal.
	b, err := s.CreateRunLocking(ctx, Run{Runbook: "r", PlanDigest: "sha256:p"}, []string{"user:2", "user:3"})
	if err != nil {
		t.Fatal(err)
	}
	locks, _ := s.Locks(ctx)
	if want := map[string]string{"user:1": a.ID, "user:2": b.ID, "user:3": b.ID}; fmt.Sprint(locks) != fmt.Sprint(want) {
		t.Errorf("Locks() = %v, want %v", locks, want)
	}
	if _, err := s.CreateRunLocking(ctx, Run{Runbook: "r"}, []string{""}); err == nil {
		t.Error("CreateRunLocking accepted an empty object name")
	}
}

// TestRefusedOpSparesItsBatch checks that a write refused inside a batch
// (here a conflicting Lock) does not take the records committed with it.
func TestRefusedOpSparesItsBatch(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir())
	a := createRun(t, s, Run{})
	b := createRun(t, s, Run{})
	if err := s.Lock(ctx, a.ID, []string{"user:1"}); err != nil {
		t.Fatal(err)
	}
	if err := s.AppendLazy(ctx, Record{RunID: b.ID, Kind: KindNote, Step: "before"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Lock(ctx, b.ID, []string{"user:1"}); !errors.Is(err, ErrLocked) {
		t.Fatalf("Lock = %v, want ErrLocked", err)
	}
	if _, err := s.Append(ctx, Record{RunID: b.ID, Kind: KindNote, Step: "after"}); err != nil {
		t.Fatal(err)
	}
	got := records(t, s, b.ID)
	if len(got) != 2 || got[0].Step != "before" || got[1].Step != "after" {
		t.Errorf("records = %+v, want before, after", got)
	}
}

func TestCreateRunRefusesAppliedPlan(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir())
	first := createRun(t, s, Run{PlanDigest: "sha256:abc"})
	_, err := s.CreateRun(ctx, Run{Runbook: "r", PlanDigest: "sha256:abc"})
	if !errors.Is(err, ErrPlanApplied) || !strings.Contains(err.Error(), first.ID) {
		t.Errorf("second CreateRun for the plan = %v, want ErrPlanApplied naming %s", err, first.ID)
	}
	// Runs without a saved plan do not collide.
	createRun(t, s, Run{})
	createRun(t, s, Run{})
	if _, err := s.CreateRun(ctx, Run{ID: first.ID}); !errors.Is(err, ErrRunExists) {
		t.Errorf("CreateRun with a taken id = %v, want ErrRunExists", err)
	}
	if _, err := s.CreateRun(ctx, Run{ID: "../escape"}); err == nil {
		t.Error("CreateRun accepted id ../escape")
	}
}

func TestRunByPrefix(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir())
	for _, id := range []string{"abc1", "abc2", "xyz"} {
		createRun(t, s, Run{ID: id})
	}
	if r, err := s.Run(ctx, "x"); err != nil || r.ID != "xyz" {
		t.Errorf(`Run("x") = %q, %v; want xyz`, r.ID, err)
	}
	if r, err := s.Run(ctx, "abc2"); err != nil || r.ID != "abc2" {
		t.Errorf(`Run("abc2") = %q, %v`, r.ID, err)
	}
	if _, err := s.Run(ctx, "abc"); !errors.Is(err, ErrAmbiguous) {
		t.Errorf(`Run("abc") = %v, want ErrAmbiguous`, err)
	}
	for _, id := range []string{"q", "", "abc%", "abc_"} {
		if _, err := s.Run(ctx, id); !errors.Is(err, ErrNotFound) {
			t.Errorf(`Run(%q) = %v, want ErrNotFound`, id, err)
		}
	}
}

func TestRunsOldestFirstAndIDsSort(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir())
	var created []string
	for range 20 { // within a second or two: ids must still sort
		created = append(created, createRun(t, s, Run{}).ID)
	}
	runs, err := s.Runs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != len(created) {
		t.Fatalf("Runs() returned %d runs, want %d", len(runs), len(created))
	}
	for i, r := range runs {
		if r.ID != created[i] {
			t.Fatalf("Runs()[%d] = %s, want %s", i, r.ID, created[i])
		}
		if !assignedID.MatchString(r.ID) {
			t.Errorf("assigned id %q has the wrong form", r.ID)
		}
		if i > 0 && r.ID <= runs[i-1].ID {
			t.Errorf("id %s does not sort after %s", r.ID, runs[i-1].ID)
		}
	}
}

func TestNextID(t *testing.T) {
	now := time.Date(2026, 11, 21, 4, 35, 12, 0, time.UTC)
	for _, tc := range []struct{ last, want string }{
		{"20261121T043512-7fff", "20261121T043512-8000"}, // same second, above the random range
		{"20261121T043600-0001", "20261121T043600-0002"}, // the clock stepped back
		{"20261121T043512-ffff", "20261121T043513-0000"}, // a second's ids used up
	} {
		if got := nextID(now, tc.last); got != tc.want {
			t.Errorf("nextID(after %s) = %s, want %s", tc.last, got, tc.want)
		}
	}
	if got := nextID(now, "20261121T043511-ffff"); got[:16] != "20261121T043512-" {
		t.Errorf("nextID after an older id = %s, want the current second", got)
	}
}

func TestSetStatus(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir())
	run := createRun(t, s, Run{})
	if err := s.AppendLazy(ctx, Record{RunID: run.ID, Kind: KindOutcome, Step: "step.a"}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetStatus(ctx, run.ID, StatusFailed, "step.b: 403"); err != nil {
		t.Fatal(err)
	}
	r, err := s.Run(ctx, run.ID)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != StatusFailed || r.Error != "step.b: 403" || r.Updated.Before(r.Created) {
		t.Errorf("run = %+v", r)
	}
	recs := records(t, s, run.ID)
	if len(recs) != 2 || recs[0].Kind != KindOutcome || recs[1].Kind != KindStatus ||
		string(recs[1].Data) != `{"status":"failed"}` || recs[1].Error != "step.b: 403" {
		t.Errorf("records = %+v", recs)
	}
	if err := s.SetStatus(ctx, "nope", StatusFailed, ""); !errors.Is(err, ErrNotFound) {
		t.Errorf("SetStatus of unknown run = %v, want ErrNotFound", err)
	}
	if err := s.SetStatus(ctx, run.ID, "done", ""); err == nil {
		t.Error("SetStatus accepted status done")
	}
}

func TestStepApproval(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir())
	run := createRun(t, s, Run{})
	if ok, _, err := s.StepApproval(ctx, run.ID, "step.approve.cutover"); err != nil || ok {
		t.Fatalf("before approval: %v, %v", ok, err)
	}
	if err := s.ApproveStep(ctx, run.ID, "step.approve.cutover", "grace@example.com"); err != nil {
		t.Fatal(err)
	}
	ok, by, err := s.StepApproval(ctx, run.ID, "step.approve.cutover")
	if err != nil || !ok || by != "grace@example.com" {
		t.Errorf("StepApproval = %v, %q, %v", ok, by, err)
	}
	if ok, _, _ := s.StepApproval(ctx, run.ID, "step.approve.other"); ok {
		t.Error("another step reads as approved")
	}
	recs := records(t, s, run.ID)
	if len(recs) != 1 || recs[0].Kind != KindStepApproval {
		t.Errorf("records = %+v", recs)
	}
}

func TestClaimInProcess(t *testing.T) {
	s := openStore(t, t.TempDir())
	run := createRun(t, s, Run{})
	release, err := s.Claim(run.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Claim(run.ID); !errors.Is(err, ErrBusy) {
		t.Errorf("second Claim = %v, want ErrBusy", err)
	}
	if err := release(); err != nil {
		t.Fatal(err)
	}
	if err := release(); err != nil {
		t.Errorf("second release: %v", err)
	}
	release, err = s.Claim(run.ID)
	if err != nil {
		t.Fatalf("Claim after release: %v", err)
	}
	release()
	if _, err := s.Claim("nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Claim of unknown run = %v, want ErrNotFound", err)
	}
}

func TestAppendLazyCopiesData(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir())
	run := createRun(t, s, Run{})
	buf := []byte(`{"n":1}`)
	if err := s.AppendLazy(ctx, Record{RunID: run.ID, Kind: KindOutcome, Data: buf}); err != nil {
		t.Fatal(err)
	}
	copy(buf, `{"n":2}`) // the engine reuses its buffer
	if got := records(t, s, run.ID); len(got) != 1 || string(got[0].Data) != `{"n":1}` {
		t.Errorf("records = %+v, want the data as appended", got)
	}
}

func TestErrorsReadWell(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir())
	createRun(t, s, Run{ID: "abc1"})
	createRun(t, s, Run{ID: "abc2"})
	_, err := s.Run(ctx, "q")
	if got, want := fmt.Sprint(err), "journal: no such run: q"; got != want {
		t.Errorf("Run(q) error = %q, want %q", got, want)
	}
	_, err = s.Run(ctx, "ab")
	if got, want := fmt.Sprint(err), "journal: ambiguous run id prefix: ab matches abc1, abc2"; got != want {
		t.Errorf("Run(ab) error = %q, want %q", got, want)
	}
}

// TestTwoStoresShareAJournal is two rebind processes working different runs
// in one state directory: SQLite serialises their commits, and neither sees
// the other's writes fail.
func TestTwoStoresShareAJournal(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	stores := []*Store{openStore(t, dir), openStore(t, dir)}
	runs := []Run{createRun(t, stores[0], Run{}), createRun(t, stores[1], Run{})}
	const goroutines, each = 10, 20
	var wg sync.WaitGroup
	for i, s := range stores {
		for g := range goroutines {
			wg.Go(func() {
				for a := range each {
					rec := Record{RunID: runs[i].ID, Kind: KindIntent, Step: fmt.Sprintf("step.a[%d]", g), Attempt: a}
					if _, err := s.Append(ctx, rec); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
	}
	wg.Wait()
	seen := map[int64]bool{}
	for i, run := range runs {
		recs := records(t, stores[1-i], run.ID)
		if len(recs) != goroutines*each {
			t.Errorf("run %d has %d records, want %d", i, len(recs), goroutines*each)
		}
		for _, r := range recs {
			if seen[r.Seq] {
				t.Errorf("seq %d used twice", r.Seq)
			}
			seen[r.Seq] = true
		}
	}
}
