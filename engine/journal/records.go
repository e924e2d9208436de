package journal

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// recordOp returns the op that inserts rec; seq receives its sequence number.
func (s *Store) recordOp(rec *Record, seq *int64) *op {
	return &op{apply: func(ctx context.Context) error {
		res, err := s.w.insertRecord.ExecContext(ctx, rec.RunID, rec.Time.UnixNano(), string(rec.Kind),
			rec.Step, rec.Attempt, blob(rec.Data), rec.Error)
		if err != nil {
			return err
		}
		if seq != nil {
			*seq, err = res.LastInsertId()
		}
		return err
	}}
}

// Append writes rec to the journal and returns its sequence number once it
// is durable (fsynced), together with every lazy record appended before it.
// Concurrent Appends share one transaction and one fsync. If ctx ends while
// Append waits, it returns ctx's error and the record may or may not be
// written: for an intent that is safe, since a resume finds the step in
// doubt and observes the object again.
func (s *Store) Append(ctx context.Context, rec Record) (int64, error) {
	if err := prepareRecord(ctx, s.checkRun, &rec); err != nil {
		return 0, err
	}
	var seq int64
	if err := s.submit(ctx, s.recordOp(&rec, &seq)); err != nil {
		return 0, fmt.Errorf("journal: append %s %s: %w", rec.Kind, rec.Step, err)
	}
	return seq, nil
}

// AppendLazy queues rec behind everything appended before it, without
// waiting: it becomes durable with the next Append, SetStatus, Flush (or
// other durable write) from any goroutine, or Close. A crash before then
// loses it, and any lazy records after it, never an earlier one alone. Meant
// for outcomes, whose loss only leaves a step in doubt.
func (s *Store) AppendLazy(ctx context.Context, rec Record) error {
	if err := prepareRecord(ctx, s.checkRun, &rec); err != nil {
		return err
	}
	o := s.recordOp(&rec, nil)
	o.lazy = true
	if err := s.submit(ctx, o); err != nil {
		return fmt.Errorf("journal: append %s %s: %w", rec.Kind, rec.Step, err)
	}
	return nil
}

// Records returns a run's records in Seq order. It flushes lazy records
// first, so a caller sees everything it appended. A run that does not exist
// is ErrNotFound.
func (s *Store) Records(ctx context.Context, runID string) ([]Record, error) {
	if err := flushedRun(ctx, s, runID, "records"); err != nil {
		return nil, err
	}
	recs, err := queryAll(ctx, s.rdb, scanRecord, `SELECT `+recordColumns+` FROM records WHERE run_id = ? ORDER BY seq`, runID)
	if err != nil {
		return nil, fmt.Errorf("journal: records of run %s: %w", runID, err)
	}
	return recs, nil
}

// ApproveStep records, durably, that by approved step of run runID (a step
// that waits for an approval during apply).
func (s *Store) ApproveStep(ctx context.Context, runID, step, by string) error {
	rec, err := approvalRecord(runID, step, by)
	if err != nil {
		return err
	}
	_, err = s.Append(ctx, rec)
	return err
}

// StepApproval reports whether step of run runID was approved, and by whom
// (the latest approval when there are several).
func (s *Store) StepApproval(ctx context.Context, runID, step string) (bool, string, error) {
	if err := s.checkRun(ctx, runID); err != nil {
		return false, "", err
	}
	var data []byte
	err := s.rdb.QueryRowContext(ctx, `SELECT data FROM records WHERE run_id = ? AND kind = ? AND step = ? ORDER BY seq DESC LIMIT 1`,
		runID, string(KindStepApproval), step).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return false, "", nil
	}
	if err != nil {
		return false, "", fmt.Errorf("journal: approval of %s in run %s: %w", step, runID, err)
	}
	by, err := approver(runID, step, data)
	if err != nil {
		return false, "", err
	}
	return true, by, nil
}
