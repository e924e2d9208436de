package journal

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	_ "modernc.org/sqlite" // registers the "sqlite" driver; pure Go, no cgo
)

// FileName is the name of the journal database inside the state directory.
const FileName = "journal.db"

// schemaVersion is stored in PRAGMA user_version. A journal written by a newer
// rebind is refused rather than misread.
const schemaVersion = 1

const schema = `
CREATE TABLE runs (
	n              INTEGER PRIMARY KEY,
	id             TEXT NOT NULL UNIQUE,
	runbook        TEXT NOT NULL,
	runbook_digest TEXT NOT NULL,
	plan_digest    TEXT NOT NULL,
	author         TEXT NOT NULL,
	dir            TEXT NOT NULL,
	inputs         BLOB,
	plan           BLOB,
	status         TEXT NOT NULL,
	error          TEXT NOT NULL,
	created        INTEGER NOT NULL,
	updated        INTEGER NOT NULL
);
CREATE UNIQUE INDEX runs_plan_digest ON runs(plan_digest) WHERE plan_digest <> '';
CREATE TABLE records (
	seq     INTEGER PRIMARY KEY AUTOINCREMENT,
	run_id  TEXT NOT NULL REFERENCES runs(id),
	time    INTEGER NOT NULL,
	kind    TEXT NOT NULL,
	step    TEXT NOT NULL,
	attempt INTEGER NOT NULL,
	data    BLOB,
	error   TEXT NOT NULL
);
CREATE INDEX records_run ON records(run_id, seq);
` + headsIndex + `;
CREATE TABLE locks (
	object   TEXT PRIMARY KEY,
	run_id   TEXT NOT NULL REFERENCES runs(id),
	acquired INTEGER NOT NULL
);
CREATE INDEX locks_run ON locks(run_id);
`

// headsIndex covers what Heads and Summary read of a run's records, so
// that they read this index alone, not the table's pages with every
// payload: about 15 MB instead of 150 for a run of 100,000 instances. A
// journal made before it gets it when opened (migrate); it changes no
// table, so an older rebind still reads and writes the journal.
const headsIndex = `CREATE INDEX IF NOT EXISTS records_heads ON records(run_id, seq, kind, step)`

// Store is an open journal. Its methods are safe for concurrent use.
//
// All writes go through one connection owned by a committer goroutine, which
// batches whatever is pending into one transaction (see commit.go). Reads use
// a separate pool of read-only connections; in WAL mode they never wait for
// the writer.
type Store struct {
	dir  string
	path string

	wdb   *sql.DB   // the writer pool, limited to the one connection below
	wconn *sql.Conn // held by the committer for the life of the store
	w     writeStmts
	rdb   *sql.DB // read-only connections

	mu             sync.Mutex
	cond           *sync.Cond
	queue          []*op // submitted, not yet taken by the committer
	durablePending bool  // queue holds an op someone waits on
	closing        bool
	dropped        droppedLazy // lazy records the committer had to drop
	stopped        chan struct{}
	finalErr       error // what the committer's last batch returned on Close
	closeOnce      sync.Once

	known sync.Map // run ids known to exist; runs are never deleted

	commits atomic.Int64 // transactions committed, for tests and benchmarks
	batches atomic.Int64 // batches taken by the committer, for tests
}

// Open opens (creating if missing) the journal in dir, the state directory.
// dir is created with mode 0700 when missing, and journal.db with 0600.
func Open(dir string) (*Store, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("journal: open %s: %w", dir, err)
	}
	_, statErr := os.Stat(abs)
	if err := os.MkdirAll(filepath.Join(abs, "runs"), 0o700); err != nil {
		return nil, fmt.Errorf("journal: create state directory: %w", err)
	}
	if errors.Is(statErr, fs.ErrNotExist) {
		// A new state directory must survive a power failure along with
		// the first records written into it. SQLite syncs the directory
		// holding journal.db when it creates the WAL, not the one above.
		if err := syncDir(filepath.Dir(abs)); err != nil {
			return nil, fmt.Errorf("journal: create state directory: %w", err)
		}
	}
	path := filepath.Join(abs, FileName)
	// SQLite creates the file with the umask's default mode, and its -wal and
	// -shm files with the database file's mode: create it first, private.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("journal: create %s: %w", path, err)
	}
	f.Close()

	s := &Store{dir: abs, path: path, stopped: make(chan struct{})}
	s.cond = sync.NewCond(&s.mu)
	if err := s.openWriter(); err != nil {
		s.closeDBs()
		return nil, err
	}
	if err := s.openReader(); err != nil {
		s.closeDBs()
		return nil, err
	}
	go s.commitLoop()
	return s, nil
}

