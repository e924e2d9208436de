package journal

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rebind-dev/rebind/engine/journal/pgtest"
	"github.com/rebind-dev/rebind/internal/e2e"
)

// TestPGLeaseExpiresAndIsTakenOver: a holder that stops renewing (a long
// pause, a dead machine) loses the run once its lease runs out; another
// process takes it over, saying whose claim it took, and the first process
// can write nothing more, not even a lazy record.
func TestPGLeaseExpiresAndIsTakenOver(t *testing.T) {
	ctx := context.Background()
	c := pgtest.Start(t)
	u := c.NewDB(t)
	const lease = 600 * time.Millisecond
	var logA, logB e2e.SyncBuffer
	a := openPG(t, u, PGOptions{Lease: lease, User: "ana", Host: "host-a", Log: &logA})
	b := openPG(t, u, PGOptions{Lease: lease, User: "bo", Host: "host-b", Log: &logB})
	run := createRun(t, a, Run{})
	if _, err := a.Claim(run.ID); err != nil {
		t.Fatal(err)
	}
	// Renewal keeps the claim past its first lease.
	time.Sleep(2 * lease)
	if _, err := b.Claim(run.ID); !errors.Is(err, ErrBusy) || !strings.Contains(err.Error(), "ana@host-a") {
		t.Fatalf("Claim of a renewed lease = %v, want ErrBusy naming ana@host-a", err)
	}
	if _, err := a.Append(ctx, Record{RunID: run.ID, Kind: KindIntent, Step: "one"}); err != nil {
		t.Fatal(err)
	}
	// A pauses: it stops renewing.
	a.claim(run.ID).stopRenew()
	time.Sleep(lease + 200*time.Millisecond)
	if l, _ := b.Lease(ctx, run.ID); l.State != LeaseExpired || l.User != "ana" || l.Host != "host-a" {
		t.Errorf("Lease after the holder stopped = %+v, want expired, ana on host-a", l)
	}
	releaseB, err := b.Claim(run.ID)
	if err != nil {
		t.Fatalf("takeover: %v", err)
	}
	defer releaseB()
	if !strings.Contains(logB.String(), "taken over from ana@host-a") {
		t.Errorf("the taker's log does not say whose claim it took: %q", logB.String())
	}
	// A wakes up: every write is refused, and says why.
	a.AppendLazy(ctx, Record{RunID: run.ID, Kind: KindOutcome, Step: "one"})
	_, err = a.Append(ctx, Record{RunID: run.ID, Kind: KindIntent, Step: "two"})
	if !errors.Is(err, ErrLeaseLost) || !strings.Contains(err.Error(), "bo@host-b") {
		t.Fatalf("Append after losing the lease = %v, want ErrLeaseLost naming bo@host-b", err)
	}
	if err := a.SetStatus(ctx, run.ID, StatusSucceeded, ""); !errors.Is(err, ErrLeaseLost) {
		t.Errorf("SetStatus after losing the lease = %v, want ErrLeaseLost", err)
	}
	if err := a.Unlock(ctx, run.ID); !errors.Is(err, ErrLeaseLost) {
		t.Errorf("Unlock after losing the lease = %v, want ErrLeaseLost", err)
	}
	if _, err := b.Append(ctx, Record{RunID: run.ID, Kind: KindIntent, Step: "two"}); err != nil {
		t.Fatalf("the new holder's Append: %v", err)
	}
	recs := records(t, b, run.ID)
	var got []string
	for _, r := range recs {
		got = append(got, string(r.Kind)+" "+r.Step)
	}
	if want := "intent one|note |intent two"; strings.Join(got, "|") != want {
		t.Errorf("records = %q, want %q (nothing from the process that lost its lease)", strings.Join(got, "|"), want)
	}
	if !strings.Contains(recs[1].Error, "taken over from ana@host-a") {
		t.Errorf("the journal does not record the takeover: %+v", recs[1])
	}
	if r, _ := b.Run(ctx, run.ID); r.User != "ana" || r.Host != "host-a" {
		t.Errorf("run's creator = %s on %s, want ana on host-a", r.User, r.Host)
	}
}

