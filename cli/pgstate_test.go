package cli

import (
	"encoding/json"
	"fmt"
	"maps"
	"math/rand"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rebind-dev/rebind/engine/journal/pgtest"
	"github.com/rebind-dev/rebind/internal/e2e"
)

// The shared PostgreSQL journal (--state) driven through real rebind
// processes: each "machine" is a process with its own state directory and
// nothing in common with the others but the database URL.

// pgLease is the lease the tests' processes hold: short, so that a
// takeover after a kill comes quickly, yet long enough that a process
// starved of CPU on a loaded machine still renews it in time.
const pgLease = 3 * time.Second

// machine runs rebind as one machine of a team would: its own state
// directory, the shared journal at url, working in dir.
type machine struct {
	name, dir, url string
	lease          time.Duration // pgLease when zero
}

func (m machine) cmd(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	cmd := rebindCmd(t, m.dir, args...)
	lease := m.lease
	if lease == 0 {
		lease = pgLease
	}
	cmd.Env = append(cmd.Env, "REBIND_STATE_DIR="+filepath.Join(m.dir, ".rebind-"+m.name),
		"REBIND_STATE="+m.url, "REBIND_STATE_LEASE="+lease.String())
	return cmd
}

// twoMachines are machines a and b of one team: one working folder, each
// its own state directory, one fresh database of c as the shared journal.
func twoMachines(t *testing.T, c *pgtest.Cluster) (dir string, a, b machine) {
	t.Helper()
	dir = t.TempDir()
	db := c.NewDB(t)
	return dir, machine{name: "a", dir: dir, url: db}, machine{name: "b", dir: dir, url: db}
}

func (m machine) run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	out, err := m.cmd(t, args...).CombinedOutput()
	return string(out), err
}

func (m machine) runs(t *testing.T) []e2e.RunSummary {
	t.Helper()
	return e2e.ListRuns(t, m.cmd(t, "runs", "--json"))
}

func (m machine) show(t *testing.T, id string) e2e.Journal {
	t.Helper()
	return e2e.ShowRun(t, m.cmd(t, "runs", "show", id, "--json"))
}

