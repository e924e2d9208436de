package journal

import (
	"context"
	"crypto/rand"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/url"
	"os"
	"os/user"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// The PostgreSQL journal.
//
// PGStore keeps the journal in a PostgreSQL database that every machine of
// a team reaches, so a run outlives the machine that started it: `rebind
// resume` or `rollback` continues it from any of them. It follows the
// Journal contract as *Store does, with these differences:
//
//   - Claims are leases with fencing tokens. Claim writes a row naming the
//     process (user, host, pid) with a token from a sequence and an expiry
//     on the server's clock; a goroutine renews it every third of the lease.
//     A claim whose holder died expires and the next Claim takes it over,
//     saying whose it took. Every write checks, in its own transaction, that
//     the writing process still holds the run's lease with its token (and
//     extends it); a process whose lease was lost gets ErrLeaseLost and
//     writes nothing more. A process with no claim on a run cannot write to
//     it while another holds it live.
//   - A commit that fails for a lost connection (a server restart,
//     pg_terminate_backend) is retried on a new connection until the lease
//     would run out. Every record carries a writer-chosen uid and every run
//     a nonce, so a commit that reached the server before its answer was
//     lost is not written twice.
//   - Writes are group-committed: whatever is queued when the writer is free
//     goes into one transaction, lazy records included, in submission order.
//     A durable write waits for its batch even when its ctx ends (the
//     engine's journal writes are never cancelled).
//   - The state key is kept in the database, so plans and runs keyed on one
//     machine are checked on another.
//   - The connection string's password never appears in errors or output.
type PGStore struct {
	pool  *pgxpool.Pool
	where string   // the URL, password redacted
	pw    []string // the URL's secrets (see urlSecrets), to scrub from errors
	opt   PGOptions

	wmu     sync.Mutex // held by the process's one writer of a batch
	mu      sync.Mutex
	queue   []*pgOp
	closed  bool
	dropped droppedLazy
	claims  map[string]*pgClaim // the runs this process claims
	known   sync.Map            // run ids known to exist

}

// PGOptions tunes a PGStore; the zero value is the default.
type PGOptions struct {
	// Log receives what the person running rebind must know: a claim taken
	// over from an expired holder, a lease lost. nil discards it.
	Log io.Writer
	// Lease is how long a claim lives unless renewed: default 30s, or
	// REBIND_STATE_LEASE (a Go duration such as "10s").
	Lease time.Duration
	// User and Host name this process in claims, locks and runs: default
	// the operating-system user and the host name.
	User, Host string
}

// migrations are the PostgreSQL journal's schema, one file a version,
// applied in order (0001_initial.sql is version 1).
//
//go:embed migrations/*.sql
var migrations embed.FS

// migrateLockKey is the advisory lock two processes migrating one database
// at once take in turn (an arbitrary constant: "rebind" in ASCII). A
// transaction-level advisory lock is held until the transaction ends
// (https://www.postgresql.org/docs/current/explicit-locking.html#ADVISORY-LOCKS,
// pg_advisory_xact_lock in
// https://www.postgresql.org/docs/current/functions-admin.html).
const migrateLockKey = 0x7265_6269_6e64

// runsLockKey serialises run creation across processes, so that assigned
// ids keep sorting in creation order.
const runsLockKey = migrateLockKey + 1

// OpenPG opens the PostgreSQL journal at connString (a postgres:// URL),
// creating or upgrading its schema. Two processes opening an empty
// database at once are safe: migrations run under an advisory lock.
func OpenPG(ctx context.Context, connString string, opt PGOptions) (*PGStore, error) {
	where, pw := redactURL(connString), urlSecrets(connString)
	s := &PGStore{where: where, pw: pw, claims: map[string]*pgClaim{}}
	if opt.Lease <= 0 {
		opt.Lease = 30 * time.Second
		if v := os.Getenv("REBIND_STATE_LEASE"); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil || d < 100*time.Millisecond {
				return nil, fmt.Errorf("journal: REBIND_STATE_LEASE=%q: want a duration of at least 100ms, such as 30s", v)
			}
			opt.Lease = d
		}
	}
	if opt.Log == nil {
		opt.Log = io.Discard
	}
	if opt.Host == "" {
		opt.Host, _ = os.Hostname()
	}
	if opt.User == "" {
		if u, err := user.Current(); err == nil {
			opt.User = u.Username
		} else {
			opt.User = strconv.Itoa(os.Getuid())
		}
	}
	s.opt = opt
	cfg, err := pgxpool.ParseConfig(connString)
	if err != nil {
		return nil, s.errf("journal: open %s: %w", where, err)
	}
	cfg.MaxConns = 4
	if cfg.ConnConfig.ConnectTimeout == 0 { // no connect_timeout in the URL
		cfg.ConnConfig.ConnectTimeout = 15 * time.Second
	}
	// A connection found dead is dropped from the pool and replaced.
	cfg.HealthCheckPeriod = time.Second
	cfg.ConnConfig.RuntimeParams["application_name"] = "rebind"
	// A writer's fencing check locks its claim's row until the transaction
	// ends (see fence). A process that stops inside that transaction (a
	// pause, or a network cut the server has not noticed) would keep
	// every takeover of the run waiting on that lock; the server ends such
	// a session once it has been "idle (that is, waiting for a client
	// query) within an open transaction" for longer than this, which
	// "can be used to ensure that idle sessions do not hold locks for an
	// unreasonable amount of time"
	// (https://www.postgresql.org/docs/current/runtime-config-client.html#GUC-IDLE-IN-TRANSACTION-SESSION-TIMEOUT;
	// a value without units is milliseconds). By then the lease has run
	// out too, so the process's retried commit is fenced off.
	cfg.ConnConfig.RuntimeParams["idle_in_transaction_session_timeout"] = strconv.FormatInt(opt.Lease.Milliseconds(), 10)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, s.errf("journal: open %s: %w", where, err)
	}
	s.pool = pool
	if err := s.migrate(ctx); err != nil {
		pool.Close()
		return nil, s.errf("journal: open %s: %w", where, err)
	}
	return s, nil
}

