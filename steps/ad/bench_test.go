package ad

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
)

const (
	benchUsers  = 20000
	benchOU     = "OU=Bench," + sambaBaseDN
	benchMarker = "rebind-bench"
)

var (
	benchOnce sync.Once
	benchDC   *sambaDC
	benchErr  error
)

// benchCacheDir keeps a DC already holding the benchmark's users between
// runs: creating 20,000 users takes minutes, reading them seconds.
func benchCacheDir() string { return filepath.Join(os.TempDir(), "rebind-bench-dc") }

// startBenchDC returns a DC holding benchUsers users under OU=Bench: the
// cached one when there is one, else a new one it fills with ldapadd (far
// faster than one Add per round trip). It first stops the test suite's DC,
// so that one DC at a time loads the machine; benchmarks run after the
// tests. Only the benchmark calls it, so the test suite stays fast.
func startBenchDC(b *testing.B) *sambaDC {
	b.Helper()
	benchOnce.Do(func() {
		if dc != nil {
			dc.stop()
			dc = nil
			dcMissing = "the benchmark's DC replaced the test DC"
		}
		dir := benchCacheDir()
		marker := filepath.Join(dir, "rebind-bench-populated")
		if _, err := os.Stat(marker); err == nil {
			start := time.Now()
			if benchDC, benchErr = launchSamba(dir, false); benchErr == nil {
				b.Logf("reused the DC in %s with %d users (started in %s)", dir, benchUsers, time.Since(start).Round(time.Millisecond))
				return
			}
			b.Logf("the cached DC in %s did not start (%v); provisioning a new one", dir, benchErr)
		}
		os.RemoveAll(dir)
		if benchErr = os.MkdirAll(dir, 0o700); benchErr != nil {
			return
		}
		if benchDC, benchErr = launchSamba(dir, true); benchErr != nil {
			return
		}
		start := time.Now()
		if benchErr = fillBenchUsers(benchDC); benchErr != nil {
			return
		}
		took := time.Since(start)
		b.Logf("created %d users with ldapadd in %s (%.0f users/s); kept in %s for the next run", benchUsers, took.Round(time.Millisecond), benchUsers/took.Seconds(), dir)
		benchErr = os.WriteFile(marker, []byte(took.String()+"\n"), 0o600)
	})
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	return benchDC
}

// stopBenchDC stops the benchmark's DC and keeps its directory.
func stopBenchDC() {
	if benchDC != nil {
		benchDC.stop()
	}
}

func fillBenchUsers(d *sambaDC) error {
	var ldif bytes.Buffer
	fmt.Fprintf(&ldif, "dn: %s\nobjectClass: top\nobjectClass: organizationalUnit\n\n", benchOU)
	for i := 0; i < benchUsers; i++ {
		fmt.Fprintf(&ldif, "dn: CN=Bench User %05d,%s\nobjectClass: top\nobjectClass: person\nobjectClass: organizationalPerson\nobjectClass: user\n"+
			"sAMAccountName: bench%05d\nuserPrincipalName: bench%05d@rebind.test\nmail: bench%05d@corp.example\n"+
			"proxyAddresses: SMTP:bench%05d@corp.example\nproxyAddresses: smtp:bench%05d@contoso.mail.onmicrosoft.com\n"+
			"mailNickname: bench%05d\ndescription: %s\n\n", i, benchOU, i, i, i, i, i, i, benchMarker)
	}
	file := filepath.Join(d.dir, "bench.ldif")
	if err := os.WriteFile(file, ldif.Bytes(), 0o600); err != nil {
		return err
	}
	cmd := exec.Command("ldapadd", "-x", "-H", d.url(), "-D", sambaAdminDN, "-w", sambaPassword, "-f", file)
	cmd.Env = append(os.Environ(), "LDAPTLS_CACERT="+d.caFile)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("ldapadd: %v\n%s", err, tail(out))
	}
	return nil
}

// BenchmarkPagedSearch20000 reads 20,000 users with ad_users (paged search,
// pages of 1000, each entry turned into a user value) and, on the same
// query, times ldapsearch -E pr=1000/noprompt for comparison.
func BenchmarkPagedSearch20000(b *testing.B) {
	needSamba(b)
	if _, err := exec.LookPath("ldapadd"); err != nil {
		b.Skip("skipped: ldapadd and ldapsearch not installed (Debian package ldap-utils)")
	}
	d := startBenchDC(b)
	c := d.open(b)
	given := map[string]any{"filter": "(description=" + benchMarker + ")", "search_base": benchOU}
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		v := observe(b, "ad_users", c, given)
		if n := v.GetAttr("users").LengthInt(); n != benchUsers {
			b.Fatalf("ad_users read %d users, want %d", n, benchUsers)
		}
	}
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(benchUsers*b.N)/elapsed.Seconds(), "users/s")

	// go-ldap's paged search alone, without turning entries into values:
	// how much of ad_users' time is the DC and the wire.
	req := ldap.NewSearchRequest(benchOU, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
		"(&(objectClass=user)(description="+benchMarker+"))", userAttributes, nil)
	t0 := time.Now()
	res, err := c.SearchWithPaging(req, pageSize)
	raw := time.Since(t0)
	if err != nil || len(res.Entries) != benchUsers {
		b.Fatalf("raw paged search: %v", err)
	}
	b.ReportMetric(float64(benchUsers)/raw.Seconds(), "go-ldap-users/s")

	// ldapsearch on the same filter, base and attributes.
	filter := "(&(objectClass=user)(description=" + benchMarker + "))"
	args := append([]string{"-LLL", "-x", "-H", d.url(), "-D", sambaAdminDN, "-w", sambaPassword,
		"-E", "pr=1000/noprompt", "-b", benchOU, "-s", "sub", filter}, userAttributes...)
	var times []time.Duration
	for i := 0; i < 3; i++ {
		cmd := exec.Command("ldapsearch", args...)
		cmd.Env = append(os.Environ(), "LDAPTLS_CACERT="+d.caFile)
		var out bytes.Buffer
		cmd.Stdout = &out
		t0 := time.Now()
		if err := cmd.Run(); err != nil {
			b.Fatalf("ldapsearch: %v", err)
		}
		times = append(times, time.Since(t0))
		if n := strings.Count(out.String(), "\ndn: ") + boolInt(strings.HasPrefix(out.String(), "dn: ")); n != benchUsers {
			b.Fatalf("ldapsearch printed %d entries, want %d", n, benchUsers)
		}
	}
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	median := times[len(times)/2]
	b.ReportMetric(float64(benchUsers)/median.Seconds(), "ldapsearch-users/s")
	b.Logf("ad_users: %s per 20,000 users; go-ldap SearchWithPaging alone: %s; ldapsearch -E pr=1000/noprompt: %s (median of 3)",
		(elapsed / time.Duration(b.N)).Round(time.Millisecond), raw.Round(time.Millisecond), median.Round(time.Millisecond))
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
