package journal

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"

	"time"

	"github.com/jackc/pgx/v5"
)

// checkRun returns ErrNotFound (naming id) unless run id exists. Runs are
// never deleted, so a run once seen is remembered; a lookup that loses its
// connection is tried again, as a commit is.
func (s *PGStore) checkRun(ctx context.Context, id string) error {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return ErrClosed
	}
	if id == "" {
		return fmt.Errorf("%w: empty id", ErrNotFound)
	}
	if _, ok := s.known.Load(id); ok {
		return nil
	}
	var n int
	err := s.retry(ctx, func() error {
		return s.pool.QueryRow(ctx, `SELECT count(*) FROM rebind_runs WHERE id = $1`, id).Scan(&n)
	})
	if err != nil {
		return s.errf("journal: look up run %s: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	s.known.Store(id, true)
	return nil
}

// retry runs f again while it fails for a lost connection, for up to the
// lease's length: reads wait out a server restart as commits do.
func (s *PGStore) retry(ctx context.Context, f func() error) error {
	start := time.Now()
	backoff := 50 * time.Millisecond
	for {
		err := f()
		if !retryable(err) || time.Since(start) > s.opt.Lease || ctx.Err() != nil {
			return err
		}
		time.Sleep(backoff)
		backoff = min(2*backoff, time.Second)
	}
}

// CreateRun records a new run, as (*Store).CreateRun does, with the user and
// host that created it.
func (s *PGStore) CreateRun(ctx context.Context, r Run) (Run, error) {
	return s.createRun(ctx, r, nil)
}

// CreateRunLocking is CreateRun and Lock in one transaction, as
// (*Store).CreateRunLocking is; the *LockError names the holding run's
// user and host.
func (s *PGStore) CreateRunLocking(ctx context.Context, r Run, objects []string) (Run, error) {
	if err := checkObjects(objects); err != nil {
		return Run{}, fmt.Errorf("journal: create run: %w", err)
	}
	return s.createRun(ctx, r, objects)
}

func (s *PGStore) createRun(ctx context.Context, r Run, objects []string) (Run, error) {
	now := time.Now().UTC()
	if err := newRun(&r, now); err != nil {
		return Run{}, err
	}
	if r.User == "" {
		r.User = s.opt.User
	}
	if r.Host == "" {
		r.Host = s.opt.Host
	}
	r.Inputs, r.Plan = bytes.Clone(r.Inputs), bytes.Clone(r.Plan)
	chosen, nonce := r.ID, newUID()
	o := &pgOp{apply: func(ctx context.Context, tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(runsLockKey)); err != nil {
			return err
		}
		// A commit whose answer was lost, tried again: the run is there.
		var done string
		err := tx.QueryRow(ctx, `SELECT id FROM rebind_runs WHERE nonce = $1`, nonce).Scan(&done)
		if err == nil {
			r.ID = done
			return nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		if r.PlanDigest != "" {
			var other, user, host string
			err := tx.QueryRow(ctx, `SELECT id, os_user, host FROM rebind_runs WHERE plan_digest = $1`, r.PlanDigest).Scan(&other, &user, &host)
			if err == nil {
				return fmt.Errorf("%w: plan %s was applied by run %s (started by %s on %s)", ErrPlanApplied, r.PlanDigest, other, user, host)
			}
			if !errors.Is(err, pgx.ErrNoRows) {
				return err
			}
		}
		if chosen == "" {
			var last string
			err := tx.QueryRow(ctx, `SELECT id FROM rebind_runs WHERE id ~ '^[0-9]{8}T[0-9]{6}-[0-9a-f]{4}$' ORDER BY id DESC LIMIT 1`).Scan(&last)
			if err != nil && !errors.Is(err, pgx.ErrNoRows) {
				return err
			}
			r.ID = nextID(now, last)
		} else {
			var n int
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM rebind_runs WHERE id = $1`, chosen).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return fmt.Errorf("%w: %s", ErrRunExists, chosen)
			}
		}
		_, err = tx.Exec(ctx, `INSERT INTO rebind_runs (id, nonce, runbook, runbook_digest, plan_digest, author, dir, os_user, host, inputs, plan, status, error, created, updated)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
			r.ID, nonce, r.Runbook, r.RunbookDigest, r.PlanDigest, r.Author, r.Dir, r.User, r.Host,
			nilIfEmpty(r.Inputs), nilIfEmpty(r.Plan), string(r.Status), r.Error, now.UnixNano(), now.UnixNano())
		if err != nil {
			return err
		}
		return s.takeLocks(ctx, tx, r.ID, objects, now.UnixNano())
	}}
	if err := s.submit(ctx, o); err != nil {
		var le *LockError
		if errors.Is(err, ErrPlanApplied) || errors.Is(err, ErrRunExists) || errors.As(err, &le) {
			return Run{}, err
		}
		return Run{}, s.errf("journal: create run: %w", err)
	}
	s.known.Store(r.ID, true)
	return r, nil
}

// takeLocks takes objects for runID inside the batch's transaction. An
// object another transaction is inserting waits for it (the primary key),
// so two machines locking one object at once: one wins, the other gets a
// *LockError. The rows are inserted in sorted order, whatever the order
// given: two transactions inserting overlapping objects in opposite orders
// would each wait for the other until PostgreSQL ended one as a deadlock
// ("acquire locks on multiple objects in a consistent order",
// https://www.postgresql.org/docs/current/explicit-locking.html#LOCKING-DEADLOCKS).
// The holders are then read in the order given, so the *LockError names
// the first held object in that order, as (*Store).Lock's does.
func (s *PGStore) takeLocks(ctx context.Context, tx pgx.Tx, runID string, objects []string, now int64) error {
	sorted := slices.Clone(objects)
	slices.Sort(sorted)
	for _, obj := range slices.Compact(sorted) {
		if _, err := tx.Exec(ctx, `INSERT INTO rebind_locks (object, run_id, acquired) VALUES ($1, $2, $3) ON CONFLICT (object) DO NOTHING`, obj, runID, now); err != nil {
			return err
		}
	}
	for _, obj := range objects {
		var holder, user, host string
		if err := tx.QueryRow(ctx, `SELECT l.run_id, r.os_user, r.host FROM rebind_locks l JOIN rebind_runs r ON r.id = l.run_id WHERE l.object = $1`, obj).Scan(&holder, &user, &host); err != nil {
			return err
		}
		if holder != runID {
			return &LockError{Object: obj, HeldBy: holder, User: user, Host: host}
		}
	}
	return nil
}

// Lock takes objects for run runID, all or none, as (*Store).Lock does.
func (s *PGStore) Lock(ctx context.Context, runID string, objects []string) error {
	if err := s.checkRun(ctx, runID); err != nil {
		return err
	}
	if err := checkObjects(objects); err != nil {
		return fmt.Errorf("journal: lock for run %s: %w", runID, err)
	}
	now := time.Now().UnixNano()
	o := &pgOp{run: runID, apply: func(ctx context.Context, tx pgx.Tx) error {
		return s.takeLocks(ctx, tx, runID, objects, now)
	}}
	if err := s.submit(ctx, o); err != nil {
		var le *LockError
		if errors.As(err, &le) {
			return err
		}
		return s.errf("journal: lock for run %s: %w", runID, err)
	}
	return nil
}

// Unlock releases every object run runID holds.
func (s *PGStore) Unlock(ctx context.Context, runID string) error {
	o := &pgOp{run: runID, apply: func(ctx context.Context, tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `DELETE FROM rebind_locks WHERE run_id = $1`, runID)
		return err
	}}
	if err := s.submit(ctx, o); err != nil {
		return s.errf("journal: unlock run %s: %w", runID, err)
	}
	return nil
}