// migrate applies the embedded migrations the database lacks, in one
// transaction holding an advisory lock.
func (s *PGStore) migrate(ctx context.Context) error {
	files, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(files)
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(migrateLockKey)); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS rebind_schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied timestamptz NOT NULL DEFAULT now())`); err != nil {
		return err
	}
	var have int
	if err := tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM rebind_schema_migrations`).Scan(&have); err != nil {
		return err
	}
	if have > len(files) {
		return fmt.Errorf("schema version %d is newer than this rebind's %d", have, len(files))
	}
	for i, f := range files {
		v := i + 1
		name := strings.TrimPrefix(f, "migrations/")
		if n, err := strconv.Atoi(strings.SplitN(name, "_", 2)[0]); err != nil || n != v {
			return fmt.Errorf("migration %s: want its name to start with %04d_", name, v)
		}
		if v <= have {
			continue
		}
		body, err := migrations.ReadFile(f)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, string(body)); err != nil {
			return fmt.Errorf("migration %s: %w", name, err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO rebind_schema_migrations (version, name) VALUES ($1, $2)`, v, name); err != nil {
			return err
		}
	}
	// The index Heads and Summary read (see pgHeadsIndex), made once,
	// outside the numbered migrations: it changes no table, so an older
	// rebind still opens the database. Looked up first, since CREATE
	// INDEX takes a lock that waits for every other writer even when the
	// index exists.
	var exists bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_indexes WHERE schemaname = current_schema() AND indexname = 'rebind_records_heads')`).Scan(&exists); err != nil {
		return err
	}
	if !exists {
		if _, err := tx.Exec(ctx, pgHeadsIndex); err != nil {
			return err
		}
	}
	return tx.Commit(ctx)
}

// pgHeadsIndex covers what Heads and Summary read of a run's records (see
// headsIndex), so that PostgreSQL can answer them with an index-only scan
// (https://www.postgresql.org/docs/current/indexes-index-only-scans.html)
// once autovacuum has marked the table's pages all-visible, which it does
// after inserts too (autovacuum_vacuum_insert_threshold,
// https://www.postgresql.org/docs/current/routine-vacuuming.html).
const pgHeadsIndex = `CREATE INDEX IF NOT EXISTS rebind_records_heads ON rebind_records (run_id, seq) INCLUDE (kind, step)`

// Where is the journal's URL without its password.
func (s *PGStore) Where() string { return s.where }

