package journal

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// What the SQLite Store and the PostgreSQL PGStore share: they keep the same
// runs and records in two databases, so the checks on what is written and
// the decoding of what is read are one piece of code, and only the SQL and
// the driver calls differ.

// scanner is a row to read: *sql.Row, *sql.Rows, pgx.Row and pgx.Rows.
type scanner interface{ Scan(dest ...any) error }

// rowIter is a result set to read row by row: *sql.Rows and pgx.Rows (whose
// Close methods differ, so the caller closes it).
type rowIter interface {
	scanner
	Next() bool
	Err() error
}

// collect reads every row of rows with scan.
func collect[T any](rows rowIter, scan func(scanner) (T, error)) ([]T, error) {
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// queryAll runs query on a SQLite database and reads every row with scan.
func queryAll[T any](ctx context.Context, db *sql.DB, scan func(scanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return collect(rows, scan)
}

// recordColumns are the columns scanRecord reads, in its order.
const recordColumns = `seq, run_id, time, kind, step, attempt, data, error`

// scanRecord reads one row of recordColumns.
func scanRecord(sc scanner) (Record, error) {
	var r Record
	var t int64
	var kind string
	if err := sc.Scan(&r.Seq, &r.RunID, &t, &kind, &r.Step, &r.Attempt, &r.Data, &r.Error); err != nil {
		return Record{}, err
	}
	r.Time, r.Kind, r.Data = fromNanos(t), Kind(kind), unblob(r.Data)
	return r, nil
}

// scanHead returns a scan of one row of "seq, kind, step" of run runID, as
// Heads reads them.
func scanHead(runID string) func(scanner) (Record, error) {
	return func(sc scanner) (Record, error) {
		r := Record{RunID: runID}
		var kind string
		if err := sc.Scan(&r.Seq, &kind, &r.Step); err != nil {
			return Record{}, err
		}
		r.Kind = Kind(kind)
		return r, nil
	}
}

// finishRun completes a scanned run from the columns stored in another form.
func finishRun(r *Run, status string, created, updated int64) {
	r.Status = RunStatus(status)
	r.Created, r.Updated = fromNanos(created), fromNanos(updated)
	r.Inputs, r.Plan = unblob(r.Inputs), unblob(r.Plan)
}

// pickRun is Run's answer for id from the (at most three) runs whose id
// starts with it: the one run, ErrNotFound for none, ErrAmbiguous naming
// the first two for several.
func pickRun(id string, runs []Run) (Run, error) {
	switch len(runs) {
	case 0:
		return Run{}, fmt.Errorf("%w: %s", ErrNotFound, id)
	case 1:
		return runs[0], nil
	}
	ids := runs[0].ID + ", " + runs[1].ID
	if len(runs) > 2 {
		ids += ", ..."
	}
	return Run{}, fmt.Errorf("%w: %s matches %s", ErrAmbiguous, id, ids)
}

// newRun checks a run given to CreateRun and fills in its defaults: Status
// "running" when empty, Created and Updated now.
func newRun(r *Run, now time.Time) error {
	if r.ID != "" && !validID.MatchString(r.ID) {
		return fmt.Errorf("journal: create run: invalid id %q: want letters, digits, '.', '_' or '-'", r.ID)
	}
	if r.Status == "" {
		r.Status = StatusRunning
	}
	if !r.Status.Valid() {
		return fmt.Errorf("journal: create run: invalid status %q", r.Status)
	}
	r.Created, r.Updated = now, now
	return nil
}

// statusData is the Data of the "status" record SetStatus appends, after
// checking st and that run id exists.
func statusData(ctx context.Context, checkRun func(context.Context, string) error, id string, st RunStatus) ([]byte, error) {
	if !st.Valid() {
		return nil, fmt.Errorf("journal: set status of run %s: invalid status %q", id, st)
	}
	if err := checkRun(ctx, id); err != nil {
		return nil, err
	}
	return []byte(`{"status":` + strconv.Quote(string(st)) + `}`), nil
}

// prepareRecord checks rec before it is queued, so that a record refused in
// the committer (and with it, a retry of its batch) is the exception.
func prepareRecord(ctx context.Context, checkRun func(context.Context, string) error, rec *Record) error {
	if !rec.Kind.Valid() {
		return fmt.Errorf("journal: append: invalid record kind %q", rec.Kind)
	}
	if err := checkRun(ctx, rec.RunID); err != nil {
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

// approval is the Data of a "step-approval" record.
type approval struct {
	By string `json:"by"`
}

// approvalRecord is the record ApproveStep appends.
func approvalRecord(runID, step, by string) (Record, error) {
	if step == "" || by == "" {
		return Record{}, fmt.Errorf("journal: approve step: step and approver are required")
	}
	data, err := json.Marshal(approval{By: by})
	if err != nil {
		return Record{}, fmt.Errorf("journal: approve step %s: %w", step, err)
	}
	return Record{RunID: runID, Kind: KindStepApproval, Step: step, Data: data}, nil
}

// approver decodes the Data of the latest "step-approval" record of step.
func approver(runID, step string, data []byte) (string, error) {
	var a approval
	if err := json.Unmarshal(data, &a); err != nil {
		return "", fmt.Errorf("journal: approval of %s in run %s: %w", step, runID, err)
	}
	return a.By, nil
}

// runReader is what flushedRun needs of a Store or a PGStore.
type runReader interface {
	checkRun(ctx context.Context, id string) error
	Flush(ctx context.Context) error
}

// flushedRun is how every read of a run's records starts: the run must
// exist (else checkRun's ErrNotFound), and lazy records are flushed first,
// so a caller sees everything it appended. what names the read in errors.
func flushedRun(ctx context.Context, s runReader, runID, what string) error {
	if err := s.checkRun(ctx, runID); err != nil {
		return err
	}
	if err := s.Flush(ctx); err != nil {
		return fmt.Errorf("journal: %s of run %s: %w", what, runID, err)
	}
	return nil
}
