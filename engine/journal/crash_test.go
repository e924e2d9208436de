package journal

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The crash tests re-execute the test binary as a child (as os/exec's tests
// do) and kill it with SIGKILL, which no Go code can intercept.
const childEnv = "REBIND_JOURNAL_TEST_CHILD"

func TestMain(m *testing.M) {
	switch os.Getenv(childEnv) {
	case "":
		os.Exit(m.Run())
	case "append":
		childAppend()
	case "claim":
		childClaim()
	}
	os.Exit(3)
}

// crashJournal skips in -short mode (the crash tests start a child
// process), and returns a journal in a fresh folder with one run.
func crashJournal(t *testing.T) (dir string, s *Store, run Run) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a child process")
	}
	dir = t.TempDir()
	s = openStore(t, dir)
	return dir, s, createRun(t, s, Run{})
}

// startChild re-executes the test binary as a child that plays role (see
// TestMain) on the run runID of the journal in dir, and returns it started,
// with its standard output.
func startChild(t *testing.T, role, dir, runID string) (*exec.Cmd, io.Reader) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+role, "JOURNAL_DIR="+dir, "JOURNAL_RUN="+runID)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, stdout
}

// childStore opens, in a child, the journal its parent named, or exits 2.
func childStore() *Store {
	s, err := Open(os.Getenv("JOURNAL_DIR"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	return s
}

const crashWorkers = 4

// childAppend journals steps the way the engine does, from several
// goroutines: intent 0, then for each step the lazy outcome of step i and the
// durable intent of step i+1. It prints "ack <worker> <i>" once intent i is
// acknowledged, and runs until killed.
func childAppend() {
	ctx := context.Background()
	s := childStore()
	runID := os.Getenv("JOURNAL_RUN")
	var mu sync.Mutex
	out := bufio.NewWriter(os.Stdout)
	for w := range crashWorkers {
		go func() {
			step := fmt.Sprintf("step.w[%d]", w)
			for i := 0; ; i++ {
				if i > 0 {
					if err := s.AppendLazy(ctx, Record{RunID: runID, Kind: KindOutcome, Step: step, Attempt: i - 1}); err != nil {
						panic(err)
					}
				}
				if _, err := s.Append(ctx, Record{RunID: runID, Kind: KindIntent, Step: step, Attempt: i}); err != nil {
					panic(err)
				}
				mu.Lock()
				fmt.Fprintf(out, "ack %d %d\n", w, i)
				out.Flush()
				mu.Unlock()
			}
		}()
	}
	select {}
}

func TestCrashKeepsAcknowledgedRecords(t *testing.T) {
	dir, s, run := crashJournal(t)
	s.Close()

	cmd, stdout := startChild(t, "append", dir, run.ID)
	acked := make([]int, crashWorkers)
	for i := range acked {
		acked[i] = -1
	}
	sc := bufio.NewScanner(stdout)
	for n := 0; n < 400 && sc.Scan(); n++ {
		var w, i int
		if _, err := fmt.Sscanf(sc.Text(), "ack %d %d", &w, &i); err != nil {
			t.Fatalf("child said %q", sc.Text())
		}
		acked[w] = i
	}
	// Kill it mid-stream: appends are in flight.
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for sc.Scan() { // acknowledgements printed before it died still count
		var w, i int
		if _, err := fmt.Sscanf(sc.Text(), "ack %d %d", &w, &i); err == nil {
			acked[w] = i
		}
	}
	cmd.Wait()

	s = openStore(t, dir)
	recs := records(t, s, run.ID)
	// Each worker's records must be exactly a prefix of what it submitted
	// (I0, O0, I1, O1, ...) covering every acknowledged intent.
	next := make([]int, crashWorkers) // index into the worker's sequence
	for _, r := range recs {
		var w int
		if _, err := fmt.Sscanf(r.Step, "step.w[%d]", &w); err != nil {
			t.Fatalf("unexpected record %+v", r)
		}
		k := next[w]
		wantKind, wantAttempt := KindIntent, k/2
		if k%2 == 1 {
			wantKind = KindOutcome
		}
		if r.Kind != wantKind || r.Attempt != wantAttempt {
			t.Fatalf("worker %d record %d is %s %d, want %s %d", w, k, r.Kind, r.Attempt, wantKind, wantAttempt)
		}
		next[w]++
	}
	for w := range crashWorkers {
		if acked[w] < 0 {
			t.Fatalf("worker %d acknowledged nothing", w)
		}
		if have := (next[w] + 1) / 2; have <= acked[w] {
			t.Errorf("worker %d: intent %d was acknowledged, journal has intents up to %d", w, acked[w], have-1)
		}
		t.Logf("worker %d: acknowledged intent %d, journal holds %d records", w, acked[w], next[w])
	}
}

// childClaim claims the run, says so, and waits to be killed.
func childClaim() {
	s := childStore()
	if _, err := s.Claim(os.Getenv("JOURNAL_RUN")); err != nil {
		fmt.Println("error", err)
		os.Exit(2)
	}
	fmt.Println("claimed")
	time.Sleep(time.Minute)
	os.Exit(4)
}

func TestClaimAcrossProcessesReleasedOnKill(t *testing.T) {
	dir, s, run := crashJournal(t)

	cmd, stdout := startChild(t, "claim", dir, run.ID)
	defer cmd.Process.Kill()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "claimed" {
		t.Fatalf("child said %q, %v", line, err)
	}

	_, err = s.Claim(run.ID)
	if !errors.Is(err, ErrBusy) {
		t.Fatalf("Claim while the child holds it = %v, want ErrBusy", err)
	}
	if !strings.Contains(err.Error(), strconv.Itoa(cmd.Process.Pid)) {
		t.Errorf("error %q does not name the child's pid %d", err, cmd.Process.Pid)
	}

	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	release, err := s.Claim(run.ID)
	if err != nil {
		t.Fatalf("Claim after the holder was killed: %v", err)
	}
	release()
}