// Close makes every lazy record durable, gives back every claim and closes
// the connections. Calls made after Close return ErrClosed; a second Close
// returns nil.
func (s *PGStore) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.mu.Unlock()
	ferr := s.Flush(context.Background())
	s.mu.Lock()
	s.closed = true
	claims := make([]*pgClaim, 0, len(s.claims))
	for _, c := range s.claims {
		claims = append(claims, c)
	}
	s.mu.Unlock()
	var errs []error
	if ferr != nil {
		errs = append(errs, ferr)
	}
	for _, c := range claims {
		if err := c.release(); err != nil {
			errs = append(errs, err)
		}
	}
	s.pool.Close()
	if err := errors.Join(errs...); err != nil {
		return s.errf("journal: close: %w", err)
	}
	return nil
}

// pgOp is one write. Every write names its run, whose claim it is fenced
// by (run is "" for a run being created).
type pgOp struct {
	run   string
	apply func(ctx context.Context, tx pgx.Tx) error // nil for Flush
	waiter
}

func (o *pgOp) writes() bool { return o.apply != nil }

// submit queues o behind everything submitted before it; a durable op is
// then committed, by this goroutine or by the one writing when it was
// queued, together with whatever else is queued.
func (s *PGStore) submit(ctx context.Context, o *pgOp) error {
	if err := o.ready(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	s.queue = append(s.queue, o)
	s.mu.Unlock()
	if o.lazy {
		return nil
	}
	for {
		select {
		case err := <-o.done:
			return err
		default:
		}
		s.wmu.Lock()
		select {
		case err := <-o.done:
			s.wmu.Unlock()
			return err
		default:
		}
		s.mu.Lock()
		batch := s.queue
		s.queue = nil
		s.mu.Unlock()
		s.commitBatch(batch)
		s.wmu.Unlock()
	}
}

// commitBatch writes batch in one transaction and reports to its waiters.
// An op that fails alone (refused, fenced) is taken out and the rest tried
// again; a transaction lost with its connection is tried again until the
// lease would run out.
func (s *PGStore) commitBatch(batch []*pgOp) {
	ctx := context.Background()
	var firstFail time.Time
	backoff := 50 * time.Millisecond
	for {
		if !anyWrites(batch) {
			finish(batch, nil)
			return
		}
		i, err := s.tryCommit(ctx, batch)
		if err == nil {
			finish(batch, nil)
			return
		}
		if i < 0 {
			if retryable(err) {
				if firstFail.IsZero() {
					firstFail = time.Now()
				}
				if time.Since(firstFail) < s.opt.Lease {
					time.Sleep(backoff)
					backoff = min(2*backoff, time.Second)
					continue
				}
				err = fmt.Errorf("the database was unreachable for %s: %w", s.opt.Lease, err)
			}
			lazy := failedWhole(batch, s.scrub(err))
			s.mu.Lock()
			s.queue = append(lazy, s.queue...)
			s.mu.Unlock()
			return
		}
		batch = failedAlone(batch, i, s.scrub(err), &s.dropped)
	}
}

// opError marks an error one op returned, as opposed to the transaction's.
type opError struct{ err error }

func (e opError) Error() string { return e.err.Error() }
func (e opError) Unwrap() error { return e.err }

// tryCommit applies batch in one transaction: first the fencing check of
// every run the batch writes, then the ops in order. When an op (or its
// run's fencing check) fails, it returns that op's index; when the
// transaction fails, -1.
func (s *PGStore) tryCommit(ctx context.Context, batch []*pgOp) (int, error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return -1, fmt.Errorf("journal: begin: %w", err)
	}
	defer tx.Rollback(ctx)
	fenced := map[string]bool{}
	for i, o := range batch {
		if o.apply == nil || o.run == "" || fenced[o.run] {
			continue
		}
		if err := s.fence(ctx, tx, o.run); err != nil {
			var oe opError
			if errors.As(err, &oe) {
				return i, oe.err
			}
			return -1, err
		}
		fenced[o.run] = true
	}
	for i, o := range batch {
		if o.apply == nil {
			continue
		}
		if err := o.apply(ctx, tx); err != nil {
			if retryable(err) {
				return -1, err
			}
			return i, err
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return -1, fmt.Errorf("journal: commit: %w", err)
	}
	return -1, nil
}

// retryable reports whether err is the connection's rather than the
// statement's: the transaction may be tried again on a new connection.
// SQLSTATE class 08 is "connection exception"; 57P01 "admin_shutdown" is what
// pg_terminate_backend and a fast shutdown send, 57P02 "crash_shutdown",
// 57P03 "cannot_connect_now" a server still starting, 25P03
// "idle_in_transaction_session_timeout" a session the server ended for
// idling inside a transaction (see OpenPG); in each the transaction was
// rolled back with its connection
// (https://www.postgresql.org/docs/current/errcodes-appendix.html).
func retryable(err error) bool {
	if err == nil {
		return false
	}
	var oe opError
	if errors.As(err, &oe) {
		return false
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return strings.HasPrefix(pe.Code, "08") || pe.Code == "57P01" || pe.Code == "57P02" || pe.Code == "57P03" || pe.Code == "25P03"
	}
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return true
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) || pgconn.SafeToRetry(err) || pgconn.Timeout(err) {
		return true
	}
	// A connection closed under a statement, as pgx reports it.
	msg := err.Error()
	return strings.Contains(msg, "conn closed") || strings.Contains(msg, "connection reset") || strings.Contains(msg, "broken pipe") || strings.Contains(msg, "unexpected EOF")
}