// Locks returns every held object and the run holding it.
func (s *PGStore) Locks(ctx context.Context) (map[string]string, error) {
	var locks map[string]string
	err := s.retry(ctx, func() error {
		rows, err := s.pool.Query(ctx, `SELECT object, run_id FROM rebind_locks`)
		if err != nil {
			return err
		}
		defer rows.Close()
		locks = make(map[string]string)
		for rows.Next() {
			var obj, run string
			if err := rows.Scan(&obj, &run); err != nil {
				return err
			}
			locks[obj] = run
		}
		return rows.Err()
	})
	if err != nil {
		return nil, s.errf("journal: locks: %w", err)
	}
	return locks, nil
}

// SetStatus sets a run's status and error text and appends a "status"
// record, as (*Store).SetStatus does.
func (s *PGStore) SetStatus(ctx context.Context, id string, st RunStatus, errText string) error {
	data, err := statusData(ctx, s.checkRun, id, st)
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	uid := newUID()
	o := &pgOp{run: id, apply: func(ctx context.Context, tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE rebind_runs SET status = $1, error = $2, updated = $3 WHERE id = $4`, string(st), errText, now.UnixNano(), id)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("%w: %s", ErrNotFound, id)
		}
		_, err = s.insertRecord(ctx, tx, uid, Record{RunID: id, Time: now, Kind: KindStatus, Data: data, Error: errText})
		return err
	}}
	if err := s.submit(ctx, o); err != nil {
		return s.errf("journal: set status of run %s: %w", id, err)
	}
	return nil
}

// insertRecord writes rec once under uid, carrying this process's fencing
// token for the run (0 without a claim), and returns its seq.
func (s *PGStore) insertRecord(ctx context.Context, tx pgx.Tx, uid string, rec Record) (int64, error) {
	var fence int64
	if c := s.claim(rec.RunID); c != nil {
		fence = c.token
	}
	var seq int64
	err := tx.QueryRow(ctx, `INSERT INTO rebind_records (uid, run_id, time, kind, step, attempt, data, error, fence)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (uid) DO NOTHING RETURNING seq`,
		uid, rec.RunID, rec.Time.UnixNano(), string(rec.Kind), rec.Step, rec.Attempt, nilIfEmpty(rec.Data), rec.Error, fence).Scan(&seq)
	if errors.Is(err, pgx.ErrNoRows) { // written by a commit whose answer was lost
		err = tx.QueryRow(ctx, `SELECT seq FROM rebind_records WHERE uid = $1`, uid).Scan(&seq)
	}
	return seq, err
}

// Append writes rec and returns its seq once it is committed, together with
// every lazy record appended before it, as (*Store).Append does; the write is
// fenced by this process's claim on the run.
func (s *PGStore) Append(ctx context.Context, rec Record) (int64, error) {
	if err := prepareRecord(ctx, s.checkRun, &rec); err != nil {
		return 0, err
	}
	var seq int64
	uid := newUID()
	o := &pgOp{run: rec.RunID, apply: func(ctx context.Context, tx pgx.Tx) error {
		var err error
		seq, err = s.insertRecord(ctx, tx, uid, rec)
		return err
	}}
	if err := s.submit(ctx, o); err != nil {
		return 0, s.errf("journal: append %s %s: %w", rec.Kind, rec.Step, err)
	}
	return seq, nil
}

// AppendLazy queues rec to be committed with the next durable write, as
// (*Store).AppendLazy does.
func (s *PGStore) AppendLazy(ctx context.Context, rec Record) error {
	if err := prepareRecord(ctx, s.checkRun, &rec); err != nil {
		return err
	}
	uid := newUID()
	o := &pgOp{run: rec.RunID, waiter: waiter{lazy: true}, apply: func(ctx context.Context, tx pgx.Tx) error {
		_, err := s.insertRecord(ctx, tx, uid, rec)
		return err
	}}
	if err := s.submit(ctx, o); err != nil {
		return fmt.Errorf("journal: append %s %s: %w", rec.Kind, rec.Step, err)
	}
	return nil
}

// Records returns a run's records in Seq order, lazy ones flushed first.
func (s *PGStore) Records(ctx context.Context, runID string) ([]Record, error) {
	if err := flushedRun(ctx, s, runID, "records"); err != nil {
		return nil, err
	}
	recs, err := pgQueryAll(ctx, s, scanRecord, `SELECT `+recordColumns+` FROM rebind_records WHERE run_id = $1 ORDER BY seq`, runID)
	if err != nil {
		return nil, s.errf("journal: records of run %s: %w", runID, err)
	}
	return recs, nil
}

// ApproveStep records that by approved step of run runID.
func (s *PGStore) ApproveStep(ctx context.Context, runID, step, by string) error {
	rec, err := approvalRecord(runID, step, by)
	if err != nil {
		return err
	}
	_, err = s.Append(ctx, rec)
	return err
}

// StepApproval reports whether step of run runID was approved, and by whom.
func (s *PGStore) StepApproval(ctx context.Context, runID, step string) (bool, string, error) {
	if err := s.checkRun(ctx, runID); err != nil {
		return false, "", err
	}
	var data []byte
	err := s.retry(ctx, func() error {
		return s.pool.QueryRow(ctx, `SELECT data FROM rebind_records WHERE run_id = $1 AND kind = $2 AND step = $3 ORDER BY seq DESC LIMIT 1`,
			runID, string(KindStepApproval), step).Scan(&data)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return false, "", nil
	}
	if err != nil {
		return false, "", s.errf("journal: approval of %s in run %s: %w", step, runID, err)
	}
	by, err := approver(runID, step, data)
	if err != nil {
		return false, "", err
	}
	return true, by, nil
}

const pgRunColumns = `id, runbook, runbook_digest, plan_digest, author, dir, os_user, host, inputs, plan, status, error, created, updated`

func pgScanRun(sc scanner) (Run, error) {
	var r Run
	var status string
	var created, updated int64
	err := sc.Scan(&r.ID, &r.Runbook, &r.RunbookDigest, &r.PlanDigest, &r.Author, &r.Dir, &r.User, &r.Host,
		&r.Inputs, &r.Plan, &status, &r.Error, &created, &updated)
	finishRun(&r, status, created, updated)
	return r, err
}

// Run returns the run with the given id, or the one run whose id starts
// with it, as (*Store).Run does.
func (s *PGStore) Run(ctx context.Context, id string) (Run, error) {
	if id == "" {
		return Run{}, fmt.Errorf("%w: empty id", ErrNotFound)
	}
	var r Run
	err := s.retry(ctx, func() (err error) {
		r, err = pgScanRun(s.pool.QueryRow(ctx, `SELECT `+pgRunColumns+` FROM rebind_runs WHERE id = $1`, id))
		return err
	})
	if err == nil {
		return r, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return Run{}, s.errf("journal: run %s: %w", id, err)
	}
	runs, err := pgQueryAll(ctx, s, pgScanRun, `SELECT `+pgRunColumns+` FROM rebind_runs WHERE left(id, length($1)) = $1 ORDER BY n LIMIT 3`, id)
	if err != nil {
		return Run{}, s.errf("journal: run %s: %w", id, err)
	}
	return pickRun(id, runs)
}

// Runs returns every run, oldest first.
func (s *PGStore) Runs(ctx context.Context) ([]Run, error) {
	runs, err := pgQueryAll(ctx, s, pgScanRun, `SELECT `+pgRunColumns+` FROM rebind_runs ORDER BY n`)
	if err != nil {
		return nil, s.errf("journal: runs: %w", err)
	}
	return runs, nil
}

// pgQueryAll runs query on s's pool, tried again as s.retry does, and
// reads every row with scan.
func pgQueryAll[T any](ctx context.Context, s *PGStore, scan func(scanner) (T, error), query string, args ...any) ([]T, error) {
	var out []T
	err := s.retry(ctx, func() error {
		rows, err := s.pool.Query(ctx, query, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		out, err = collect(rows, scan)
		return err
	})
	return out, err
}

// nilIfEmpty stores an empty payload as NULL.
func nilIfEmpty(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}
