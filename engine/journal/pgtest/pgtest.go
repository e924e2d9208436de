// Package pgtest starts throwaway PostgreSQL clusters for tests: initdb and
// pg_ctl under a temporary directory, as a non-root user, listening on a
// free loopback port, stopped and removed when the test ends. No mocks: the
// journal's PostgreSQL tests run against a real server.
//
// Where PostgreSQL is not installed, a test that needs it is skipped with
// the reason; in CI (CI=true) it fails instead, so a CI without PostgreSQL
// cannot pass by skipping. scripts/test.sh installs Debian's postgresql
// package, whose programs live in /usr/lib/postgresql/<version>/bin.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Cluster is a running throwaway PostgreSQL server.
type Cluster struct {
	Dir      string // holds data/ and the server's log
	Port     int
	User     string // the superuser
	Password string // the superuser's password, with characters a URL must escape
	bin      string
	cred     *syscall.Credential
	t        testing.TB
}

// binDir finds initdb and pg_ctl side by side: on PATH, else under
// /usr/lib/postgresql/*/bin (Debian's layout: its postgresql-<version>
// package puts them there and not on PATH), newest version first.
func binDir() (string, error) {
	both := func(d string) bool {
		for _, prog := range []string{"initdb", "pg_ctl"} {
			if fi, err := os.Stat(filepath.Join(d, prog)); err != nil || fi.IsDir() {
				return false
			}
		}
		return true
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		if r, err := filepath.EvalSymlinks(p); err == nil {
			p = r
		}
		if d := filepath.Dir(p); both(d) {
			return d, nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool {
		vi, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[i])))
		vj, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[j])))
		return vi > vj
	})
	for _, d := range dirs {
		if both(d) {
			return d, nil
		}
	}
	return "", fmt.Errorf("PostgreSQL's initdb and pg_ctl are not side by side on PATH nor in /usr/lib/postgresql/*/bin (install Debian's postgresql package)")
}

// unavailable skips t, or fails it in CI.
func unavailable(t testing.TB, why error) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("PostgreSQL is needed in CI: %v", why)
	}
	t.Skipf("no PostgreSQL here: %v", why)
}

// runAs is who the server runs as: PostgreSQL refuses to run as root, so
// a root test drops to the postgres user Debian's package creates (or
// nobody).
func runAs() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}, nil
	}
	return nil, fmt.Errorf("running as root, and neither a postgres nor a nobody user exists to run the server as")
}

var template struct {
	once    sync.Once
	dir, pw string
	bin     string
	cred    *syscall.Credential
	err     error
}

const superuser = "rebind_admin"

// makeTemplate runs initdb once per machine: the cluster it makes is kept
// in the temporary directory (rebind-pgtemplate-<uid>-<version>) and every
// test cluster starts from a copy of it, so a test pays for a copy, not
// for initdb.
func makeTemplate() {
	t := &template
	t.bin, t.err = binDir()
	if t.err != nil {
		return
	}
	t.cred, t.err = runAs()
	if t.err != nil {
		return
	}
	ver := filepath.Base(filepath.Dir(t.bin))
	t.dir = filepath.Join(os.TempDir(), fmt.Sprintf("rebind-pgtemplate-%d-%s", os.Geteuid(), ver))
	if pw, err := os.ReadFile(filepath.Join(t.dir, "ready")); err == nil {
		t.pw = string(pw)
		return
	}
	var tmp string
	tmp, t.err = os.MkdirTemp("", "rebind-pgtemplate-")
	if t.err != nil {
		return
	}
	defer os.RemoveAll(tmp)
	b := make([]byte, 6)
	rand.Read(b)
	// '@', '/', ':' and '%' must be escaped in a URL: the redaction tests
	// look for the password in both forms.
	t.pw = "pw@/:%" + hex.EncodeToString(b)
	pwfile := filepath.Join(tmp, "pwfile")
	if t.err = os.WriteFile(pwfile, []byte(t.pw+"\n"), 0o600); t.err != nil {
		return
	}
	if t.err = chown(tmp, t.cred); t.err != nil {
		return
	}
	if t.err = chown(pwfile, t.cred); t.err != nil {
		return
	}
	cmd := exec.Command(filepath.Join(t.bin, "initdb"), "-D", filepath.Join(tmp, "data"), "-U", superuser,
		"--pwfile", pwfile, "--auth-local=trust", "--auth-host=scram-sha-256", "--no-sync", "-E", "UTF8", "--locale=C")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: t.cred}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.err = fmt.Errorf("initdb: %v\n%s", err, out)
		return
	}
	os.Remove(pwfile)
	if t.err = os.WriteFile(filepath.Join(tmp, "ready"), []byte(t.pw), 0o600); t.err != nil {
		return
	}
	// Another test process may have made it meanwhile: either is good.
	if err := os.Rename(tmp, t.dir); err != nil {
		if pw, err := os.ReadFile(filepath.Join(t.dir, "ready")); err == nil {
			t.pw = string(pw)
			return
		}
		t.err = err
	}
}