// TestPGKillAndResumeOnAnotherMachine kills `rebind apply` (machine A) with
// SIGKILL at a random instant, then resumes the run from machine B, which
// shares only the database: at once (refused while A's lease is live,
// naming A), then after the lease ran out (taken over, saying from whom).
// Every run must end as an uninterrupted one, and no file written before
// the kill may be written again. REBIND_PG_KILL_TRIALS sets how many kills
// must land mid-run, each then resumed from machine B (4 by default; the
// README records a run of 50); kills that land before the run exists or
// after it ended are played too, and do not count.
func TestPGKillAndResumeOnAnotherMachine(t *testing.T) {
	if testing.Short() {
		t.Skip("kills child processes; not in -short")
	}
	trials := 4
	if v := os.Getenv("REBIND_PG_KILL_TRIALS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("REBIND_PG_KILL_TRIALS=%q: want a whole number of kills, at least 1", v)
		}
		trials = n
	}
	c := pgtest.Start(t)
	base := t.TempDir()
	ref := machine{name: "a", dir: filepath.Join(base, "ref"), url: c.NewDB(t)}
	mustWrite(t, filepath.Join(ref.dir, "crash.hcl"), e2e.FileRunbook)
	// The uninterrupted run gives the expected end state, and how long the
	// steps take once the run has started: the kills land in that span.
	refc := e2e.Start(t, ref.cmd(t, "apply", "-auto-approve", "crash.hcl"))
	refc.WaitOutput(" started (", 60*time.Second)
	start := time.Now()
	if out, err := refc.Wait(); err != nil {
		t.Fatalf("uninterrupted apply: %v\n%s", err, out)
	}
	full := time.Since(start)
	if got, want := e2e.ReadOut(t, ref.dir), e2e.ExpectedFiles(); !maps.Equal(got, want) {
		t.Fatalf("uninterrupted run: got %v, want %v", got, want)
	}
	rng := rand.New(rand.NewSource(time.Now().UnixNano()))
	var midRun, refusedLive, takenOver, played int
	// The uninterrupted run was timed once, maybe while the machine was
	// busier or quieter than during the rounds: a kill that lands after the
	// run ended halves the window, one that lands mid-run
	// widens it by an eighth (up to twice the timed run), so that it follows
	// the run's length and the kills keep reaching its end; rounds go on
	// (up to ten times as many: on a loaded machine the run can take a few
	// tens of milliseconds, and many kills land after it) until trials
	// kills have landed mid-run.
	window := full
	// How far the killed runs had got: files written at the kill.
	minDone, maxDone := len(e2e.ExpectedFiles()), -1
	for i := 0; midRun < trials && i < 10*trials; i++ {
		played++
		dir := filepath.Join(base, fmt.Sprintf("r%02d", i))
		db := c.NewDB(t)
		a, b := machine{name: "a", dir: dir, url: db}, machine{name: "b", dir: dir, url: db}
		mustWrite(t, filepath.Join(dir, "crash.hcl"), e2e.FileRunbook)
		ac := e2e.Start(t, a.cmd(t, "apply", "-auto-approve", "crash.hcl"))
		// Mostly after the run started, sometimes (one in eight) before.
		if rng.Intn(8) > 0 {
			ac.WaitOutput(" started (", 60*time.Second)
		}
		delay := time.Duration(rng.Int63n(int64(window) + 1))
		time.Sleep(delay)
		ac.Kill()
		killed := time.Now()
		// A's claim names its user, its host and its process.
		aHolder := fmt.Sprintf("%s@%s (process %d)", osUser(t), hostname(t), ac.Cmd.Process.Pid)

		runs := b.runs(t)
		before := e2e.Inodes(t, dir)
		switch {
		case len(runs) == 0:
			if got := e2e.ReadOut(t, dir); len(got) != 0 {
				t.Fatalf("trial %d: files written without a run: %v", i, got)
			}
			if out, err := b.run(t, "apply", "-auto-approve", "crash.hcl"); err != nil {
				t.Fatalf("trial %d: apply after an early kill: %v\n%s", i, err, out)
			}
		case runs[0].Status == "succeeded":
			window = window / 2
		default:
			midRun++
			window = min(window*9/8, 2*full)
			minDone, maxDone = min(minDone, len(before)), max(maxDone, len(before))
			id := runs[0].ID
			out, err := b.run(t, "resume", id)
			if err != nil {
				// A's lease is live: B must say whose it is and not write.
				if !strings.Contains(out, "is claimed by "+aHolder) || time.Since(killed) > pgLease {
					t.Fatalf("trial %d: resume while A's lease was live: %v\n%s", i, err, out)
				}
				refusedLive++
				time.Sleep(pgLease + 200*time.Millisecond)
				if out, err = b.run(t, "resume", id); err != nil {
					t.Fatalf("trial %d (killed after %s): resume after the lease ran out: %v\n%s", i, delay, err, out)
				}
			}
			if strings.Contains(out, "taken over from") {
				if !strings.Contains(out, "taken over from "+aHolder) {
					t.Fatalf("trial %d: the takeover does not name A's claim (%s):\n%s", i, aHolder, out)
				}
				takenOver++
			}
			if v := b.show(t, id); v.Status != "succeeded" {
				t.Fatalf("trial %d: status after resume = %s", i, v.Status)
			}
		}
		if got, want := e2e.ReadOut(t, dir), e2e.ExpectedFiles(); !maps.Equal(got, want) {
			t.Fatalf("trial %d (killed after %s): end state differs:\n got %v\nwant %v", i, delay, got, want)
		}
		now := e2e.Inodes(t, dir)
		for name, ino := range before {
			if now[name] != ino {
				t.Errorf("trial %d: %s was written before the kill and written again", i, name)
			}
		}
	}
	t.Logf("%d rounds: %d killed mid-run and resumed from machine B, with %d to %d of the %d files written; %d resumes refused while the lease was live, %d claims taken over (uninterrupted run: %s; kill window at the end: %s)",
		played, midRun, minDone, maxDone, len(e2e.ExpectedFiles()), refusedLive, takenOver, full, window)
	if midRun < trials {
		t.Errorf("only %d of %d kills landed mid-run, fewer than the %d asked for; the test did not exercise resume enough", midRun, played, trials)
	}
}

func osUser(t *testing.T) string {
	t.Helper()
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	return u.Username
}

