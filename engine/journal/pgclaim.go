package journal

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// pgClaim is this process's lease on one run.
type pgClaim struct {
	s     *PGStore
	run   string
	token int64

	mu   sync.Mutex
	lost error // set once the lease is found lost

	stop     chan struct{}
	done     chan struct{}
	stopOnce sync.Once
	once     sync.Once
	rerr     error
}

func (c *pgClaim) lostErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lost
}

func (c *pgClaim) setLost(err error) {
	c.mu.Lock()
	first := c.lost == nil
	if first {
		c.lost = err
	}
	c.mu.Unlock()
	if first {
		fmt.Fprintf(c.s.opt.Log, "rebind: %s\n", err)
	}
}

// claim returns this process's claim on run, or nil.
func (s *PGStore) claim(run string) *pgClaim {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.claims[run]
}

func (s *PGStore) leaseSeconds() float64 { return s.opt.Lease.Seconds() }

// holderName names a process that holds or held a claim.
func holderName(user, host string, pid int) string {
	return fmt.Sprintf("%s@%s (process %d)", user, host, pid)
}

// Claim takes the lease on run runID for this process. A live lease held
// elsewhere is ErrBusy naming its holder and when it runs out; an expired
// one is taken over, and the journal and the log say whose it was. The
// lease is renewed every third of its length until release.
func (s *PGStore) Claim(runID string) (release func() error, err error) {
	if !validID.MatchString(runID) {
		return nil, fmt.Errorf("%w: %q", ErrNotFound, runID)
	}
	ctx := context.Background()
	if err := s.checkRun(ctx, runID); err != nil {
		return nil, err
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, ErrClosed
	}
	if _, held := s.claims[runID]; held {
		s.mu.Unlock()
		return nil, fmt.Errorf("%w: run %s is claimed by this process", ErrBusy, runID)
	}
	s.mu.Unlock()

	// A claim that loses its connection (a server restart) is tried again
	// on a new one for up to one lease, as a commit is. When the lost
	// answer was the commit's, the row may already carry the token this
	// process was given: the next try finds it and keeps it.
	var token int64
	var took string
	var mine []int64
	tooks := map[int64]string{} // what a try that may have committed had to say
	begun := time.Now()
	backoff := 50 * time.Millisecond
	for {
		var given int64
		token, took, given, err = s.claimOnce(ctx, runID, mine)
		if err == nil && took == "" {
			took = tooks[token]
		}
		if err == nil || !retryable(err) || time.Since(begun) > s.opt.Lease {
			break
		}
		if given != 0 {
			mine = append(mine, given)
			tooks[given] = took
		}
		time.Sleep(backoff)
		backoff = min(2*backoff, time.Second)
	}
	if err != nil {
		if errors.Is(err, ErrBusy) {
			return nil, err
		}
		return nil, s.errf("journal: claim run %s: %w", runID, err)
	}
	if took != "" {
		fmt.Fprintf(s.opt.Log, "rebind: %s\n", took)
	}
	c := &pgClaim{s: s, run: runID, token: token, stop: make(chan struct{}), done: make(chan struct{})}
	s.mu.Lock()
	s.claims[runID] = c
	s.mu.Unlock()
	go c.renew()
	return c.release, nil
}

// claimOnce is one try at Claim's transaction. It returns the token it
// holds and, for a takeover, what to say about it; given is the token the
// server handed out before the transaction failed (0 if none), which may
// have been committed even so. A live claim whose token is in mine is one
// of this process's earlier tries that did commit: it is kept.
func (s *PGStore) claimOnce(ctx context.Context, runID string, mine []int64) (token int64, took string, given int64, err error) {
	pid := os.Getpid()
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var old struct {
			token      int64
			user, host string
			pid        int
			expires    time.Time
			live       bool
		}
		err := tx.QueryRow(ctx, `SELECT token, os_user, host, pid, expires, expires > now() FROM rebind_claims WHERE run_id = $1 FOR UPDATE`, runID).
			Scan(&old.token, &old.user, &old.host, &old.pid, &old.expires, &old.live)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			err = tx.QueryRow(ctx, `INSERT INTO rebind_claims (run_id, token, os_user, host, pid, acquired, expires)
				VALUES ($1, nextval('rebind_fence'), $2, $3, $4, now(), now() + $5 * interval '1 second') RETURNING token`,
				runID, s.opt.User, s.opt.Host, pid, s.leaseSeconds()).Scan(&token)
			var pe *pgconn.PgError
			if errors.As(err, &pe) && pe.Code == "23505" { // unique_violation: claimed this instant
				return fmt.Errorf("%w: run %s was claimed by another process just now", ErrBusy, runID)
			}
			given = token
			return err
		case err != nil:
			return err
		case old.live && slices.Contains(mine, old.token):
			token = old.token
			return nil
		case old.live:
			return fmt.Errorf("%w: run %s is claimed by %s, whose lease runs to %s (the holder renews it while it works; it runs out %s after the holder stops)",
				ErrBusy, runID, holderName(old.user, old.host, old.pid), old.expires.UTC().Format(time.RFC3339), s.opt.Lease)
		}
		err = tx.QueryRow(ctx, `UPDATE rebind_claims SET token = nextval('rebind_fence'), os_user = $2, host = $3, pid = $4, acquired = now(),
			expires = now() + $5 * interval '1 second' WHERE run_id = $1 RETURNING token`,
			runID, s.opt.User, s.opt.Host, pid, s.leaseSeconds()).Scan(&token)
		if err != nil {
			return err
		}
		given = token
		took = fmt.Sprintf("claim on run %s taken over from %s, whose lease (token %d) expired at %s; this process holds it with token %d",
			runID, holderName(old.user, old.host, old.pid), old.token, old.expires.UTC().Format(time.RFC3339), token)
		// The journal says so too, fenced by the new token.
		_, err = tx.Exec(ctx, `INSERT INTO rebind_records (uid, run_id, time, kind, step, attempt, data, error, fence) VALUES ($1, $2, $3, $4, '', 0, NULL, $5, $6)`,
			newUID(), runID, time.Now().UnixNano(), string(KindNote), took, token)
		return err
	})
	return token, took, given, err
}

