package journal

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Journal is the contract the engine and the command line hold a journal
// to, whatever keeps it: *Store, the embedded SQLite journal in a state
// directory (the default), or *PGStore, a PostgreSQL database that every
// machine of a team reaches (--state postgres://...). The same contract
// tests (contract_test.go) run against both.
//
// Every backend follows the method docs of *Store. Lock refuses an object
// held by another run with a *LockError naming the holding run and, where
// the backend records them (PostgreSQL), its user and host. The PostgreSQL
// journal also fences writes (see PGStore): a write for a run another live
// process has claimed fails with ErrBusy, and a write by a process whose
// lease ran out fails with ErrLeaseLost. The SQLite journal, on one machine,
// relies on the kernel dropping a dead process's claim instead.
type Journal interface {
	CreateRun(ctx context.Context, r Run) (Run, error)
	CreateRunLocking(ctx context.Context, r Run, objects []string) (Run, error)
	Run(ctx context.Context, id string) (Run, error)
	Runs(ctx context.Context) ([]Run, error)
	SetStatus(ctx context.Context, id string, st RunStatus, errText string) error

	Append(ctx context.Context, rec Record) (int64, error)
	AppendLazy(ctx context.Context, rec Record) error
	Flush(ctx context.Context) error
	Records(ctx context.Context, runID string) ([]Record, error)
	// RecordsPage is a page of Records and how many there are in all;
	// Summary counts a run's instances by state, per step, without reading
	// any payload. `runs show` of a 100,000-instance run uses both.
	RecordsPage(ctx context.Context, runID string, offset, limit int) ([]Record, int, error)
	Summary(ctx context.Context, runID string) ([]StepSummary, error)
	// Heads is Records without payloads, and RecordData the payloads of
	// the records a caller names: resume reads a 100,000-instance run
	// with them.
	Heads(ctx context.Context, runID string) ([]Record, error)
	RecordData(ctx context.Context, runID string, seqs []int64) (map[int64][]byte, error)
	ApproveStep(ctx context.Context, runID, step, by string) error
	StepApproval(ctx context.Context, runID, step string) (bool, string, error)

	Lock(ctx context.Context, runID string, objects []string) error
	Unlock(ctx context.Context, runID string) error
	Locks(ctx context.Context) (map[string]string, error)

	// Claim takes the process-level claim on a run: one process works a
	// run at a time. release drops it; calling release again does nothing.
	Claim(runID string) (release func() error, err error)
	// Lease reports who, if anyone, holds the claim on a run.
	Lease(ctx context.Context, runID string) (Lease, error)

	// StateKey is the secret key rebind keys fingerprints of sensitive
	// values with; every process sharing the journal shares it.
	StateKey() ([]byte, error)
	// Where names the journal for messages, with no password in it.
	Where() string
	Close() error
}

var (
	_ Journal = (*Store)(nil)
	_ Journal = (*PGStore)(nil)
)

// ErrLeaseLost is returned by every write a process makes on a run after its
// claim on the run was lost: its lease ran out (a network cut, a long pause)
// and another process may have taken the run over. The process must stop
// working the run; `rebind resume` on any machine continues it.
var ErrLeaseLost = errors.New("journal: this process lost its claim on the run")

// LeaseState says whether a run is claimed.
type LeaseState string

// The lease states.
const (
	LeaseFree    LeaseState = "free"    // nobody holds the run
	LeaseHeld    LeaseState = "held"    // a live process holds it
	LeaseExpired LeaseState = "expired" // its holder stopped renewing; resume may take it over
)

// Lease is who holds the claim on a run.
type Lease struct {
	State LeaseState
	// Holder names the holding process, e.g. "ana@host-a (process 4242)";
	// for an expired lease, the last holder.
	Holder string
	User   string
	Host   string
	PID    int
	// Token is the fencing token of the claim (PostgreSQL): it grows with
	// every claim, and a write carries it.
	Token int64
	// Expires is when the lease runs out unless renewed (PostgreSQL; zero
	// for the SQLite journal, whose claim is a file lock the kernel drops
	// when the holder dies).
	Expires time.Time
}

// String says where the lease stands, for `runs` and `runs show`.
func (l Lease) String() string {
	switch l.State {
	case LeaseHeld:
		if l.Expires.IsZero() {
			return "held by " + l.Holder
		}
		return fmt.Sprintf("held by %s until %s", l.Holder, l.Expires.Local().Format("15:04:05"))
	case LeaseExpired:
		return fmt.Sprintf("expired (was %s, %s)", l.Holder, l.Expires.Local().Format("15:04:05"))
	}
	return string(LeaseFree)
}

// OpenState opens the journal named by state, a postgres:// or
// postgresql:// URL, or, when state is empty, the SQLite journal in the
// state directory dir. log receives what the journal must tell the person
// running rebind (a claim taken over from an expired holder, a lease lost);
// nil discards it.
func OpenState(ctx context.Context, state, dir string, log io.Writer) (Journal, error) {
	if state == "" {
		return Open(dir)
	}
	if strings.HasPrefix(state, "postgres://") || strings.HasPrefix(state, "postgresql://") {
		return OpenPG(ctx, state, PGOptions{Log: log})
	}
	return nil, fmt.Errorf("journal: state %q: want a postgres:// or postgresql:// URL, or no --state for the journal in the state directory", redactURL(state))
}

// Lease reports whether a process holds the claim on run runID: it tries
// the claim's file lock without waiting, and gives it back at once.
func (s *Store) Lease(ctx context.Context, runID string) (Lease, error) {
	if err := s.checkRun(ctx, runID); err != nil {
		return Lease{}, err
	}
	path := filepath.Join(s.dir, "runs", runID+".lock")
	f, err := os.OpenFile(path, os.O_RDONLY, 0)
	if errors.Is(err, os.ErrNotExist) {
		return Lease{State: LeaseFree}, nil
	}
	if err != nil {
		return Lease{}, fmt.Errorf("journal: lease of run %s: %w", runID, err)
	}
	defer f.Close()
	if err := flock(f, unix.LOCK_SH|unix.LOCK_NB); err == nil {
		flock(f, unix.LOCK_UN)
		return Lease{State: LeaseFree}, nil
	} else if !errors.Is(err, unix.EWOULDBLOCK) {
		return Lease{}, fmt.Errorf("journal: lease of run %s: %w", runID, err)
	}
	holder, _ := os.ReadFile(path)
	l := Lease{State: LeaseHeld, Holder: "a process on this machine"}
	if pid := strings.TrimSpace(string(holder)); pid != "" {
		l.Holder = "process " + pid
		fmt.Sscan(pid, &l.PID)
	}
	return l, nil
}

// StateKey returns the state directory's secret key (see StateKey).
func (s *Store) StateKey() ([]byte, error) { return StateKey(s.dir) }

// Where names the journal's file.
func (s *Store) Where() string { return s.path }
