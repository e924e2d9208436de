package journal

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"regexp"
	"strconv"
	"time"
)

// idLayout is the time part of an assigned run id.
const idLayout = "20060102T150405"

// assignedID matches the ids CreateRun assigns; validID, any id it accepts.
var (
	assignedID = regexp.MustCompile(`^[0-9]{8}T[0-9]{6}-[0-9a-f]{4}$`)
	validID    = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)
)

// nextID returns an id for a run created at now that sorts after last, the
// greatest id assigned so far ("" for none). The four hex digits start
// random, so that ids from different journals rarely collide, and below
// 0x8000, so that a burst within one second can count up from them; an id
// that would not sort after last is last plus one instead, which keeps ids in
// creation order across processes and clock steps back.
func nextID(now time.Time, last string) string {
	id := fmt.Sprintf("%s-%04x", now.UTC().Format(idLayout), rand.IntN(0x8000))
	if last == "" || id > last {
		return id
	}
	t, err := time.Parse(idLayout, last[:15])
	n, err2 := strconv.ParseUint(last[16:], 16, 16)
	if err != nil || err2 != nil { // cannot happen: last matched assignedID
		return id
	}
	if n < 0xffff {
		return fmt.Sprintf("%s-%04x", last[:15], n+1)
	}
	return t.Add(time.Second).Format(idLayout) + "-0000"
}

// CreateRun records a new run and returns it as stored: its ID assigned when
// r.ID was empty, Status "running" when empty, Created and Updated set. A
// run for a PlanDigest already used fails with ErrPlanApplied (naming the
// run that applied it); a taken ID with ErrRunExists. The run is durable when
// CreateRun returns.
func (s *Store) CreateRun(ctx context.Context, r Run) (Run, error) {
	return s.createRun(ctx, r, nil)
}

// CreateRunLocking is CreateRun and Lock in one transaction: the run is
// created holding objects, or, when another run holds any of them, not
// created at all, and the error is a *LockError (errors.Is(err, ErrLocked)
// holds). An apply refused for a lock so leaves no run behind: such a run
// would hold no locks and would never have been checked for drift, so
// resuming it would be unsafe, and there is nothing in it to roll back.
func (s *Store) CreateRunLocking(ctx context.Context, r Run, objects []string) (Run, error) {
	if err := checkObjects(objects); err != nil {
		return Run{}, fmt.Errorf("journal: create run: %w", err)
	}
	return s.createRun(ctx, r, objects)
}