func chown(path string, cred *syscall.Credential) error {
	if cred == nil {
		return nil
	}
	return os.Chown(path, int(cred.Uid), int(cred.Gid))
}

// Start starts a new cluster for t and stops it when t ends.
func Start(t testing.TB) *Cluster {
	t.Helper()
	template.once.Do(makeTemplate)
	if template.err != nil {
		unavailable(t, template.err)
	}
	dir, err := os.MkdirTemp("", "rebind-pg-")
	if err != nil {
		t.Fatal(err)
	}
	c := &Cluster{Dir: dir, User: superuser, Password: template.pw, bin: template.bin, cred: template.cred, t: t}
	t.Cleanup(func() {
		c.pgctl("stop", "-m", "immediate")
		os.RemoveAll(dir)
	})
	if out, err := exec.Command("cp", "-a", filepath.Join(template.dir, "data"), filepath.Join(dir, "data")).CombinedOutput(); err != nil {
		t.Fatalf("copy the template cluster: %v\n%s", err, out)
	}
	if err := chown(dir, c.cred); err != nil {
		t.Fatal(err)
	}
	c.Port = freePort(t)
	conf := fmt.Sprintf("\nlisten_addresses = '127.0.0.1'\nport = %d\nunix_socket_directories = '%s'\nmax_connections = 40\nshared_buffers = 16MB\n",
		c.Port, filepath.Join(dir, "data"))
	f, err := os.OpenFile(filepath.Join(dir, "data", "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(conf)
	f.Close()
	if out, err := c.pgctl("start", "-w", "-t", "60", "-l", filepath.Join(dir, "server.log")); err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "server.log"))
		t.Fatalf("pg_ctl start: %v\n%s\n%s", err, out, log)
	}
	return c
}

func (c *Cluster) pgctl(args ...string) (string, error) {
	args = append([]string{"-D", filepath.Join(c.Dir, "data")}, args...)
	cmd := exec.Command(filepath.Join(c.bin, "pg_ctl"), args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// Restart restarts the server (pg_ctl restart, fast shutdown): every
// connection is cut.
func (c *Cluster) Restart(t testing.TB) {
	t.Helper()
	if out, err := c.pgctl("restart", "-w", "-t", "60", "-m", "fast", "-l", filepath.Join(c.Dir, "server.log")); err != nil {
		t.Fatalf("pg_ctl restart: %v\n%s", err, out)
	}
}

// Stop stops the server (fast shutdown); Start starts it again on the same
// port.
func (c *Cluster) Stop(t testing.TB) {
	t.Helper()
	if out, err := c.pgctl("stop", "-w", "-t", "60", "-m", "fast"); err != nil {
		t.Fatalf("pg_ctl stop: %v\n%s", err, out)
	}
}

// Start starts a stopped server again.
func (c *Cluster) Start(t testing.TB) {
	t.Helper()
	if out, err := c.pgctl("start", "-w", "-t", "60", "-l", filepath.Join(c.Dir, "server.log")); err != nil {
		t.Fatalf("pg_ctl start: %v\n%s", err, out)
	}
}

func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// URL is a postgres:// URL for database db as the superuser, password
// included.
func (c *Cluster) URL(db string) string {
	u := url.URL{Scheme: "postgres", User: url.UserPassword(c.User, c.Password), Host: fmt.Sprintf("127.0.0.1:%d", c.Port), Path: "/" + db}
	u.RawQuery = "sslmode=disable"
	return u.String()
}

// NewDB creates an empty database and returns its URL.
func (c *Cluster) NewDB(t testing.TB) string {
	t.Helper()
	b := make([]byte, 4)
	rand.Read(b)
	name := "rebind_" + hex.EncodeToString(b)
	c.Exec(t, "postgres", "CREATE DATABASE "+name)
	return c.URL(name)
}

// Exec runs sql in database db as the superuser.
func (c *Cluster) Exec(t testing.TB, db, sql string, args ...any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.URL(db))
	if err != nil {
		t.Fatalf("connect to %s: %v", db, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// Terminate kills every connection rebind holds to the cluster
// (pg_terminate_backend), and returns how many it killed.
func (c *Cluster) Terminate(t testing.TB) int {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, c.URL("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'rebind' AND pid <> pg_backend_pid()) k`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// DBName returns the database a URL names.
func DBName(u string) string {
	p, _ := url.Parse(u)
	return strings.TrimPrefix(p.Path, "/")
}