// dsn builds the driver's connection string. busy_timeout comes first so the
// other pragmas wait for a concurrent writer instead of failing.
// synchronous=FULL makes every commit fsync the WAL: without it (NORMAL), a
// commit acknowledged to the engine could be lost in a power failure.
func dsn(path string, readOnly bool) string {
	u := url.URL{Scheme: "file", Path: path}
	q := "_busy_timeout=5000&_foreign_keys=1&_synchronous=FULL"
	if readOnly {
		q += "&_query_only=1"
	} else {
		q += "&_journal_mode=WAL"
	}
	return u.String() + "?" + q
}

func (s *Store) openWriter() error {
	ctx := context.Background()
	db, err := sql.Open("sqlite", dsn(s.path, false))
	if err != nil {
		return fmt.Errorf("journal: open %s: %w", s.path, err)
	}
	db.SetMaxOpenConns(1)
	s.wdb = db
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("journal: open %s: %w", s.path, err)
	}
	s.wconn = conn
	var mode string
	if err := conn.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return fmt.Errorf("journal: open %s: %w", s.path, err)
	}
	if mode != "wal" {
		return fmt.Errorf("journal: open %s: journal mode is %q, not wal", s.path, mode)
	}
	if err := s.migrate(ctx); err != nil {
		return err
	}
	return s.w.prepare(ctx, conn)
}

// migrate creates the schema in a new database, inside a write transaction
// so that two processes opening a new journal at once do not both create it.
func (s *Store) migrate(ctx context.Context) error {
	c := s.wconn
	if _, err := c.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return fmt.Errorf("journal: open %s: %w", s.path, err)
	}
	err := func() error {
		var v int
		if err := c.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
			return err
		}
		switch {
		case v == schemaVersion:
			_, err := c.ExecContext(ctx, headsIndex)
			return err
		case v > schemaVersion:
			return fmt.Errorf("schema version %d is newer than this rebind's %d", v, schemaVersion)
		}
		if _, err := c.ExecContext(ctx, schema); err != nil {
			return err
		}
		_, err := c.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", schemaVersion))
		return err
	}()
	if err != nil {
		c.ExecContext(ctx, "ROLLBACK")
		return fmt.Errorf("journal: open %s: %w", s.path, err)
	}
	if _, err := c.ExecContext(ctx, "COMMIT"); err != nil {
		c.ExecContext(ctx, "ROLLBACK")
		return fmt.Errorf("journal: open %s: %w", s.path, err)
	}
	return nil
}

func (s *Store) openReader() error {
	db, err := sql.Open("sqlite", dsn(s.path, true))
	if err != nil {
		return fmt.Errorf("journal: open %s: %w", s.path, err)
	}
	db.SetMaxOpenConns(4)
	db.SetMaxIdleConns(2)
	s.rdb = db
	if err := db.Ping(); err != nil {
		return fmt.Errorf("journal: open %s: %w", s.path, err)
	}
	return nil
}

// Path returns the journal database's file name.
func (s *Store) Path() string { return s.path }

// Close makes every lazy record durable, stops the committer and closes the
// database. Calls made after Close return ErrClosed; a second Close returns
// nil.
func (s *Store) Close() error {
	first := false
	s.closeOnce.Do(func() {
		first = true
		s.mu.Lock()
		s.closing = true
		s.cond.Signal()
		s.mu.Unlock()
		<-s.stopped
	})
	if !first {
		return nil
	}
	err := errors.Join(s.finalErr, s.dropped.take(), s.closeDBs())
	if err != nil {
		return fmt.Errorf("journal: close: %w", err)
	}
	return nil
}

func (s *Store) closeDBs() error {
	var errs []error
	errs = append(errs, s.w.close())
	if s.wconn != nil {
		errs = append(errs, s.wconn.Close())
	}
	if s.wdb != nil {
		errs = append(errs, s.wdb.Close())
	}
	if s.rdb != nil {
		errs = append(errs, s.rdb.Close())
	}
	return errors.Join(errs...)
}

// syncDir fsyncs a directory, making the entries created in it durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
