package journal

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
)

// Group commit.
//
// Every write is an op in one FIFO queue. A durable op (Append, SetStatus,
// Flush, CreateRun, Lock, ...) wakes the committer and waits; a lazy op
// (AppendLazy) only joins the queue. The committer takes the whole queue,
// applies it in submission order inside one BEGIN IMMEDIATE ... COMMIT (one
// fsync of the WAL with synchronous=FULL), then releases every waiter. Ops
// submitted while it commits form the next batch, so under a fan-out the
// number of fsyncs follows the disk's latency, not the number of records, and
// no timer delays a lone Append.
//
// An op may refuse (a lock held by another run, a plan already applied) or
// fail: the transaction is rolled back, that op alone gets its error, and the
// rest of the batch is applied again. Refusals are rare (records are checked
// before they are queued) and a rollback costs no fsync.
// When the transaction itself fails (disk full, database busy past
// busy_timeout), every waiter gets the error and the lazy records go back to
// the front of the queue, to ride with the next durable op.

// op is one write.
type op struct {
	apply func(ctx context.Context) error // nil for Flush: nothing to write
	waiter
}

func (o *op) writes() bool { return o.apply != nil }

// waiter is how a write of either journal reports to whoever submitted
// it: a durable write's submitter waits on done; no one waits for a lazy
// write.
type waiter struct {
	lazy bool
	done chan error // nil when lazy
}

func (w *waiter) waiting() *waiter { return w }

// queued is a write of either journal (op, pgOp) in its queue.
type queued interface {
	waiting() *waiter
	writes() bool // false for a Flush: nothing to write
}

// ready prepares w to be queued, unless ctx has ended: a durable write
// gets the channel its submitter waits on.
func (w *waiter) ready(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if !w.lazy {
		w.done = make(chan error, 1)
	}
	return nil
}

// anyWrites says whether batch holds something to make durable.
func anyWrites[O queued](batch []O) bool {
	for _, o := range batch {
		if o.writes() {
			return true
		}
	}
	return false
}

// finish tells every durable write of batch that its batch ended with err.
func finish[O queued](batch []O, err error) {
	for _, o := range batch {
		if w := o.waiting(); !w.lazy {
			w.done <- err
		}
	}
}

// failedWhole answers batch when its transaction failed as a whole and
// nothing of it was written: every durable write gets err, and the lazy
// ones are returned, to go back to the front of the queue and ride with the
// next durable write.
func failedWhole[O queued](batch []O, err error) (lazy []O) {
	for _, o := range batch {
		if w := o.waiting(); w.lazy {
			lazy = append(lazy, o)
		} else {
			w.done <- err
		}
	}
	return lazy
}

// failedAlone takes write i out of batch when it alone failed with err:
// its submitter gets err, or, for a lazy write, the next Flush reports it
// dropped. The rest is returned, to be committed again.
func failedAlone[O queued](batch []O, i int, err error, dropped *droppedLazy) []O {
	if w := batch[i].waiting(); w.lazy {
		dropped.add(err)
	} else {
		w.done <- err
	}
	return append(batch[:i:i], batch[i+1:]...)
}

// writeStmts are the writer connection's prepared statements.
type writeStmts struct {
	begin, commit, rollback *sql.Stmt
	insertRecord            *sql.Stmt
	setStatus               *sql.Stmt
}

func (w *writeStmts) prepare(ctx context.Context, c *sql.Conn) error {
	for _, p := range []struct {
		st  **sql.Stmt
		sql string
	}{
		{&w.begin, "BEGIN IMMEDIATE"},
		{&w.commit, "COMMIT"},
		{&w.rollback, "ROLLBACK"},
		{&w.insertRecord, `INSERT INTO records (run_id, time, kind, step, attempt, data, error) VALUES (?, ?, ?, ?, ?, ?, ?)`},
		{&w.setStatus, `UPDATE runs SET status = ?, error = ?, updated = ? WHERE id = ?`},
	} {
		st, err := c.PrepareContext(ctx, p.sql)
		if err != nil {
			return fmt.Errorf("journal: prepare %q: %w", p.sql, err)
		}
		*p.st = st
	}
	return nil
}