// TestPGLockErrorNamesUserAndHost: a run refused for an object another
// machine's run holds is told the run, its user and its host.
func TestPGLockErrorNamesUserAndHost(t *testing.T) {
	ctx := context.Background()
	c := pgtest.Start(t)
	u := c.NewDB(t)
	a := openPG(t, u, PGOptions{User: "ana", Host: "host-a"})
	b := openPG(t, u, PGOptions{User: "bo", Host: "host-b"})
	held, err := a.CreateRunLocking(ctx, Run{Runbook: "r"}, []string{"user:1"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = b.CreateRunLocking(ctx, Run{Runbook: "r"}, []string{"user:1"})
	var le *LockError
	if !errors.As(err, &le) || le.HeldBy != held.ID || le.User != "ana" || le.Host != "host-a" {
		t.Fatalf("CreateRunLocking = %v, want a LockError naming %s, ana, host-a", err, held.ID)
	}
	if !strings.Contains(err.Error(), "started by ana on host-a") {
		t.Errorf("error text %q does not name the user and host", err)
	}
}

// TestPGMigrateConcurrently: processes opening an empty database at once
// all succeed, and the schema is made once.
func TestPGMigrateConcurrently(t *testing.T) {
	c := pgtest.Start(t)
	u := c.NewDB(t)
	var wg sync.WaitGroup
	errs := make(chan error, 6)
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := OpenPG(context.Background(), u, PGOptions{})
			if err == nil {
				s.Close()
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("concurrent OpenPG: %v", err)
		}
	}
	s := openPG(t, u, PGOptions{})
	var n int
	if err := s.pool.QueryRow(context.Background(), `SELECT count(*) FROM rebind_schema_migrations`).Scan(&n); err != nil || n != 1 {
		t.Errorf("%d migrations recorded (%v), want 1", n, err)
	}
	// A database migrated by a newer rebind is refused, not misread.
	c.Exec(t, pgtest.DBName(u), `INSERT INTO rebind_schema_migrations (version, name) VALUES (99, '0099_future.sql')`)
	if _, err := OpenPG(context.Background(), u, PGOptions{}); err == nil || !strings.Contains(err.Error(), "schema version 99 is newer") {
		t.Errorf("OpenPG of a newer schema = %v", err)
	}
}

// TestPGPasswordNeverShown: the connection string's password appears in no
// error (pgx's own included), no Where, and nothing the journal stores.
func TestPGPasswordNeverShown(t *testing.T) {
	ctx := context.Background()
	c := pgtest.Start(t)
	good := c.NewDB(t)
	pw := c.Password
	forms := []string{pw, url.QueryEscape(pw), url.PathEscape(pw), url.UserPassword("x", pw).String()}
	check := func(what, text string) {
		t.Helper()
		for _, f := range forms {
			if strings.Contains(text, f) {
				t.Errorf("%s shows the password (%q): %s", what, f, text)
			}
		}
	}
	wrong := strings.Replace(good, url.UserPassword(c.User, pw).String(), url.UserPassword(c.User, pw+"x").String(), 1)
	forms = append(forms, pw+"x")
	noDB := strings.Replace(good, pgtest.DBName(good), "nosuchdb", 1)
	deadPort := strings.Replace(good, fmt.Sprint(c.Port), "1", 1)
	badParam := good + "&sslmode=bogus"
	inQuery := fmt.Sprintf("postgres://127.0.0.1:%d/%s?user=%s&password=%s&sslmode=disable", c.Port, "nosuchdb", c.User, url.QueryEscape(pw))
	for name, u := range map[string]string{"wrong password": wrong, "no database": noDB, "dead port": deadPort, "bad parameter": badParam, "password in query": inQuery} {
		_, err := OpenState(ctx, u, "", nil)
		if err == nil {
			t.Errorf("%s: opened", name)
			continue
		}
		check(name, err.Error())
	}
	_, err := OpenState(ctx, "mysql://u:"+pw+"@h/db", "", nil)
	if err == nil {
		t.Error("a mysql URL was accepted")
	} else {
		check("unsupported scheme", err.Error())
	}
	s := openPG(t, good, PGOptions{})
	check("Where", s.Where())
	run := createRun(t, s, Run{})
	s.Append(ctx, Record{RunID: run.ID, Kind: KindNote})
	var dump string
	if err := s.pool.QueryRow(ctx, `SELECT string_agg(t::text, ' ') FROM (SELECT r::text AS t FROM rebind_runs r UNION ALL SELECT x::text FROM rebind_records x UNION ALL SELECT c::text FROM rebind_claims c) q`).Scan(&dump); err != nil {
		t.Fatal(err)
	}
	check("the journal", dump)
}

// TestPGSSLPasswordNeverShown: a connection string carries a second
// secret, sslpassword, the passphrase of the client key named by sslkey
// (https://www.postgresql.org/docs/current/libpq-connect.html#LIBPQ-CONNECT-SSLPASSWORD;
// pgx reads the same parameter, pgconn/config.go). Like the password, it
// appears in no Where and no error, in each of the forms a URL may give
// it, and when the password or sslpassword parameter is given twice.
func TestPGSSLPasswordNeverShown(t *testing.T) {
	ctx := context.Background()
	const canary, canary2 = "Canary@/:%7Q", "SecondCanary9Z"
	var forms []string
	for _, c := range []string{canary, canary2} {
		forms = append(forms, c, url.QueryEscape(c), url.PathEscape(c))
	}
	check := func(what, text string) {
		t.Helper()
		for _, f := range forms {
			if strings.Contains(text, f) {
				t.Errorf("%s shows a secret (%q): %s", what, f, text)
			}
		}
	}
	q := url.QueryEscape
	for name, u := range map[string]string{
		"sslpassword, dead port":      "postgres://u:pw@127.0.0.1:1/db?sslmode=disable&sslpassword=" + q(canary),
		"sslpassword, bad parameter":  "postgres://u:pw@127.0.0.1:1/db?sslmode=bogus&sslpassword=" + q(canary),
		"sslpassword given twice":     "postgres://u:pw@127.0.0.1:1/db?sslmode=disable&sslpassword=" + q(canary) + "&sslpassword=" + q(canary2),
		"password given twice":        "postgres://u@127.0.0.1:1/db?sslmode=disable&password=" + q(canary) + "&password=" + q(canary2),
		"password and sslpassword":    "postgresql://u:" + url.PathEscape(canary2) + "@127.0.0.1:1/db?sslmode=disable&sslpassword=" + q(canary),
		"sslpassword, unknown scheme": "mysql://u:pw@h/db?sslpassword=" + q(canary),
	} {
		_, err := OpenState(ctx, u, "", nil)
		if err == nil {
			t.Errorf("%s: opened", name)
			continue
		}
		check(name, err.Error())
		if !strings.HasPrefix(u, "mysql") && !strings.Contains(err.Error(), "127.0.0.1:1") {
			t.Errorf("%s: the error does not name the server: %v", name, err)
		}
	}
	if got := redactURL("postgres://u:pw@h/db?sslpassword=" + q(canary) + "&sslmode=verify-full"); got != "postgres://u:xxxxx@h/db?sslmode=verify-full&sslpassword=xxxxx" {
		t.Errorf("redactURL = %q", got)
	}
}

// TestPGSurvivesRestartAndTerminate: appends keep coming while the server
// restarts (pg_ctl restart) and while the journal's connections are killed
// (pg_terminate_backend). Each Append either returns its seq, and then its
// record is in the journal exactly once, or returns an error; none is
// written twice, none acknowledged is lost.
func TestPGSurvivesRestartAndTerminate(t *testing.T) {
	ctx := context.Background()
	c := pgtest.Start(t)
	u := c.NewDB(t)
	s := openPG(t, u, PGOptions{Lease: 20 * time.Second})
	run := createRun(t, s, Run{})
	release, err := s.Claim(run.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	var acked sync.Map
	var failed, n atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				step := fmt.Sprintf("w%d-%d", w, i)
				if i%2 == 1 {
					s.AppendLazy(ctx, Record{RunID: run.ID, Kind: KindOutcome, Step: step})
					continue
				}
				if _, err := s.Append(ctx, Record{RunID: run.ID, Kind: KindIntent, Step: step}); err != nil {
					failed.Add(1)
					t.Logf("append %s: %v", step, err)
				} else {
					acked.Store(step, true)
					n.Add(1)
				}
			}
		}()
	}
	// A reader, as `runs` and a resume read, waits out the same faults.
	var readErrs atomic.Int64
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			if _, err := s.Runs(ctx); err != nil {
				readErrs.Add(1)
				t.Logf("runs: %v", err)
			}
			if _, err := s.Lease(ctx, run.ID); err != nil {
				readErrs.Add(1)
				t.Logf("lease: %v", err)
			}
			if _, err := s.Locks(ctx); err != nil {
				readErrs.Add(1)
				t.Logf("locks: %v", err)
			}
		}
	}()
	waitFor := func(k int64) {
		deadline := time.Now().Add(30 * time.Second)
		for n.Load() < k && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitFor(50)
	c.Restart(t)
	waitFor(n.Load() + 50)
	killed := c.Terminate(t)
	waitFor(n.Load() + 50)
	killed += c.Terminate(t)
	waitFor(n.Load() + 50)
	close(stop)
	wg.Wait()
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	recs := records(t, s, run.ID)
	seen := map[string]int{}
	for _, r := range recs {
		seen[string(r.Kind)+" "+r.Step]++
	}
	for k, v := range seen {
		if v > 1 {
			t.Errorf("%s written %d times", k, v)
		}
	}
	missing := 0
	acked.Range(func(k, _ any) bool {
		if seen["intent "+k.(string)] != 1 {
			missing++
		}
		return true
	})
	if missing > 0 {
		t.Errorf("%d acknowledged records lost", missing)
	}
	if readErrs.Load() > 0 {
		t.Errorf("%d reads failed: the journal should have waited for the server", readErrs.Load())
	}
	if failed.Load() > 0 {
		t.Errorf("%d appends failed: the journal should have waited for the server", failed.Load())
	}
	t.Logf("%d acknowledged appends, %d records, %d connections terminated", n.Load(), len(recs), killed)
	if n.Load() < 200 {
		t.Errorf("only %d appends acknowledged", n.Load())
	}
}

