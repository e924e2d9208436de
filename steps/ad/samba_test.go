package ad

// The test bed is a real Samba 4 Active Directory domain controller,
// provisioned in a temporary directory by TestMain on a free loopback
// address 127.0.0.N (N >= 2), so that it runs beside a developer's own DC
// or another test run's, and torn down after the tests. It needs the Debian
// packages samba-ad-dc and samba-ad-provision (and ldap-utils for the byte
// check with ldapsearch) and root, to bind ports 389 and 636. Outside CI the
// tests that need it skip with the reason; with CI=true a missing Samba
// fails the run.

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/rebind-dev/rebind/steps"
)

const (
	sambaRealm    = "REBIND.TEST"
	sambaDomain   = "REBIND"
	sambaBaseDN   = "DC=rebind,DC=test"
	sambaAdminDN  = "CN=Administrator,CN=Users," + sambaBaseDN
	sambaPassword = "Rebind-Admin-1!"
)

// sambaDC is a running domain controller.
type sambaDC struct {
	dir    string // the provisioning directory
	ip     string // the loopback address it listens on
	caFile string // the CA that signed its LDAPS certificate
	cmd    *exec.Cmd
	exited chan struct{} // closed when samba has exited
	// stopOnce makes stop idempotent.
	stopOnce sync.Once
	// provisioned is how long provisioning, start-up and the schema
	// extension took, reported by the tests.
	provisioned time.Duration
}

var (
	// dc is the domain controller the tests use, nil when there is none.
	dc *sambaDC
	// dcMissing says why there is none.
	dcMissing string
)

// errNoSamba means the machine cannot run a Samba DC for the tests.
var errNoSamba = errors.New("no Samba AD DC available")

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(runWithSamba(m))
}

func runWithSamba(m *testing.M) int {
	start := time.Now()
	d, err := startSamba()
	switch {
	case errors.Is(err, errNoSamba) && os.Getenv("CI") != "true":
		dcMissing = err.Error()
	case err != nil:
		fmt.Fprintf(os.Stderr, "steps/ad tests: %v\n", err)
		return 1
	default:
		dc = d
		dc.provisioned = time.Since(start)
		fmt.Fprintf(os.Stderr, "steps/ad tests: Samba AD DC on %s ready in %s (%s)\n", dc.ip, dc.provisioned.Round(time.Millisecond), dc.dir)
		defer d.stop()
		defer stopBenchDC()
	}
	return m.Run()
}