func (w *writeStmts) close() error {
	var errs []error
	for _, st := range []*sql.Stmt{w.begin, w.commit, w.rollback, w.insertRecord, w.setStatus} {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	return errors.Join(errs...)
}

// submit queues o behind everything submitted before it. For a durable op it
// waits until o's batch commits or ctx ends; when ctx ends first, o may still
// be committed afterwards.
func (s *Store) submit(ctx context.Context, o *op) error {
	if err := o.ready(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return ErrClosed
	}
	s.queue = append(s.queue, o)
	if !o.lazy {
		s.durablePending = true
		s.cond.Signal()
	}
	s.mu.Unlock()
	if o.lazy {
		return nil
	}
	select {
	case err := <-o.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// commitLoop is the committer goroutine. It runs until Close, and commits
// whatever is queued (lazy records included) before it stops.
func (s *Store) commitLoop() {
	defer close(s.stopped)
	var spare []*op
	for {
		s.mu.Lock()
		for !s.durablePending && !s.closing {
			s.cond.Wait()
		}
		batch, closing := s.queue, s.closing
		s.queue, s.durablePending = spare[:0], false
		s.mu.Unlock()
		s.batches.Add(1)

		err := s.commitBatch(batch)
		if closing {
			s.finalErr = err
			return
		}
		clear(batch)
		spare = batch
	}
}

// commitBatch writes batch in one transaction and reports to its waiters.
func (s *Store) commitBatch(batch []*op) error {
	ctx := context.Background()
	for {
		if !anyWrites(batch) { // only Flushes: nothing to make durable
			finish(batch, nil)
			return nil
		}
		i, err := s.tryCommit(ctx, batch)
		if err == nil {
			s.commits.Add(1)
			finish(batch, nil)
			return nil
		}
		if i < 0 {
			lazy := failedWhole(batch, err)
			s.mu.Lock()
			s.queue = append(lazy, s.queue...)
			s.mu.Unlock()
			return err
		}
		batch = failedAlone(batch, i, err, &s.dropped)
	}
}

// tryCommit applies batch in one transaction. When an op returns an error,
// it rolls back and returns that op's index; when BEGIN or COMMIT fails, -1.
func (s *Store) tryCommit(ctx context.Context, batch []*op) (int, error) {
	if _, err := s.w.begin.ExecContext(ctx); err != nil {
		return -1, fmt.Errorf("journal: begin: %w", err)
	}
	for i, o := range batch {
		if o.apply == nil {
			continue
		}
		if err := o.apply(ctx); err != nil {
			s.w.rollback.ExecContext(ctx)
			return i, err
		}
	}
	if _, err := s.w.commit.ExecContext(ctx); err != nil {
		s.w.rollback.ExecContext(ctx)
		return -1, fmt.Errorf("journal: commit: %w", err)
	}
	return -1, nil
}

// Flush makes every record appended so far, lazy ones included, durable.
// It also reports (once) any lazy record the journal had to drop.
func (s *Store) Flush(ctx context.Context) error {
	return s.dropped.flushed(s.submit(ctx, &op{}))
}

// droppedLazy collects the lazy records a journal's committer had to drop
// until a Flush reports them, once. Both journals keep one.
type droppedLazy struct {
	mu  sync.Mutex
	err error
}

func (d *droppedLazy) add(err error) {
	d.mu.Lock()
	d.err = errors.Join(d.err, err)
	d.mu.Unlock()
}

// take returns the drops not yet reported, and forgets them.
func (d *droppedLazy) take() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	err := d.err
	d.err = nil
	return err
}

// flushed is Flush's answer once its own submission returned submitErr.
func (d *droppedLazy) flushed(submitErr error) error {
	if submitErr != nil {
		return fmt.Errorf("journal: flush: %w", submitErr)
	}
	if err := d.take(); err != nil {
		return fmt.Errorf("journal: flush: a lazy record was dropped: %w", err)
	}
	return nil
}
