package journal

import (
	"context"
	"fmt"
	"strings"

	"github.com/rebind-dev/rebind/engine/addrs"
)

// StepSummary counts the instances of one step of a run by where the
// journal says each stands: what `rebind runs show` prints first, so that a
// run of 100,000 instances reads in a few lines.
type StepSummary struct {
	// Step is the step's address without a fan-out key (step.TYPE.NAME,
	// or data.TYPE.NAME).
	Step string `json:"step"`
	// Instances is how many of its instances the run reached.
	Instances int `json:"instances"`
	// Done: the instance completed (written, already so, or read).
	Done int `json:"done"`
	// Failed: its write failed.
	Failed int `json:"failed"`
	// InDoubt: its intent is written and nothing after it, so it was in
	// flight when the run stopped (or is now, in a running run).
	InDoubt int `json:"in_doubt"`
	// Reverted: a rollback reverted it.
	Reverted int `json:"reverted"`
	// RevertFailed: a rollback tried and failed to revert it.
	RevertFailed int `json:"revert_failed"`
	// RevertInDoubt: a revert was in flight when the rollback stopped.
	RevertInDoubt int `json:"revert_in_doubt"`
}

// instanceState is where one instance stands, as summarize folds it.
type instanceState uint8

const (
	stateNone instanceState = iota
	stateInDoubt
	stateDone
	stateFailed
	stateRevertInDoubt
	stateReverted
	stateRevertFailed
)

// summarize folds a run's (step, kind) pairs, in Seq order, into counts per
// step. It follows the engine's reading of a journal: an intent starts an
// attempt (in doubt until its outcome or failure), and a revert's records
// come after the outcome they revert.
type summarizer struct {
	state map[string]instanceState // by instance address
	steps []string                 // step addresses by first appearance
	inst  map[string][]string      // instance addresses by step, in order
}

func newSummarizer() *summarizer {
	return &summarizer{state: map[string]instanceState{}, inst: map[string][]string{}}
}

func (z *summarizer) add(step string, kind Kind) {
	var st instanceState
	switch kind {
	case KindIntent:
		st = stateInDoubt
	case KindOutcome:
		st = stateDone
	case KindFailure:
		st = stateFailed
	case KindRevertIntent:
		st = stateRevertInDoubt
	case KindRevertOutcome:
		st = stateReverted
	case KindRevertFailure:
		st = stateRevertFailed
	default:
		return // decisions, approvals, notes: no change of state
	}
	if step == "" {
		return
	}
	if _, seen := z.state[step]; !seen {
		base := addrs.StepOf(step)
		if _, ok := z.inst[base]; !ok {
			z.steps = append(z.steps, base)
		}
		z.inst[base] = append(z.inst[base], step)
	}
	z.state[step] = st
}

func (z *summarizer) result() []StepSummary {
	out := make([]StepSummary, 0, len(z.steps))
	for _, base := range z.steps {
		sum := StepSummary{Step: base}
		for _, addr := range z.inst[base] {
			sum.Instances++
			switch z.state[addr] {
			case stateInDoubt:
				sum.InDoubt++
			case stateDone:
				sum.Done++
			case stateFailed:
				sum.Failed++
			case stateRevertInDoubt:
				sum.RevertInDoubt++
			case stateReverted:
				sum.Reverted++
			case stateRevertFailed:
				sum.RevertFailed++
			}
		}
		out = append(out, sum)
	}
	return out
}

// summaryQuery reads what Summary folds: no payloads, only what an index
// on (run_id, seq) and each row's step and kind give.
const summaryQuery = `SELECT step, kind FROM %s WHERE run_id = %s AND step <> '' ORDER BY seq`