// lockDCPorts serializes choosing an address and starting a DC on it
// among test runs on this machine (two `go test` runs at once, say), so
// that two runs do not pick the same free address; it is held until the DC
// listens, not for the whole run. The kernel drops the lock when the
// process dies.
func lockDCPorts(limit time.Duration) (unlock func(), err error) {
	f, err := os.OpenFile(filepath.Join(os.TempDir(), "rebind-samba-dc-address.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(limit)
	told := false
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, nil
		}
		if time.Now().After(deadline) {
			f.Close()
			return nil, fmt.Errorf("another test run has been starting its Samba DC for %s: %v", limit, err)
		}
		if !told {
			fmt.Fprintln(os.Stderr, "steps/ad tests: waiting for another test run's Samba DC to stop")
			told = true
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// needSamba skips a test outside CI when there is no Samba DC (TestMain has
// already failed the run in CI).
func needSamba(tb testing.TB) *sambaDC {
	tb.Helper()
	if benchDC != nil {
		return benchDC
	}
	if dc == nil {
		tb.Skipf("skipped: %s (install samba-ad-dc and ldap-utils and run as root)", dcMissing)
	}
	return dc
}

// findTool looks in PATH and the sbin directories root's PATH has.
func findTool(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, dir := range []string{"/usr/sbin", "/usr/bin", "/sbin"} {
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%w: %s not found", errNoSamba, name)
}

// startSamba provisions a domain in a new temporary directory, gives it a
// certificate Go can verify, starts it and extends its schema.
func startSamba() (*sambaDC, error) {
	if err := sambaAvailable(); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "rebind-samba-")
	if err != nil {
		return nil, err
	}
	return launchSamba(dir, true)
}

// sambaAvailable says why this machine cannot run a test DC, if it cannot.
func sambaAvailable() error {
	for _, tool := range []string{"samba-tool", "samba"} {
		if _, err := findTool(tool); err != nil {
			return err
		}
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("%w: provisioning a DC and binding port 636 need root", errNoSamba)
	}
	return nil
}

// dcTCPPorts and dcUDPPorts are the ports the test DC binds on its address
// (as ss lists them while it runs): it runs only the ldap service (LDAP,
// LDAPS and the global catalog's two ports) and cldap (LDAP over UDP), so
// the ports of a full DC's other services (53, 88, 135, 445, 464) need not
// be free.
var (
	dcTCPPorts = []int{389, 636, 3268, 3269}
	dcUDPPorts = []int{389}
)

// freeLoopback returns the first address 127.0.0.N, N from 2 to 254, on
// which every port of tcp and udp can be bound: not listened on there, nor
// on the wildcard address. 127.0.0.1 is left to a developer's own DC and
// services. Linux routes all of 127.0.0.0/8 to lo, so any of them can be
// bound without configuring an interface.
func freeLoopback(tcp, udp []int) (string, error) {
	for n := 2; n < 255; n++ {
		ip := fmt.Sprintf("127.0.0.%d", n)
		if portsFree(ip, tcp, udp) {
			return ip, nil
		}
	}
	return "", fmt.Errorf("no loopback address 127.0.0.2-254 has TCP ports %v and UDP ports %v free (a DC listening on all addresses?)", tcp, udp)
}

// portsFree reports whether every port can be bound on ip.
func portsFree(ip string, tcp, udp []int) bool {
	for _, p := range tcp {
		l, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(p)))
		if err != nil {
			return false
		}
		l.Close()
	}
	for _, p := range udp {
		c, err := net.ListenPacket("udp", net.JoinHostPort(ip, strconv.Itoa(p)))
		if err != nil {
			return false
		}
		c.Close()
	}
	return true
}

// launchSamba provisions a domain in dir when provision is set (else dir
// holds one already), and starts it on a free loopback address. On failure
// it stops what it started.
func launchSamba(dir string, provision bool) (*sambaDC, error) {
	tool, _ := findTool("samba-tool")
	daemon, _ := findTool("samba")
	unlock, err := lockDCPorts(10 * time.Minute)
	if err != nil {
		return nil, err
	}
	defer unlock()
	ip, err := freeLoopback(dcTCPPorts, dcUDPPorts)
	if err != nil {
		return nil, err
	}
	d := &sambaDC{dir: dir, ip: ip}
	ok := false
	defer func() {
		if !ok {
			d.stop()
		}
	}()
	// Samba binds the addresses of the interfaces it is given; an
	// address with a netmask it takes as given, on whatever interface
	// carries it (lo, for 127.0.0.0/8). The same options go on the
	// daemon's command line, so that a DC provisioned before on another
	// address (the benchmark's cached one) moves to this one.
	ifaces := []string{"--option=interfaces=" + d.ip + "/8", "--option=bind interfaces only=yes"}
	if provision {
		prov := exec.Command(tool, append([]string{"domain", "provision",
			"--targetdir=" + dir, "--realm=" + sambaRealm, "--domain=" + sambaDomain,
			"--server-role=dc", "--dns-backend=NONE", "--adminpass=" + sambaPassword,
			"--host-ip=" + d.ip,
			"--option=server services = ldap, cldap",
			"--option=dsdb:schema update allowed = true",
			// A test DC need not survive a power cut: no fsync per write.
			"--option=ldb:nosync = true",
			"--option=log file = " + filepath.Join(dir, "log.%m"),
		}, ifaces...)...)
		if out, err := prov.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("samba-tool domain provision: %v\n%s", err, tail(out))
		}
	}
	// A fresh certificate every start: the test CA lives for a day.
	d.caFile = filepath.Join(dir, "private", "tls", "ca.pem")
	if err := writeCertificates(filepath.Join(dir, "private", "tls"), d.ip); err != nil {
		return nil, err
	}
	logf, err := os.Create(filepath.Join(dir, "samba.out"))
	if err != nil {
		return nil, err
	}
	d.cmd = exec.Command(daemon, append([]string{"-i", "-M", "single", "-s", filepath.Join(dir, "etc", "smb.conf")}, ifaces...)...)
	d.cmd.Stdout, d.cmd.Stderr = logf, logf
	// Its own process group, so that stop can kill every process it
	// forks; and killed with the test binary if that dies first.
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := d.cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start samba: %w", err)
	}
	d.exited = make(chan struct{})
	go func() { d.cmd.Wait(); logf.Close(); close(d.exited) }()
	if err := d.waitLDAPS(60 * time.Second); err != nil {
		out, _ := os.ReadFile(filepath.Join(dir, "samba.out"))
		return nil, fmt.Errorf("%v\n%s", err, tail(out))
	}
	conn, err := d.adminConn()
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	if err := extendSchema(conn); err != nil {
		return nil, err
	}
	ok = true
	return d, nil
}