func (s *Store) createRun(ctx context.Context, r Run, objects []string) (Run, error) {
	now := time.Now().UTC()
	if err := newRun(&r, now); err != nil {
		return Run{}, err
	}
	// The committer reads these after CreateRun may have returned (when ctx
	// ends first): never the caller's buffers.
	r.Inputs, r.Plan = bytes.Clone(r.Inputs), bytes.Clone(r.Plan)
	chosen := r.ID
	o := &op{apply: func(ctx context.Context) error {
		c := s.wconn
		if r.PlanDigest != "" {
			var other string
			err := c.QueryRowContext(ctx, `SELECT id FROM runs WHERE plan_digest = ?`, r.PlanDigest).Scan(&other)
			if err == nil {
				return fmt.Errorf("%w: plan %s was applied by run %s", ErrPlanApplied, r.PlanDigest, other)
			}
			if !errors.Is(err, sql.ErrNoRows) {
				return err
			}
		}
		if chosen == "" {
			var last string
			err := c.QueryRowContext(ctx, `SELECT id FROM runs WHERE id GLOB '[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]T[0-9][0-9][0-9][0-9][0-9][0-9]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f]' ORDER BY id DESC LIMIT 1`).Scan(&last)
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return err
			}
			r.ID = nextID(now, last)
		} else {
			var n int
			err := c.QueryRowContext(ctx, `SELECT count(*) FROM runs WHERE id = ?`, chosen).Scan(&n)
			if err != nil {
				return err
			}
			if n > 0 {
				return fmt.Errorf("%w: %s", ErrRunExists, chosen)
			}
		}
		_, err := c.ExecContext(ctx, `INSERT INTO runs (id, runbook, runbook_digest, plan_digest, author, dir, inputs, plan, status, error, created, updated)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			r.ID, r.Runbook, r.RunbookDigest, r.PlanDigest, r.Author, r.Dir, blob(r.Inputs), blob(r.Plan),
			string(r.Status), r.Error, now.UnixNano(), now.UnixNano())
		if err != nil {
			return err
		}
		return s.takeLocks(ctx, r.ID, objects, now.UnixNano())
	}}
	if err := s.submit(ctx, o); err != nil {
		var le *LockError
		if errors.Is(err, ErrPlanApplied) || errors.Is(err, ErrRunExists) || errors.As(err, &le) {
			return Run{}, err
		}
		return Run{}, fmt.Errorf("journal: create run: %w", err)
	}
	s.known.Store(r.ID, true)
	return r, nil
}

// SetStatus sets a run's status and error text (empty to clear it), and
// appends a "status" record so the journal shows when it changed among the
// steps. Lazy records appended before it become durable with it; it is
// durable when it returns.
func (s *Store) SetStatus(ctx context.Context, id string, st RunStatus, errText string) error {
	data, err := statusData(ctx, s.checkRun, id, st)
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	o := &op{apply: func(ctx context.Context) error {
		res, err := s.w.setStatus.ExecContext(ctx, string(st), errText, now.UnixNano(), id)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return fmt.Errorf("%w: %s", ErrNotFound, id)
		}
		_, err = s.w.insertRecord.ExecContext(ctx, id, now.UnixNano(), string(KindStatus), "", 0, data, errText)
		return err
	}}
	if err := s.submit(ctx, o); err != nil {
		return fmt.Errorf("journal: set status of run %s: %w", id, err)
	}
	return nil
}

const runColumns = `id, runbook, runbook_digest, plan_digest, author, dir, inputs, plan, status, error, created, updated`

func scanRun(sc scanner) (Run, error) {
	var r Run
	var status string
	var created, updated int64
	err := sc.Scan(&r.ID, &r.Runbook, &r.RunbookDigest, &r.PlanDigest, &r.Author, &r.Dir,
		&r.Inputs, &r.Plan, &status, &r.Error, &created, &updated)
	finishRun(&r, status, created, updated)
	return r, err
}

// Run returns the run with the given id, or the one run whose id starts with
// it. No match is ErrNotFound; several are ErrAmbiguous.
func (s *Store) Run(ctx context.Context, id string) (Run, error) {
	if id == "" {
		return Run{}, fmt.Errorf("%w: empty id", ErrNotFound)
	}
	r, err := scanRun(s.rdb.QueryRowContext(ctx, `SELECT `+runColumns+` FROM runs WHERE id = ?`, id))
	if err == nil {
		s.known.Store(r.ID, true)
		return r, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return Run{}, fmt.Errorf("journal: run %s: %w", id, err)
	}
	runs, err := queryAll(ctx, s.rdb, scanRun, `SELECT `+runColumns+` FROM runs WHERE substr(id, 1, ?) = ? ORDER BY n LIMIT 3`, len(id), id)
	if err != nil {
		return Run{}, fmt.Errorf("journal: run %s: %w", id, err)
	}
	r, err = pickRun(id, runs)
	if err == nil {
		s.known.Store(r.ID, true)
	}
	return r, err
}

// Runs returns every run, oldest first.
func (s *Store) Runs(ctx context.Context) ([]Run, error) {
	runs, err := queryAll(ctx, s.rdb, scanRun, `SELECT `+runColumns+` FROM runs ORDER BY n`)
	if err != nil {
		return nil, fmt.Errorf("journal: runs: %w", err)
	}
	return runs, nil
}

// checkRun returns ErrNotFound (naming id) unless run id exists. Runs are
// never deleted, so a run once seen is remembered.
func (s *Store) checkRun(ctx context.Context, id string) error {
	if id == "" {
		return fmt.Errorf("%w: empty id", ErrNotFound)
	}
	if _, ok := s.known.Load(id); ok {
		return nil
	}
	var n int
	if err := s.rdb.QueryRowContext(ctx, `SELECT count(*) FROM runs WHERE id = ?`, id).Scan(&n); err != nil {
		return fmt.Errorf("journal: look up run %s: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	s.known.Store(id, true)
	return nil
}

// blob stores an empty payload as NULL; unblob reads NULL back as nil.
func blob(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

func unblob(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

func fromNanos(n int64) time.Time { return time.Unix(0, n).UTC() }