// TestPGVerifyFull: with sslmode=verify-full the journal connects only to a
// server whose certificate chains to sslrootcert and names the host it
// dialled (https://www.postgresql.org/docs/current/libpq-ssl.html, "SSL Mode
// Descriptions"; pgx reads the same sslmode and sslrootcert parameters).
// A certificate from another CA is refused, and the refusal shows no
// password.
func TestPGVerifyFull(t *testing.T) {
	ctx := context.Background()
	c := pgtest.Start(t)
	dir := t.TempDir()
	ca, other := pgtest.NewCA(t, dir, "team-ca"), pgtest.NewCA(t, dir, "other-ca")
	c.EnableTLS(t, ca)
	plain := c.NewDB(t)
	tlsURL := func(host, root string) string {
		u, _ := url.Parse(plain)
		u.Host = strings.Replace(u.Host, "127.0.0.1", host, 1)
		q := u.Query()
		q.Set("sslmode", "verify-full")
		q.Set("sslrootcert", root)
		u.RawQuery = q.Encode()
		return u.String()
	}
	for _, host := range []string{"127.0.0.1", "localhost"} {
		s, err := OpenState(ctx, tlsURL(host, ca.File), "", nil)
		if err != nil {
			t.Fatalf("verify-full to %s with the server's CA: %v", host, err)
		}
		ps := s.(*PGStore)
		var ssl bool
		if err := ps.pool.QueryRow(ctx, `SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()`).Scan(&ssl); err != nil || !ssl {
			t.Errorf("connection to %s is not TLS: %v %v", host, ssl, err)
		}
		createRun(t, s, Run{})
		s.Close()
	}
	_, err := OpenState(ctx, tlsURL("127.0.0.1", other.File), "", nil)
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("verify-full with another CA = %v, want a certificate error", err)
	}
	if strings.Contains(err.Error(), c.Password) || strings.Contains(err.Error(), url.QueryEscape(c.Password)) {
		t.Errorf("the TLS error shows the password: %v", err)
	}
	// The host name: a certificate from the right CA that names another
	// host is refused by verify-full, with which libpq "will also verify
	// that the server host name matches the name stored in the server
	// certificate", and accepted by verify-ca, which checks "the
	// certificate chain up to the root certificate stored on the client"
	// only (the same page, "Client Verification of Server Certificates").
	c.EnableTLSFor(t, ca, "db.example.test")
	_, err = OpenState(ctx, tlsURL("127.0.0.1", ca.File), "", nil)
	if err == nil || !strings.Contains(err.Error(), "cannot validate certificate for 127.0.0.1") {
		t.Fatalf("verify-full to 127.0.0.1 with a certificate for db.example.test = %v, want a certificate error naming 127.0.0.1", err)
	}
	if strings.Contains(err.Error(), c.Password) || strings.Contains(err.Error(), url.QueryEscape(c.Password)) {
		t.Errorf("the TLS error shows the password: %v", err)
	}
	verifyCA := strings.Replace(tlsURL("127.0.0.1", ca.File), "sslmode=verify-full", "sslmode=verify-ca", 1)
	s, err := OpenState(ctx, verifyCA, "", nil)
	if err != nil {
		t.Fatalf("verify-ca with the server's CA and a certificate for another name: %v", err)
	}
	s.Close()
}