// Summary counts a run's instances by state, per step, in the order the
// run first reached each step. It reads no record's payload.
func (s *Store) Summary(ctx context.Context, runID string) ([]StepSummary, error) {
	if err := flushedRun(ctx, s, runID, "summary"); err != nil {
		return nil, err
	}
	rows, err := s.rdb.QueryContext(ctx, fmt.Sprintf(summaryQuery, "records", "?"), runID)
	if err != nil {
		return nil, fmt.Errorf("journal: summary of run %s: %w", runID, err)
	}
	defer rows.Close()
	z := newSummarizer()
	for rows.Next() {
		var step, kind string
		if err := rows.Scan(&step, &kind); err != nil {
			return nil, fmt.Errorf("journal: summary of run %s: %w", runID, err)
		}
		z.add(step, Kind(kind))
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("journal: summary of run %s: %w", runID, err)
	}
	return z.result(), nil
}

// Summary counts a run's instances by state, per step (see Store.Summary).
func (s *PGStore) Summary(ctx context.Context, runID string) ([]StepSummary, error) {
	if err := flushedRun(ctx, s, runID, "summary"); err != nil {
		return nil, err
	}
	var out []StepSummary
	err := s.retry(ctx, func() error {
		rows, err := s.pool.Query(ctx, fmt.Sprintf(summaryQuery, "rebind_records", "$1"), runID)
		if err != nil {
			return err
		}
		defer rows.Close()
		z := newSummarizer()
		for rows.Next() {
			var step, kind string
			if err := rows.Scan(&step, &kind); err != nil {
				return err
			}
			z.add(step, Kind(kind))
		}
		if err := rows.Err(); err != nil {
			return err
		}
		out = z.result()
		return nil
	})
	if err != nil {
		return nil, s.errf("journal: summary of run %s: %w", runID, err)
	}
	return out, nil
}

// RecordsPage returns at most limit of a run's records in Seq order,
// skipping the first offset, and how many records the run has in all:
// `runs show` pages through a run of 100,000 instances with it. A limit
// of 0 or less returns every record from offset on.
func (s *Store) RecordsPage(ctx context.Context, runID string, offset, limit int) ([]Record, int, error) {
	if err := flushedRun(ctx, s, runID, "records"); err != nil {
		return nil, 0, err
	}
	var total int
	if err := s.rdb.QueryRowContext(ctx, `SELECT count(*) FROM records WHERE run_id = ?`, runID).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("journal: records of run %s: %w", runID, err)
	}
	if limit <= 0 {
		limit = -1 // SQLite: no limit
	}
	recs, err := queryAll(ctx, s.rdb, scanRecord, `SELECT `+recordColumns+` FROM records WHERE run_id = ? ORDER BY seq LIMIT ? OFFSET ?`, runID, limit, max(offset, 0))
	if err != nil {
		return nil, 0, fmt.Errorf("journal: records of run %s: %w", runID, err)
	}
	return recs, total, nil
}

