package journal

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Lock takes objects (target object keys, e.g. an Entra object id) for run
// runID, all or none: when another run holds any of them, nothing is taken
// and the error is a *LockError naming the first held object in the order
// given (errors.Is(err, ErrLocked) holds). Objects the run already holds are
// fine. Locks live in the journal, so they hold across processes and
// crashes until Unlock: a crashed run keeps its objects until it is resumed
// or rolled back to the end. CreateRunLocking creates a run and takes its
// locks at once.
func (s *Store) Lock(ctx context.Context, runID string, objects []string) error {
	if err := s.checkRun(ctx, runID); err != nil {
		return err
	}
	if err := checkObjects(objects); err != nil {
		return fmt.Errorf("journal: lock for run %s: %w", runID, err)
	}
	now := time.Now().UnixNano()
	o := &op{apply: func(ctx context.Context) error {
		return s.takeLocks(ctx, runID, objects, now)
	}}
	if err := s.submit(ctx, o); err != nil {
		var le *LockError
		if errors.As(err, &le) {
			return err
		}
		return fmt.Errorf("journal: lock for run %s: %w", runID, err)
	}
	return nil
}

// checkObjects refuses an empty object name before anything is queued.
func checkObjects(objects []string) error {
	for _, obj := range objects {
		if obj == "" {
			return errors.New("empty object name")
		}
	}
	return nil
}

// takeLocks takes objects for runID inside the committer's transaction; a
// *LockError makes the committer roll the transaction back.
func (s *Store) takeLocks(ctx context.Context, runID string, objects []string, now int64) error {
	c := s.wconn
	for _, obj := range objects {
		var holder string
		err := c.QueryRowContext(ctx, `SELECT run_id FROM locks WHERE object = ?`, obj).Scan(&holder)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			if _, err := c.ExecContext(ctx, `INSERT INTO locks (object, run_id, acquired) VALUES (?, ?, ?)`, obj, runID, now); err != nil {
				return err
			}
		case err != nil:
			return err
		case holder != runID:
			return &LockError{Object: obj, HeldBy: holder}
		}
	}
	return nil
}

// Unlock releases every object run runID holds. Releasing none is not an
// error.
func (s *Store) Unlock(ctx context.Context, runID string) error {
	o := &op{apply: func(ctx context.Context) error {
		_, err := s.wconn.ExecContext(ctx, `DELETE FROM locks WHERE run_id = ?`, runID)
		return err
	}}
	if err := s.submit(ctx, o); err != nil {
		return fmt.Errorf("journal: unlock run %s: %w", runID, err)
	}
	return nil
}

// Locks returns every held object and the run holding it.
func (s *Store) Locks(ctx context.Context) (map[string]string, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT object, run_id FROM locks`)
	if err != nil {
		return nil, fmt.Errorf("journal: locks: %w", err)
	}
	defer rows.Close()
	locks := make(map[string]string)
	for rows.Next() {
		var obj, run string
		if err := rows.Scan(&obj, &run); err != nil {
			return nil, fmt.Errorf("journal: locks: %w", err)
		}
		locks[obj] = run
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("journal: locks: %w", err)
	}
	return locks, nil
}

// Claim takes the process-level claim on run runID, so that two processes
// (two `rebind resume RUN`, or a resume and a rollback) cannot work one run
// at once. It is an exclusive flock(2) on <dir>/runs/<id>.lock, which the
// kernel releases when the process dies, kill -9 included: a crash never
// leaves a run claimed. Claim does not wait: a claim held elsewhere, by
// another process or by an unreleased claim in this one, is ErrBusy, naming
// the holder's process id when known. release drops the claim; calling it
// again does nothing.
func (s *Store) Claim(runID string) (release func() error, err error) {
	if !validID.MatchString(runID) {
		return nil, fmt.Errorf("%w: %q", ErrNotFound, runID)
	}
	if err := s.checkRun(context.Background(), runID); err != nil {
		return nil, err
	}
	path := filepath.Join(s.dir, "runs", runID+".lock")
	// O_CLOEXEC (set by os.OpenFile) keeps the lock from being inherited by
	// commands the run starts, which would otherwise hold it after we die.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("journal: claim run %s: %w", runID, err)
	}
	if err := flock(f, unix.LOCK_EX|unix.LOCK_NB); err != nil {
		holder, _ := os.ReadFile(path)
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			if pid := strings.TrimSpace(string(holder)); pid != "" {
				return nil, fmt.Errorf("%w: run %s is claimed by process %s", ErrBusy, runID, pid)
			}
			return nil, fmt.Errorf("%w: run %s", ErrBusy, runID)
		}
		return nil, fmt.Errorf("journal: claim run %s: %w", runID, err)
	}
	// The holder's pid is for the error above only; the lock is the flock.
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	var once sync.Once
	return func() error {
		var err error
		once.Do(func() {
			// Empty the pid first: once unlocked, the file is another's.
			f.Truncate(0)
			err = errors.Join(flock(f, unix.LOCK_UN), f.Close())
			if err != nil {
				err = fmt.Errorf("journal: release run %s: %w", runID, err)
			}
		})
		return err
	}, nil
}

// flock calls flock(2), retrying when a signal interrupts it.
func flock(f *os.File, how int) error {
	for {
		err := unix.Flock(int(f.Fd()), how)
		if !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}