// TestPGTakeoverNotBlockedByAStalledWriter: a writer's fencing check locks
// the claim's row until its transaction ends, so that no takeover slips in
// between the check and the commit. A writer that stops inside that
// transaction (its machine paused, or cut off the network while the server
// still sees its connection) must not keep the run from being taken over:
// once its lease has run out, the server ends its transaction, the next
// process takes the run over, and the stalled writer's commit fails.
func TestPGTakeoverNotBlockedByAStalledWriter(t *testing.T) {
	ctx := context.Background()
	c := pgtest.Start(t)
	u := c.NewDB(t)
	const lease = time.Second
	a := openPG(t, u, PGOptions{Lease: lease, User: "ana", Host: "host-a"})
	b := openPG(t, u, PGOptions{Lease: lease, User: "bo", Host: "host-b"})
	run := createRun(t, a, Run{})
	if _, err := a.Claim(run.ID); err != nil {
		t.Fatal(err)
	}
	a.claim(run.ID).stopRenew()
	// A's writer checks its fence, then stalls before committing.
	tx, err := a.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if err := a.fence(ctx, tx, run.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := a.insertRecord(ctx, tx, newUID(), Record{RunID: run.ID, Kind: KindIntent, Step: "stalled", Time: time.Now()}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(lease + 200*time.Millisecond)
	type claimed struct {
		release func() error
		err     error
	}
	claimedc := make(chan claimed, 1)
	go func() {
		release, err := b.Claim(run.ID)
		claimedc <- claimed{release, err}
	}()
	select {
	case cl := <-claimedc:
		if cl.err != nil {
			t.Fatalf("takeover after the stalled writer's lease ran out: %v", cl.err)
		}
		defer cl.release()
	case <-time.After(10 * lease):
		t.Fatalf("takeover still waiting %s after the stalled writer's lease ran out: its open transaction holds the claim", 10*lease)
	}
	err = tx.Commit(ctx)
	if err == nil {
		t.Fatal("the stalled writer committed after its run was taken over")
	}
	// Its commit failed with its connection: the journal tries it again,
	// and the fence then refuses it, naming the new holder.
	if !retryable(err) {
		t.Errorf("the stalled writer's commit failed with %v, which the journal would not try again", err)
	}
	if _, err := a.Append(ctx, Record{RunID: run.ID, Kind: KindIntent, Step: "after"}); !errors.Is(err, ErrLeaseLost) || !strings.Contains(err.Error(), "bo@host-b") {
		t.Errorf("the stalled writer's next Append = %v, want ErrLeaseLost naming bo@host-b", err)
	}
	for _, r := range records(t, b, run.ID) {
		if r.Step == "stalled" || r.Step == "after" {
			t.Errorf("the stalled writer's record is in the journal: %+v", r)
		}
	}
}

// TestPGPasswordFromPassfile: the URL may carry no password at all, the
// password then being read from a password file (PGPASSFILE, or ~/.pgpass),
// whose lines are hostname:port:database:username:password with ':' and
// '\' escaped by '\' (https://www.postgresql.org/docs/current/libpq-pgpass.html;
// pgx reads it as libpq does, pgconn/config.go). The README recommends it
// over a password in --state, which other local users see in the process's
// command line.
func TestPGPasswordFromPassfile(t *testing.T) {
	c := pgtest.Start(t)
	withPW := c.NewDB(t)
	u, _ := url.Parse(withPW)
	u.User = url.User(c.User)
	noPW := u.String()
	esc := strings.NewReplacer(`\`, `\\`, `:`, `\:`).Replace(c.Password)
	passfile := filepath.Join(t.TempDir(), "pgpass")
	if err := os.WriteFile(passfile, []byte(fmt.Sprintf("127.0.0.1:%d:*:%s:%s\n", c.Port, c.User, esc)), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PGPASSFILE", passfile)
	t.Setenv("PGPASSWORD", "")
	s, err := OpenState(context.Background(), noPW, "", nil)
	if err != nil {
		t.Fatalf("open with the password in PGPASSFILE: %v", err)
	}
	defer s.Close()
	createRun(t, s, Run{})
	if strings.Contains(s.Where(), c.Password) || s.Where() != noPW {
		t.Errorf("Where = %q, want %q", s.Where(), noPW)
	}
	// Without the file the server refuses: the password came from it.
	t.Setenv("PGPASSFILE", filepath.Join(t.TempDir(), "none"))
	if s2, err := OpenState(context.Background(), noPW, "", nil); err == nil {
		s2.Close()
		t.Fatal("opened without a password")
	}
}

// TestPGLeaseFromEnvironment: REBIND_STATE_LEASE sets the lease; a value
// that is not a Go duration of at least 100ms is refused, naming the
// variable and the value. The lease also bounds how long a session may sit
// idle inside a transaction (see OpenPG).
func TestPGLeaseFromEnvironment(t *testing.T) {
	ctx := context.Background()
	c := pgtest.Start(t)
	u := c.NewDB(t)
	for _, bad := range []string{"fast", "50ms", "-3s", "10"} {
		t.Setenv("REBIND_STATE_LEASE", bad)
		s, err := OpenPG(ctx, u, PGOptions{})
		if err == nil {
			s.Close()
			t.Errorf("REBIND_STATE_LEASE=%q accepted", bad)
			continue
		}
		if !strings.Contains(err.Error(), "REBIND_STATE_LEASE") || !strings.Contains(err.Error(), strconv.Quote(bad)) {
			t.Errorf("REBIND_STATE_LEASE=%q: %v, want the variable and its value named", bad, err)
		}
	}
	t.Setenv("REBIND_STATE_LEASE", "7s")
	s := openPG(t, u, PGOptions{})
	run := createRun(t, s, Run{})
	release, err := s.Claim(run.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	var left float64
	if err := s.pool.QueryRow(ctx, `SELECT extract(epoch FROM expires - now()) FROM rebind_claims WHERE run_id = $1`, run.ID).Scan(&left); err != nil {
		t.Fatal(err)
	}
	// At most 7s ahead (the default would be 30s), and still ahead: a
	// renewal every third of the lease keeps it so.
	if left <= 0 || left > 7.5 {
		t.Errorf("the claim runs out in %.1fs, want within 7s", left)
	}
	var idle string
	if err := s.pool.QueryRow(ctx, `SHOW idle_in_transaction_session_timeout`).Scan(&idle); err != nil || idle != "7s" {
		t.Errorf("idle_in_transaction_session_timeout = %q (%v), want 7s", idle, err)
	}
}

// TestPGClaimWaitsOutAServerRestart: a claim asked for while the server is
// down (a `resume` started during `pg_ctl restart`) waits for it, as a
// commit and a read do, for up to one lease, then takes the run.
func TestPGClaimWaitsOutAServerRestart(t *testing.T) {
	c := pgtest.Start(t)
	u := c.NewDB(t)
	s := openPG(t, u, PGOptions{Lease: 20 * time.Second, User: "ana", Host: "host-a"})
	run := createRun(t, s, Run{})
	c.Stop(t)
	type claimed struct {
		release func() error
		err     error
	}
	done := make(chan claimed, 1)
	go func() {
		release, err := s.Claim(run.ID)
		done <- claimed{release, err}
	}()
	time.Sleep(time.Second)
	c.Start(t)
	select {
	case cl := <-done:
		if cl.err != nil {
			t.Fatalf("Claim across a server restart: %v", cl.err)
		}
		defer cl.release()
	case <-time.After(30 * time.Second):
		t.Fatal("Claim still waiting 30s after the server came back")
	}
	if l, err := s.Lease(context.Background(), run.ID); err != nil || l.State != LeaseHeld || l.User != "ana" {
		t.Errorf("lease after the claim = %+v, %v; want held by ana", l, err)
	}
	if _, err := s.Append(context.Background(), Record{RunID: run.ID, Kind: KindNote}); err != nil {
		t.Errorf("Append under the claim: %v", err)
	}
}

// TestPGClaimKeepsATryThatCommitted: when a claim's commit reached the
// server but its answer was lost, the row carries the token this process
// was given; the next try must keep it, not refuse the run as claimed by
// someone (itself) else.
func TestPGClaimKeepsATryThatCommitted(t *testing.T) {
	ctx := context.Background()
	c := pgtest.Start(t)
	u := c.NewDB(t)
	s := openPG(t, u, PGOptions{User: "ana", Host: "host-a"})
	run := createRun(t, s, Run{})
	// The lost answer: the token is in the table, the process never heard.
	token, _, given, err := s.claimOnce(ctx, run.ID, nil)
	if err != nil || token == 0 || given != token {
		t.Fatalf("claimOnce = %d, %d, %v", token, given, err)
	}
	if _, _, _, err := s.claimOnce(ctx, run.ID, nil); !errors.Is(err, ErrBusy) {
		t.Fatalf("a try that does not know the token = %v, want ErrBusy", err)
	}
	again, _, _, err := s.claimOnce(ctx, run.ID, []int64{token})
	if err != nil || again != token {
		t.Fatalf("a try that knows it was given token %d = %d, %v; want the token kept", token, again, err)
	}
}