// Flush makes every record appended so far, lazy ones included, durable.
// It also reports (once) any lazy record the journal had to drop.
func (s *PGStore) Flush(ctx context.Context) error {
	return s.dropped.flushed(s.submit(ctx, &pgOp{}))
}

// StateKey returns the journal's secret key, made by the first process that
// asks (see StateKey for what it keys).
func (s *PGStore) StateKey() ([]byte, error) {
	ctx := context.Background()
	key := make([]byte, keySize)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("journal: state key: %w", err)
	}
	if _, err := s.pool.Exec(ctx, `INSERT INTO rebind_state_key (key) VALUES ($1) ON CONFLICT DO NOTHING`, key); err != nil {
		return nil, s.errf("journal: state key: %w", err)
	}
	var got []byte
	if err := s.pool.QueryRow(ctx, `SELECT key FROM rebind_state_key`).Scan(&got); err != nil {
		return nil, s.errf("journal: state key: %w", err)
	}
	if len(got) != keySize {
		return nil, fmt.Errorf("journal: state key in %s holds %d bytes, not %d; it was damaged, and plans keyed with it can no longer be checked", s.where, len(got), keySize)
	}
	return got, nil
}

// newUID returns a random id for a record or a run's nonce.
func newUID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// Password hygiene: the URL's secrets never leave in an error or a
// message. pgx leaves them out of its own errors; errf and scrub make sure.
//
// A postgres:// URL carries two: the password (in the user information or
// as the password parameter) and sslpassword, the passphrase of the client
// key that sslkey names
// (https://www.postgresql.org/docs/current/libpq-connect.html#LIBPQ-CONNECT-SSLPASSWORD;
// pgx reads both, and masks both in its own errors, pgconn/errors.go).

// secretParams are the query parameters whose values are secrets.
var secretParams = []string{"password", "sslpassword"}

// redactURL returns connString with every secret replaced by "xxxxx".
func redactURL(connString string) string {
	u, err := url.Parse(connString)
	if err != nil {
		return "(a connection string that is not a valid URL)"
	}
	q := u.Query()
	masked := false
	for _, k := range secretParams {
		if q.Has(k) {
			q.Set(k, "xxxxx")
			masked = true
		}
	}
	if masked {
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}

// urlSecrets returns every secret connString holds: the user
// information's password and each value of a secret parameter, a
// parameter given twice included.
func urlSecrets(connString string) []string {
	u, err := url.Parse(connString)
	if err != nil {
		return nil
	}
	var secrets []string
	if p, ok := u.User.Password(); ok && p != "" {
		secrets = append(secrets, p)
	}
	q := u.Query()
	for _, k := range secretParams {
		for _, v := range q[k] {
			if v != "" {
				secrets = append(secrets, v)
			}
		}
	}
	return secrets
}

// scrubbedError is an error whose text had the password taken out; it
// still unwraps to the original for errors.Is and errors.As.
type scrubbedError struct {
	msg string
	err error
}

func (e *scrubbedError) Error() string { return e.msg }
func (e *scrubbedError) Unwrap() error { return e.err }

func (s *PGStore) scrub(err error) error {
	if err == nil || len(s.pw) == 0 {
		return err
	}
	msg := err.Error()
	for _, pw := range s.pw {
		for _, form := range []string{pw, url.QueryEscape(pw), url.PathEscape(pw)} {
			msg = strings.ReplaceAll(msg, form, "xxxxx")
		}
	}
	if msg == err.Error() {
		return err
	}
	return &scrubbedError{msg: msg, err: err}
}

func (s *PGStore) errf(format string, args ...any) error {
	return s.scrub(fmt.Errorf(format, args...))
}
