package journal

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// prepareRecord checks rec before it is queued, so that a record refused in
// the committer (and with it, a retry of its batch) is the exception.
func (s *Store) prepareRecord(ctx context.Context, rec *Record) error {
	if !rec.Kind.Valid() {
		return fmt.Errorf("journal: append: invalid record kind %q", rec.Kind)
	}
	if err := s.checkRun(ctx, rec.RunID); err != nil {
		return err
	}
	if rec.Time.IsZero() {
		rec.Time = time.Now()
	}
	rec.Time = rec.Time.UTC()
	rec.Seq = 0
	// A lazy record is written after AppendLazy returns: the caller may
	// reuse its buffer by then.
	rec.Data = bytes.Clone(rec.Data)
	return nil
}

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
	if err := s.prepareRecord(ctx, &rec); err != nil {
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
	if err := s.prepareRecord(ctx, &rec); err != nil {
		return err
	}
	o := s.recordOp(&rec, nil)
	o.lazy = true
	if err := s.submit(ctx, o); err != nil {
		return fmt.Errorf("journal: append %s %s: %w", rec.Kind, rec.Step, err)
	}
	return nil
}

const recordColumns = `seq, run_id, time, kind, step, attempt, data, error`

// Records returns a run's records in Seq order. It flushes lazy records
// first, so a caller sees everything it appended. A run that does not exist
// is ErrNotFound.
func (s *Store) Records(ctx context.Context, runID string) ([]Record, error) {
	if err := s.checkRun(ctx, runID); err != nil {
		return nil, err
	}
	if err := s.Flush(ctx); err != nil {
		return nil, fmt.Errorf("journal: records of run %s: %w", runID, err)
	}
	rows, err := s.rdb.QueryContext(ctx, `SELECT `+recordColumns+` FROM records WHERE run_id = ? ORDER BY seq`, runID)
	if err != nil {
		return nil, fmt.Errorf("journal: records of run %s: %w", runID, err)
	}
	defer rows.Close()
	var recs []Record
	for rows.Next() {
		var r Record
		var t int64
		var kind string
		if err := rows.Scan(&r.Seq, &r.RunID, &t, &kind, &r.Step, &r.Attempt, &r.Data, &r.Error); err != nil {
			return nil, fmt.Errorf("journal: records of run %s: %w", runID, err)
		}
		r.Time, r.Kind, r.Data = fromNanos(t), Kind(kind), unblob(r.Data)
		recs = append(recs, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("journal: records of run %s: %w", runID, err)
	}
	return recs, nil
}

// approval is the Data of a "step-approval" record.
type approval struct {
	By string `json:"by"`
}

// ApproveStep records, durably, that by approved step of run runID (a step
// that waits for an approval during apply).
func (s *Store) ApproveStep(ctx context.Context, runID, step, by string) error {
	if step == "" || by == "" {
		return fmt.Errorf("journal: approve step: step and approver are required")
	}
	data, err := json.Marshal(approval{By: by})
	if err != nil {
		return fmt.Errorf("journal: approve step %s: %w", step, err)
	}
	_, err = s.Append(ctx, Record{RunID: runID, Kind: KindStepApproval, Step: step, Data: data})
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
	var a approval
	if err := json.Unmarshal(data, &a); err != nil {
		return false, "", fmt.Errorf("journal: approval of %s in run %s: %w", step, runID, err)
	}
	return true, a.By, nil
}