func tail(b []byte) string {
	if len(b) > 3000 {
		b = b[len(b)-3000:]
	}
	return string(b)
}

// writeCertificates replaces the certificate Samba would generate, whose
// name is only in the Common Name (which Go no longer reads), by a CA and a
// server certificate naming the DC's address in subjectAltName, as an AD CS
// issued DC certificate does. Samba keeps files that already exist.
func writeCertificates(dir, ip string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "rebind test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return err
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "dc.rebind.test"},
		DNSNames:     []string{"dc.rebind.test", "localhost"},
		IPAddresses:  []net.IP{net.ParseIP(ip)},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	files := []struct {
		name, kind string
		der        []byte
		mode       os.FileMode
	}{
		{"ca.pem", "CERTIFICATE", caDER, 0o644},
		{"cert.pem", "CERTIFICATE", der, 0o644},
		{"key.pem", "EC PRIVATE KEY", keyDER, 0o600},
	}
	for _, f := range files {
		b := pem.EncodeToMemory(&pem.Block{Type: f.kind, Bytes: f.der})
		if err := os.WriteFile(filepath.Join(dir, f.name), b, f.mode); err != nil {
			return err
		}
	}
	return nil
}

// waitLDAPS waits until the DC completes a verified TLS handshake on 636.
func (d *sambaDC) waitLDAPS(limit time.Duration) error {
	pem, err := os.ReadFile(d.caFile)
	if err != nil {
		return err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	deadline := time.Now().Add(limit)
	var last error
	for time.Now().Before(deadline) {
		select {
		case <-d.exited:
			return fmt.Errorf("samba exited during start-up")
		default:
		}
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: time.Second}, "tcp", net.JoinHostPort(d.ip, "636"),
			&tls.Config{RootCAs: pool, ServerName: d.ip})
		if err == nil {
			c.Close()
			return nil
		}
		last = err
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("samba: LDAPS on %s:636 not ready after %s: %v", d.ip, limit, last)
}

// url is the DC's LDAPS address.
func (d *sambaDC) url() string { return "ldaps://" + d.ip }

// env is the environment a target reads its credentials from.
func (d *sambaDC) env(extra map[string]string) func(string) string {
	m := map[string]string{
		EnvBindDN:   sambaAdminDN,
		EnvPassword: sambaPassword,
		EnvCAFile:   d.caFile,
	}
	for k, v := range extra {
		m[k] = v
	}
	return func(k string) string { return m[k] }
}

// open opens the DC as an `ad` target, the way a runbook would.
func (d *sambaDC) open(tb testing.TB) *Client {
	tb.Helper()
	c, err := targetType{}.Open(context.Background(), steps.TargetConfig{
		Name:   "corp",
		Config: targetConfig(map[string]any{"url": d.url(), "base_dn": sambaBaseDN}),
		Getenv: d.env(nil),
	})
	if err != nil {
		tb.Fatalf("open the Samba DC as a target: %v", err)
	}
	cl := c.(*Client)
	tb.Cleanup(func() { cl.Close() })
	return cl
}

// adminConn is a raw connection for the harness itself.
func (d *sambaDC) adminConn() (*ldap.Conn, error) {
	pem, err := os.ReadFile(d.caFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	conn, err := ldap.DialURL(d.url(), ldap.DialWithTLSConfig(&tls.Config{RootCAs: pool, ServerName: d.ip}))
	if err != nil {
		return nil, err
	}
	if err := conn.Bind(sambaAdminDN, sambaPassword); err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
}

// stop kills the DC (its whole process group) and removes its directory
// unless it is a kept one. It is safe to call twice.
func (d *sambaDC) stop() {
	d.stopOnce.Do(d.kill)
}

func (d *sambaDC) kill() {
	if d.cmd != nil && d.cmd.Process != nil && d.exited != nil {
		pgid := d.cmd.Process.Pid
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		select {
		case <-d.exited:
		case <-time.After(5 * time.Second):
		}
		// Samba may leave children in its group; none may outlive the tests.
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-d.exited
	}
	if d.dir != "" && strings.HasPrefix(filepath.Base(d.dir), "rebind-samba-") {
		os.RemoveAll(d.dir)
	}
}
