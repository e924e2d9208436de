package adversarial

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// proc is a rebind process running in the background, for a test to
// signal while it works.
type proc struct {
	w     *workspace
	pid   int
	args  []string
	out   bytes.Buffer
	errb  bytes.Buffer
	ended time.Time
	res   result
	done  chan struct{}
}

// start starts rebind in the background. The test's cleanup kills it (and
// its process group) if it is still running then.
func (w *workspace) start(args ...string) *proc {
	w.t.Helper()
	return w.startCmd(w.command(args...), args)
}

// startCmd starts cmd, made by w.command for args (and perhaps changed),
// in the background.
func (w *workspace) startCmd(cmd *exec.Cmd, args []string) *proc {
	w.t.Helper()
	p := &proc{w: w, args: args, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = &p.out, &p.errb
	begin := time.Now()
	if err := cmd.Start(); err != nil {
		w.t.Fatalf("rebind %s: %v", strings.Join(args, " "), err)
	}
	p.pid = cmd.Process.Pid
	go func() {
		_ = cmd.Wait()
		p.ended = time.Now()
		p.res = w.finish(cmd, args, p.out.String(), p.errb.String(), begin)
		close(p.done)
	}()
	w.t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = syscall.Kill(-p.pid, syscall.SIGKILL)
			<-p.done
		}
	})
	return p
}

// signal sends sig to the process group rebind leads, as a terminal's
// Ctrl-C or a hang-up does.
func (p *proc) signal(sig syscall.Signal) {
	p.w.t.Helper()
	if err := syscall.Kill(-p.pid, sig); err != nil {
		p.w.t.Fatalf("signal %v: %v", sig, err)
	}
}

// wait waits, at most limit, for the process to end.
func (p *proc) wait(limit time.Duration) result {
	p.w.t.Helper()
	select {
	case <-p.done:
		return p.res
	case <-time.After(limit):
		_ = syscall.Kill(-p.pid, syscall.SIGKILL)
		<-p.done
		p.w.t.Fatalf("rebind %s still running after %v\nstderr:\n%s", strings.Join(p.args, " "), limit, p.res.Stderr)
		return result{}
	}
}

// waitFor polls for a file under the workspace, which a command the run
// starts creates, and returns when it appeared. It fails the test when
// rebind ends first or limit passes.
func (p *proc) waitFor(name string, limit time.Duration) time.Time {
	p.w.t.Helper()
	deadline := time.Now().Add(limit)
	for {
		if _, err := os.Stat(filepath.Join(p.w.Dir, name)); err == nil {
			return time.Now()
		}
		select {
		case <-p.done:
			p.w.t.Fatalf("rebind %s ended before %s appeared: exit %d\nstderr:\n%s", strings.Join(p.args, " "), name, p.res.Code, p.res.Stderr)
		case <-time.After(5 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			p.w.t.Fatalf("%s did not appear within %v", name, limit)
		}
	}
}

// lines counts the lines of a file under the workspace.
func (w *workspace) lines(name string) int {
	return strings.Count(w.read(name), "\n")
}

// runView is a run as `rebind runs show --json` prints it.
type runView struct {
	ID      string `json:"id"`
	Status  string `json:"status"`
	Error   string `json:"error"`
	Records []struct {
		Kind  string          `json:"kind"`
		Step  string          `json:"step"`
		Data  json.RawMessage `json:"data"`
		Error string          `json:"error"`
	} `json:"records"`
}

// runs lists the runs in the workspace's journal.
func (w *workspace) runs() []runView {
	w.t.Helper()
	r := w.run("runs", "--json")
	mustSucceed(w.t, r)
	var runs []runView
	if err := json.Unmarshal([]byte(r.Stdout), &runs); err != nil {
		w.t.Fatalf("runs --json: %v\n%s", err, r.Stdout)
	}
	return runs
}

// onlyRun returns the one run in the workspace's journal.
func (w *workspace) onlyRun() runView {
	w.t.Helper()
	runs := w.runs()
	if len(runs) != 1 {
		w.t.Fatalf("%d runs in the journal, want 1: %+v", len(runs), runs)
	}
	return runs[0]
}

// show returns a run and its journal.
func (w *workspace) show(id string) runView {
	w.t.Helper()
	r := w.run("runs", "show", id, "--json")
	mustSucceed(w.t, r)
	var v runView
	if err := json.Unmarshal([]byte(r.Stdout), &v); err != nil {
		w.t.Fatalf("runs show --json: %v\n%s", err, r.Stdout)
	}
	return v
}

// kinds lists the kinds of the records a run's journal holds for step.
func (v runView) kinds(step string) []string {
	var out []string
	for _, r := range v.Records {
		if r.Step == step {
			out = append(out, r.Kind)
		}
	}
	return out
}