func hostname(t *testing.T) string {
	t.Helper()
	h, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// runsJSON is `runs --json` with the lease.
func (m machine) runsJSON(t *testing.T) []runJSON {
	t.Helper()
	out, err := m.cmd(t, "runs", "--json").Output()
	if err != nil {
		t.Fatalf("runs --json: %v", err)
	}
	var runs []runJSON
	if err := json.Unmarshal(out, &runs); err != nil {
		t.Fatalf("runs --json: %v\n%s", err, out)
	}
	return runs
}

// slowRunbook holds its object (out/shared.txt) for a few seconds.
const slowRunbook = `
runbook "slow" {
  title = "Holds a file for a while"
}

step "file" "shared" {
  path    = "out/shared.txt"
  content = "%s\n"
}

step "wait" "hold" {
  duration = "3s"
}
`

// applyAtOnce runs apply -auto-approve of target(m) on machines a and b at
// once, and returns which of them (0 or 1) ran and what each said; it fails
// the test unless exactly one ran.
func applyAtOnce(t *testing.T, a, b machine, target func(m machine) string) (won int, outs []string, errs []error) {
	t.Helper()
	var wg sync.WaitGroup
	outs, errs = make([]string, 2), make([]error, 2)
	for i, m := range []machine{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			outs[i], errs[i] = m.run(t, "apply", "-auto-approve", target(m))
		}()
	}
	wg.Wait()
	if (errs[0] == nil) == (errs[1] == nil) {
		t.Fatalf("want exactly one apply to run:\n%v %s\n%v %s", errs[0], outs[0], errs[1], outs[1])
	}
	if errs[0] != nil {
		won = 1
	}
	return won, outs, errs
}

// TestPGTwoMachinesOneObject: two machines apply runbooks writing one
// object at once. Exactly one runs; the other is refused and writes
// nothing: for the lock, naming the run that holds the object, its user and
// its host, or for the drift the winner's write caused. (The plan-time
// refusal alone is checked in TestPGRollbackFromAnotherMachine.)
func TestPGTwoMachinesOneObject(t *testing.T) {
	c := pgtest.Start(t)
	dir, a, b := twoMachines(t, c)
	mustWrite(t, filepath.Join(dir, "a.hcl"), fmt.Sprintf(slowRunbook, "from a"))
	mustWrite(t, filepath.Join(dir, "b.hcl"), fmt.Sprintf(slowRunbook, "from b"))
	won, outs, errs := applyAtOnce(t, a, b, func(m machine) string { return m.name + ".hcl" })
	lost := outs[1-won]
	runs := a.runs(t)
	if len(runs) != 1 {
		t.Fatalf("%d runs, want 1", len(runs))
	}
	// The loser is refused for the lock (at plan, or at apply when it
	// planned first), or, when it planned before the winner wrote, for the
	// drift its apply observes: either way it writes nothing.
	switch {
	case strings.Contains(lost, "Object locked by another run"):
		for _, want := range []string{"locked by run " + runs[0].ID + " (started by " + osUser(t) + " on " + hostname(t) + ")"} {
			if !strings.Contains(lost, want) {
				t.Errorf("the refused apply does not say %q:\n%s", want, lost)
			}
		}
	case strings.Contains(lost, "changed since the plan was made"):
	default:
		t.Errorf("the refused apply (%v) says neither lock nor drift:\n%s\n(the one that ran:\n%s)", errs[1-won], lost, outs[won])
	}
	if got := e2e.ReadOut(t, dir)["shared.txt"]; got != []string{"from a\n", "from b\n"}[won] {
		t.Errorf("shared.txt = %q, written by the refused apply", got)
	}
}

// TestPGSavedPlanAppliedOnce: one saved plan applied from two machines at
// once runs once; the other is told the plan was applied.
func TestPGSavedPlanAppliedOnce(t *testing.T) {
	c := pgtest.Start(t)
	dir, a, b := twoMachines(t, c)
	mustWrite(t, filepath.Join(dir, "p.hcl"), fmt.Sprintf(slowRunbook, "once"))
	if out, err := a.run(t, "plan", "p.hcl", "-out", "p.plan"); err != nil {
		t.Fatalf("plan: %v\n%s", err, out)
	}
	won, outs, _ := applyAtOnce(t, a, b, func(machine) string { return "p.plan" })
	lost := outs[1-won]
	if !strings.Contains(lost, "already applied") && !strings.Contains(lost, "Object locked by another run") {
		t.Errorf("the second apply does not say the plan was applied:\n%s", lost)
	}
	if runs := a.runs(t); len(runs) != 1 {
		t.Errorf("%d runs, want 1", len(runs))
	}
	// Later, from either machine, the plan stays applied.
	if out, err := b.run(t, "apply", "-auto-approve", "p.plan"); err == nil || !strings.Contains(out, "already applied") {
		t.Errorf("applying the plan again: %v\n%s", err, out)
	}
}