// RecordsPage returns a page of a run's records (see Store.RecordsPage).
func (s *PGStore) RecordsPage(ctx context.Context, runID string, offset, limit int) ([]Record, int, error) {
	if err := flushedRun(ctx, s, runID, "records"); err != nil {
		return nil, 0, err
	}
	var recs []Record
	var total int
	err := s.retry(ctx, func() error {
		if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM rebind_records WHERE run_id = $1`, runID).Scan(&total); err != nil {
			return err
		}
		var lim any // NULL: no limit
		if limit > 0 {
			lim = limit
		}
		rows, err := s.pool.Query(ctx, `SELECT `+recordColumns+` FROM rebind_records WHERE run_id = $1 ORDER BY seq LIMIT $2 OFFSET $3`,
			runID, lim, max(offset, 0))
		if err != nil {
			return err
		}
		defer rows.Close()
		recs, err = collect(rows, scanRecord)
		return err
	})
	if err != nil {
		return nil, 0, s.errf("journal: records of run %s: %w", runID, err)
	}
	return recs, total, nil
}

// Heads returns a run's records in Seq order with their Seq, Kind and Step
// alone (RunID set; Data, Time, Attempt and Error empty): where a resume
// finds the point a run of 100,000 instances stopped at without reading
// 200,000 payloads (the SQLite journal reads the index records_heads
// alone). RecordData reads the payloads it then needs.
func (s *Store) Heads(ctx context.Context, runID string) ([]Record, error) {
	if err := flushedRun(ctx, s, runID, "records"); err != nil {
		return nil, err
	}
	recs, err := queryAll(ctx, s.rdb, scanHead(runID), `SELECT seq, kind, step FROM records WHERE run_id = ? ORDER BY seq`, runID)
	if err != nil {
		return nil, fmt.Errorf("journal: records of run %s: %w", runID, err)
	}
	return recs, nil
}

// Heads returns a run's records without payloads (see Store.Heads).
func (s *PGStore) Heads(ctx context.Context, runID string) ([]Record, error) {
	if err := flushedRun(ctx, s, runID, "records"); err != nil {
		return nil, err
	}
	recs, err := pgQueryAll(ctx, s, scanHead(runID), `SELECT seq, kind, step FROM rebind_records WHERE run_id = $1 ORDER BY seq`, runID)
	if err != nil {
		return nil, s.errf("journal: records of run %s: %w", runID, err)
	}
	return recs, nil
}

// dataChunk is how many payloads RecordData asks for in one query.
const dataChunk = 500

// RecordData returns the payloads of the records seqs of run runID, by
// Seq; a record of another run, or none, is left out (a record without a
// payload maps to nil).
func (s *Store) RecordData(ctx context.Context, runID string, seqs []int64) (map[int64][]byte, error) {
	if err := s.checkRun(ctx, runID); err != nil {
		return nil, err
	}
	out, err := payloadsInChunks(seqs, func(chunk []int64, out map[int64][]byte) error {
		args := make([]any, 0, len(chunk)+1)
		args = append(args, runID)
		for _, q := range chunk {
			args = append(args, q)
		}
		rows, err := s.rdb.QueryContext(ctx, `SELECT seq, data FROM records WHERE run_id = ? AND seq IN (?`+strings.Repeat(",?", len(chunk)-1)+`)`, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		return readPayloads(rows, out)
	})
	if err != nil {
		return nil, fmt.Errorf("journal: records of run %s: %w", runID, err)
	}
	return out, nil
}

// payloadsInChunks reads the payloads of seqs into a new map, asking read
// for dataChunk of them at a time; it stops at read's first error.
func payloadsInChunks(seqs []int64, read func(chunk []int64, out map[int64][]byte) error) (map[int64][]byte, error) {
	out := make(map[int64][]byte, len(seqs))
	for len(seqs) > 0 {
		chunk := seqs[:min(len(seqs), dataChunk)]
		seqs = seqs[len(chunk):]
		if err := read(chunk, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// readPayloads reads rows of "seq, data" into out, as RecordData answers.
func readPayloads(rows rowIter, out map[int64][]byte) error {
	for rows.Next() {
		var seq int64
		var data []byte
		if err := rows.Scan(&seq, &data); err != nil {
			return err
		}
		out[seq] = unblob(data)
	}
	return rows.Err()
}

// RecordData returns the payloads of some records (see Store.RecordData).
func (s *PGStore) RecordData(ctx context.Context, runID string, seqs []int64) (map[int64][]byte, error) {
	if err := s.checkRun(ctx, runID); err != nil {
		return nil, err
	}
	out, err := payloadsInChunks(seqs, func(chunk []int64, out map[int64][]byte) error {
		return s.retry(ctx, func() error {
			rows, err := s.pool.Query(ctx, `SELECT seq, data FROM rebind_records WHERE run_id = $1 AND seq = ANY($2)`, runID, chunk)
			if err != nil {
				return err
			}
			defer rows.Close()
			return readPayloads(rows, out)
		})
	})
	if err != nil {
		return nil, s.errf("journal: records of run %s: %w", runID, err)
	}
	return out, nil
}