// renew extends the lease every third of its length. A renewal that finds
// the token replaced, or the lease run out, marks the claim lost: every
// later write to the run is refused.
func (c *pgClaim) renew() {
	defer close(c.done)
	s := c.s
	t := time.NewTicker(s.opt.Lease / 3)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), s.opt.Lease/3)
		tag, err := s.pool.Exec(ctx, `UPDATE rebind_claims SET expires = now() + $3 * interval '1 second' WHERE run_id = $1 AND token = $2 AND expires > now()`,
			c.run, c.token, s.leaseSeconds())
		cancel()
		if err != nil {
			continue // unreachable for now; a write's own check decides
		}
		if tag.RowsAffected() == 0 {
			c.setLost(s.lostError(context.Background(), nil, c))
			return
		}
	}
}

// lostError explains a lost lease, naming who holds the run now.
func (s *PGStore) lostError(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}, c *pgClaim) error {
	if q == nil {
		q = s.pool
	}
	now := "nobody holds it now"
	var user, host string
	var pid int
	var token int64
	if err := q.QueryRow(ctx, `SELECT os_user, host, pid, token FROM rebind_claims WHERE run_id = $1`, c.run).Scan(&user, &host, &pid, &token); err == nil && token != c.token {
		now = fmt.Sprintf("%s holds it now (token %d)", holderName(user, host, pid), token)
	}
	return fmt.Errorf("%w: run %s: the lease this process held (token %d) ran out before it was renewed, and %s; this process writes nothing more to the run (continue it with `rebind resume %s`)",
		ErrLeaseLost, c.run, c.token, now, c.run)
}

// fence checks, inside tx, that this process may write to run: it holds
// the run's live lease with its token (extended by this write, and locked
// until the transaction ends so no takeover slips in), or it holds no claim
// and nobody else holds a live one. A refusal is an opError.
func (s *PGStore) fence(ctx context.Context, tx pgx.Tx, run string) error {
	if c := s.claim(run); c != nil {
		if err := c.lostErr(); err != nil {
			return opError{err}
		}
		tag, err := tx.Exec(ctx, `UPDATE rebind_claims SET expires = now() + $3 * interval '1 second' WHERE run_id = $1 AND token = $2 AND expires > now()`,
			run, c.token, s.leaseSeconds())
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			lost := s.lostError(ctx, tx, c)
			c.setLost(lost)
			return opError{lost}
		}
		return nil
	}
	var user, host string
	var pid int
	var expires time.Time
	err := tx.QueryRow(ctx, `SELECT os_user, host, pid, expires FROM rebind_claims WHERE run_id = $1 AND expires > now() FOR SHARE`, run).Scan(&user, &host, &pid, &expires)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		return err
	}
	return opError{fmt.Errorf("%w: run %s is claimed by %s (lease to %s), and this process holds no claim on it", ErrBusy, run, holderName(user, host, pid), expires.UTC().Format(time.RFC3339))}
}

// stopRenew stops the renewing goroutine and waits for it.
func (c *pgClaim) stopRenew() {
	c.stopOnce.Do(func() { close(c.stop) })
	<-c.done
}

// release stops renewing and gives the lease back.
func (c *pgClaim) release() error {
	c.once.Do(func() {
		c.stopRenew()
		s := c.s
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if c.lostErr() == nil {
			if _, err := s.pool.Exec(ctx, `DELETE FROM rebind_claims WHERE run_id = $1 AND token = $2`, c.run, c.token); err != nil {
				// The lease runs out on its own.
				c.rerr = s.errf("journal: release run %s: %w", c.run, err)
			}
		}
		s.mu.Lock()
		if s.claims[c.run] == c {
			delete(s.claims, c.run)
		}
		s.mu.Unlock()
	})
	return c.rerr
}

// Lease reports who holds the claim on run runID.
func (s *PGStore) Lease(ctx context.Context, runID string) (Lease, error) {
	if err := s.checkRun(ctx, runID); err != nil {
		return Lease{}, err
	}
	var l Lease
	var live bool
	err := s.retry(ctx, func() error {
		return s.pool.QueryRow(ctx, `SELECT os_user, host, pid, token, expires, expires > now() FROM rebind_claims WHERE run_id = $1`, runID).
			Scan(&l.User, &l.Host, &l.PID, &l.Token, &l.Expires, &live)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return Lease{State: LeaseFree}, nil
	}
	if err != nil {
		return Lease{}, s.errf("journal: lease of run %s: %w", runID, err)
	}
	l.Holder = holderName(l.User, l.Host, l.PID)
	l.State = LeaseExpired
	if live {
		l.State = LeaseHeld
	}
	return l, nil
}