// TestPGRunsShowsUserHostLease and the URL's password kept out of output.
func TestPGRunsShowsUserHostLease(t *testing.T) {
	c := pgtest.Start(t)
	dir := t.TempDir()
	a := machine{name: "a", dir: dir, url: c.NewDB(t)}
	mustWrite(t, filepath.Join(dir, "r.hcl"), `
runbook "r" {
  title = "One file"
}
step "file" "f" {
  path    = "out/f.txt"
  content = "f\n"
}
`)
	if out, err := a.run(t, "apply", "-auto-approve", "r.hcl"); err != nil {
		t.Fatalf("apply: %v\n%s", err, out)
	}
	out, err := a.run(t, "runs")
	if err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	for _, want := range []string{"USER", "HOST", "LEASE", host, "free"} {
		if !strings.Contains(out, want) {
			t.Errorf("runs does not show %q:\n%s", want, out)
		}
	}
	id := a.runs(t)[0].ID
	if out, _ := a.run(t, "runs", "show", id); !strings.Contains(out, "started by ") || !strings.Contains(out, "on "+host+"; lease: free") {
		t.Errorf("runs show:\n%s", out)
	}
	// The --state flag names the journal as REBIND_STATE does, and wins
	// over it: here REBIND_STATE names a server that is not there.
	flag := rebindCmd(t, dir, "--state", a.url, "runs", "--json")
	flag.Env = append(flag.Env, "REBIND_STATE=postgres://nobody@127.0.0.1:1/none?sslmode=disable&connect_timeout=2")
	if out, err := flag.CombinedOutput(); err != nil || !strings.Contains(string(out), id) {
		t.Errorf("runs with --state (and a dead REBIND_STATE): %v, want run %s listed\n%s", err, id, out)
	}
	// Without either, the state directory's SQLite journal, which holds
	// no run: the run lives only in the database.
	local := rebindCmd(t, dir, "runs", "--json")
	local.Env = append(local.Env, "REBIND_STATE=")
	if out, err := local.CombinedOutput(); err != nil || strings.Contains(string(out), id) {
		t.Errorf("runs without --state: %v, want no run %s\n%s", err, id, out)
	}
	// A wrong password: the error names the database, never the password.
	wrong := machine{name: "a", dir: dir, url: strings.Replace(a.url, url.UserPassword(c.User, c.Password).String(), url.UserPassword(c.User, c.Password+"x").String(), 1)}
	out, err = wrong.run(t, "runs")
	if err == nil || !strings.Contains(out, "password authentication failed") {
		t.Errorf("runs with a wrong password: %v\n%s", err, out)
	}
	for _, f := range []string{c.Password, url.QueryEscape(c.Password), url.PathEscape(c.Password)} {
		if strings.Contains(out, f) {
			t.Errorf("output shows the password: %s", out)
		}
	}
}

// TestPGPausedApplierLosesItsLease: machine A is paused (SIGSTOP) mid-run
// for longer than its lease; machine B takes the run over and finishes it;
// when A wakes it writes nothing more to the journal and stops with an
// error saying it lost its claim.
func TestPGPausedApplierLosesItsLease(t *testing.T) {
	c := pgtest.Start(t)
	dir, a, b := twoMachines(t, c)
	// Paused in the wait: step one is written, two is not.
	ac := startApply(t, a)
	time.Sleep(200 * time.Millisecond)
	ac.Cmd.Process.Signal(syscall.SIGSTOP)
	id := b.runs(t)[0].ID
	time.Sleep(pgLease + 300*time.Millisecond)
	out, err := b.run(t, "resume", id)
	if aHolder := fmt.Sprintf("%s@%s (process %d)", osUser(t), hostname(t), ac.Cmd.Process.Pid); err != nil || !strings.Contains(out, "taken over from "+aHolder) {
		t.Fatalf("B's resume after A's lease ran out: %v, want it to say it took the claim over from %s:\n%s", err, aHolder, out)
	}
	before := b.show(t, id)
	ac.Cmd.Process.Signal(syscall.SIGCONT)
	aout, aerr := ac.Wait()
	if aerr == nil || !strings.Contains(aout, "lost its claim") {
		t.Errorf("A after waking: %v, want an error saying it lost its claim:\n%s", aerr, aout)
	}
	after := b.show(t, id)
	if len(after.Records) != len(before.Records) || after.Status != "succeeded" {
		t.Errorf("A wrote to the journal after losing its lease: %d records before, %d after; status %s",
			len(before.Records), len(after.Records), after.Status)
	}
	if got := e2e.ReadOut(t, dir); got["one.txt"] != "one\n" || got["two.txt"] != "two\n" {
		t.Errorf("end state: %v", got)
	}
}

