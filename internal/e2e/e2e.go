// Package e2e is the one harness of rebind's end-to-end tests: a test
// binary re-executed as the rebind command, its output read while it runs,
// and the kill-and-resume loop (start a child, SIGKILL it at a random
// instant of an uninterrupted run's duration, resume, compare the end
// state) that every crash suite runs.
//
// Where the suites live: the kill-and-resume suites that drive runbooks
// (file steps through the rebind binary, the bundled runbooks against lab
// scenarios, a kill inside a module) are in runbooks/. Three stay beside
// what they need: engine/journal's crash test kills a journal writer, not
// a run; cli/pgstate_test.go needs the PostgreSQL cluster helpers and
// cli/crash_lab_test.go kills `rebind lab serve` as well, through cli's
// lab helpers. The two in cli build their processes with this package.
//
// Only test files import e2e; it imports nothing of rebind, so it adds no
// edge to the layering internal/archtest checks.
package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// AsCLI is the environment variable that makes a test binary act as the
// rebind command: its TestMain runs cli.Main on its arguments and exits.
const AsCLI = "REBIND_TEST_AS_CLI"

// Rebind returns a command that runs the test binary as rebind in dir, with
// its state directory dir/.rebind and no colour, plus env.
func Rebind(dir string, env []string, args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), AsCLI+"=1", "NO_COLOR=1", "REBIND_STATE_DIR="+filepath.Join(dir, ".rebind"))
	cmd.Env = append(cmd.Env, env...)
	return cmd
}

// Run runs cmd to its end and returns stdout and stderr together.
func Run(cmd *exec.Cmd) (string, error) {
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// Proc is a child process whose output is collected while it runs.
type Proc struct {
	Cmd *exec.Cmd
	Out *SyncBuffer
}

// Start starts cmd with its stdout and stderr collected.
func Start(t testing.TB, cmd *exec.Cmd) *Proc {
	t.Helper()
	p := &Proc{Cmd: cmd, Out: &SyncBuffer{}}
	cmd.Stdout, cmd.Stderr = p.Out, p.Out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return p
}

// Wait waits for the process to end and returns all it wrote.
func (p *Proc) Wait() (string, error) {
	err := p.Cmd.Wait()
	return p.Out.String(), err
}

// Kill sends SIGKILL, which the process cannot catch, and reaps it.
func (p *Proc) Kill() {
	_ = p.Cmd.Process.Signal(syscall.SIGKILL)
	_ = p.Cmd.Wait()
}

// WaitOutput waits until the output holds s, or d has passed; it reports
// whether s came.
func (p *Proc) WaitOutput(s string, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for !strings.Contains(p.Out.String(), s) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(time.Millisecond)
	}
	return true
}

// SyncBuffer is a bytes.Buffer a child process writes to while the test
// reads it.
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Bytes returns a copy of what was written so far.
func (b *SyncBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]byte(nil), b.buf.Bytes()...)
}

// KillAndResume is the loop of a kill-and-resume suite. Each round, Start
// starts a child process running the work; the loop sleeps a random instant
// in [0, Full], kills the child with SIGKILL, and calls Resume, which
// brings the work to its end and compares the end state with an
// uninterrupted run's (failing the test if they differ). Resume reports
// whether the kill landed mid-run.
type KillAndResume struct {
	// Rounds is how many rounds run at least.
	Rounds int
	// MidRun, when above zero, keeps rounds going (up to 2×Rounds) until
	// that many kills have landed mid-run: Full was measured once, maybe on
	// a quieter machine than the rounds run on.
	MidRun int
	// Full is how long an uninterrupted run takes.
	Full time.Duration
	// Rand picks the kill instants; log its seed to replay a failure.
	Rand *rand.Rand
	// Start starts round's child process.
	Start func(round int) *exec.Cmd
	// Resume resumes after the kill and checks the end state. exit is the
	// killed child's Wait error (nil if it had ended on its own first).
	Resume func(round int, delay time.Duration, exit error) (midRun bool)
}

// Run plays the rounds and returns how many were played and how many kills
// landed mid-run.
func (k KillAndResume) Run(t testing.TB) (played, midRun int) {
	t.Helper()
	for i := 0; i < k.Rounds || midRun < k.MidRun && i < 2*k.Rounds; i++ {
		played++
		cmd := k.Start(i)
		delay := time.Duration(k.Rand.Int63n(int64(k.Full) + 1))
		time.Sleep(delay)
		_ = cmd.Process.Signal(syscall.SIGKILL)
		exit := cmd.Wait()
		if k.Resume(i, delay, exit) {
			midRun++
		}
	}
	return played, midRun
}

// RunSummary is one line of `rebind runs --json`.
type RunSummary struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	Error  string `json:"error"`
}

// ListRuns runs `runs --json` with cmd's settings and decodes it.
func ListRuns(t testing.TB, cmd *exec.Cmd) []RunSummary {
	t.Helper()
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("runs --json: %v", err)
	}
	var runs []RunSummary
	if err := json.Unmarshal(out, &runs); err != nil {
		t.Fatalf("runs --json: %v\n%s", err, out)
	}
	return runs
}

// Journal is `rebind runs show ID --json`: a run's status and records.
type Journal struct {
	Status  string `json:"status"`
	Records []struct {
		Kind string          `json:"kind"`
		Step string          `json:"step"`
		Data json.RawMessage `json:"data"`
	} `json:"records"`
}

// ShowRun runs `runs show ID --json` with cmd's settings and decodes it.
func ShowRun(t testing.TB, cmd *exec.Cmd) Journal {
	t.Helper()
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("runs show: %v", err)
	}
	var v Journal
	if err := json.Unmarshal(out, &v); err != nil {
		t.Fatalf("runs show: %v\n%s", err, out)
	}
	return v
}

// InDoubt lists instances whose last intent has no outcome or failure.
func (j Journal) InDoubt() []string {
	open := map[string]bool{}
	var order []string
	for _, r := range j.Records {
		switch r.Kind {
		case "intent":
			if !open[r.Step] {
				order = append(order, r.Step)
			}
			open[r.Step] = true
		case "outcome", "failure":
			open[r.Step] = false
		}
	}
	var out []string
	for _, a := range order {
		if open[a] {
			out = append(out, a)
		}
	}
	return out
}

// HasDecision reports whether the journal records a decision for addr.
func (j Journal) HasDecision(addr string) bool {
	for _, r := range j.Records {
		if r.Kind == "decision" && r.Step == addr {
			return true
		}
	}
	return false
}

// FirstLine returns the first line a child process writes to out (a pipe),
// trimmed, and reads the rest of out into the void so the child never
// blocks on it; ok is false when no line came within d. A server such as
// `rebind lab serve` prints its URL so.
func FirstLine(out io.Reader, d time.Duration) (line string, ok bool) {
	lines := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(out).ReadString('\n')
		lines <- strings.TrimSpace(s)
		_, _ = io.Copy(io.Discard, out)
	}()
	select {
	case line = <-lines:
		return line, true
	case <-time.After(d):
		return "", false
	}
}

// WriteFile writes content to path, creating its folder.
func WriteFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