// threeSteps writes a file, waits, writes another: a run long enough to be
// disturbed in the middle.
const threeSteps = `
runbook "three" {
  title = "Two files with a wait between"
}
step "file" "one" {
  path    = "out/one.txt"
  content = "one\n"
}
step "wait" "between" {
  duration = "2s"
}
step "file" "two" {
  path    = "out/two.txt"
  content = "two\n"
}
`

// startApply starts `apply` of threeSteps on m and waits until step one is
// written.
func startApply(t *testing.T, m machine) *e2e.Proc {
	t.Helper()
	mustWrite(t, filepath.Join(m.dir, "three.hcl"), threeSteps)
	ac := e2e.Start(t, m.cmd(t, "apply", "-auto-approve", "three.hcl"))
	t.Cleanup(func() { ac.Cmd.Process.Kill() })
	deadline := time.Now().Add(60 * time.Second)
	for e2e.ReadOut(t, m.dir)["one.txt"] == "" {
		if time.Now().After(deadline) {
			t.Fatalf("apply never wrote step one:\n%s", ac.Out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return ac
}

// TestPGServerFaultsMidRun: the PostgreSQL server restarted (pg_ctl restart)
// or the run's connections killed (pg_terminate_backend) while `apply`
// works. Within the lease the run waits for the database and continues to
// the end; when the outage outlasts the lease the run stops, failed, and a
// resume finishes it. Either way each step's intent and outcome are
// journaled once and no file is written twice.
func TestPGServerFaultsMidRun(t *testing.T) {
	c := pgtest.Start(t)
	for _, tc := range []struct {
		fault    string
		lease    time.Duration
		survives bool
	}{
		{"restart", 20 * time.Second, true},
		{"terminate", 20 * time.Second, true},
		// Down for longer than the lease: stopped, and started again
		// after the lease ran out.
		{"outage", 2 * time.Second, false},
	} {
		t.Run(fmt.Sprintf("%s-lease-%s", tc.fault, tc.lease), func(t *testing.T) {
			a := machine{name: "a", dir: t.TempDir(), url: c.NewDB(t), lease: tc.lease}
			ac := startApply(t, a)
			inodeOne := e2e.Inodes(t, a.dir)["one.txt"]
			switch tc.fault {
			case "restart":
				c.Restart(t)
			case "terminate":
				if n := c.Terminate(t); n == 0 {
					t.Fatal("no connection of rebind's to terminate")
				}
			case "outage":
				c.Stop(t)
				time.Sleep(tc.lease + time.Second)
				c.Start(t)
			}
			out, err := ac.Wait()
			id := a.runs(t)[0].ID
			switch {
			case tc.survives && err != nil:
				t.Fatalf("apply after the %s: %v\n%s", tc.fault, err, out)
			case !tc.survives:
				if err == nil || !strings.Contains(out, "lost its claim") {
					t.Fatalf("apply after an outage longer than its lease: %v, want it stopped saying it lost its claim:\n%s", err, out)
				}
				if out, err := a.run(t, "resume", id); err != nil {
					t.Fatalf("resume: %v\n%s", err, out)
				}
			}
			v := a.show(t, id)
			if v.Status != "succeeded" {
				t.Fatalf("status %s", v.Status)
			}
			seen := map[string]int{}
			for _, r := range v.Records {
				seen[r.Kind+" "+r.Step]++
			}
			for _, k := range []string{"intent step.file.one", "outcome step.file.one", "intent step.file.two", "outcome step.file.two"} {
				if seen[k] != 1 {
					t.Errorf("%s journaled %d times, want once", k, seen[k])
				}
			}
			if got := e2e.ReadOut(t, a.dir); got["one.txt"] != "one\n" || got["two.txt"] != "two\n" {
				t.Errorf("end state %v", got)
			}
			if e2e.Inodes(t, a.dir)["one.txt"] != inodeOne {
				t.Error("step one was written again")
			}
		})
	}
}

// TestPGTwoResumesRace: two machines resume one run at once: exactly one
// works it; the other is refused, naming the holder.
func TestPGTwoResumesRace(t *testing.T) {
	c := pgtest.Start(t)
	_, a, b := twoMachines(t, c)
	ac := startApply(t, a)
	ac.Kill()
	id := b.runs(t)[0].ID
	time.Sleep(pgLease + 300*time.Millisecond)
	var wg sync.WaitGroup
	outs, errs := make([]string, 2), make([]error, 2)
	for i, m := range []machine{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			outs[i], errs[i] = m.run(t, "resume", id)
		}()
	}
	wg.Wait()
	resumed := 0
	for i := range 2 {
		if strings.Contains(outs[i], "Resuming run") {
			resumed++
			if errs[i] != nil {
				t.Errorf("the resume that worked the run failed: %v\n%s", errs[i], outs[i])
			}
		} else if errs[i] == nil || !strings.Contains(outs[i], "is claimed by") {
			t.Errorf("the other resume: %v, want refused naming the holder:\n%s", errs[i], outs[i])
		}
	}
	if resumed != 1 {
		t.Fatalf("%d resumes worked the run, want exactly 1:\n%s\n%s", resumed, outs[0], outs[1])
	}
	if v := b.show(t, id); v.Status != "succeeded" {
		t.Errorf("status %s", v.Status)
	}
}

// TestPGRollbackFromAnotherMachine: a run whose machine died is rolled back
// from another machine once its lease ran out.
func TestPGRollbackFromAnotherMachine(t *testing.T) {
	c := pgtest.Start(t)
	dir, a, b := twoMachines(t, c)
	ac := startApply(t, a)
	aHolder := fmt.Sprintf("%s@%s (process %d)", osUser(t), hostname(t), ac.Cmd.Process.Pid)
	// While A works, `runs` and `runs show` on B say who holds the run.
	id := b.runs(t)[0].ID
	if rj := b.runsJSON(t)[0]; rj.Lease == nil || rj.Lease.State != "held" || rj.Lease.Holder != aHolder || rj.User != osUser(t) || rj.Host != hostname(t) {
		t.Errorf("runs --json while A works: %+v (lease %+v), want held by %s", rj, rj.Lease, aHolder)
	}
	if out, _ := b.run(t, "runs", "show", id); !strings.Contains(out, "lease: held by "+aHolder+" until ") {
		t.Errorf("runs show while A works does not say it is held by %s:\n%s", aHolder, out)
	}
	ac.Kill()
	// The dead run still holds its objects: a plan on them is refused at
	// once, naming the run, its user and its host.
	if out, err := b.run(t, "plan", "three.hcl"); err == nil || !strings.Contains(out, "locked by run "+id+" (started by "+osUser(t)+" on "+hostname(t)+")") {
		t.Errorf("plan of objects a dead run holds: %v\n%s", err, out)
	}
	time.Sleep(pgLease + 300*time.Millisecond)
	if rj := b.runsJSON(t)[0]; rj.Lease == nil || rj.Lease.State != "expired" || rj.Lease.Holder != aHolder {
		t.Errorf("runs --json after A died and its lease ran out: lease %+v, want expired, was %s", rj.Lease, aHolder)
	}
	if out, _ := b.run(t, "runs"); !strings.Contains(out, "expired (was "+aHolder) {
		t.Errorf("runs after A's lease ran out does not say it expired:\n%s", out)
	}
	out, err := b.run(t, "rollback", id)
	if err != nil || !strings.Contains(out, "taken over from "+aHolder) {
		t.Fatalf("rollback from machine b: %v\n%s", err, out)
	}
	if v := b.show(t, id); v.Status != "rolled-back" {
		t.Errorf("status %s, want rolled-back", v.Status)
	}
	if got := e2e.ReadOut(t, dir); len(got) != 0 {
		t.Errorf("files left after the rollback: %v", got)
	}
	// Its objects are free again: a new apply on them runs.
	if out, err := b.run(t, "apply", "-auto-approve", "three.hcl"); err != nil {
		t.Errorf("apply after the rollback: %v\n%s", err, out)
	}
}
