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
)

const (
	benchUsers  = 20000
	benchOU     = "OU=Bench," + sambaBaseDN
	benchMarker = "rebind-bench"
)

var (
	benchOnce  sync.Once
	benchErr   error
	benchBuilt time.Duration
)

// benchDirectory fills the DC with benchUsers users under OU=Bench, once per
// test process, with ldapadd (far faster than one Add per round trip from
// the test). It is only called by the benchmark so the test suite stays
// fast.
func benchDirectory(b *testing.B, d *sambaDC) {
	b.Helper()
	benchOnce.Do(func() {
		start := time.Now()
		var ldif bytes.Buffer
		fmt.Fprintf(&ldif, "dn: %s\nobjectClass: top\nobjectClass: organizationalUnit\n\n", benchOU)
		for i := 0; i < benchUsers; i++ {
			fmt.Fprintf(&ldif, "dn: CN=Bench User %05d,%s\nobjectClass: top\nobjectClass: person\nobjectClass: organizationalPerson\nobjectClass: user\n"+
				"sAMAccountName: bench%05d\nuserPrincipalName: bench%05d@rebind.test\nmail: bench%05d@corp.example\n"+
				"proxyAddresses: SMTP:bench%05d@corp.example\nproxyAddresses: smtp:bench%05d@contoso.mail.onmicrosoft.com\n"+
				"mailNickname: bench%05d\ndescription: %s\n\n", i, benchOU, i, i, i, i, i, i, benchMarker)
		}
		file := filepath.Join(d.dir, "bench.ldif")
		if benchErr = os.WriteFile(file, ldif.Bytes(), 0o600); benchErr != nil {
			return
		}
		cmd := exec.Command("ldapadd", "-x", "-H", d.url(), "-D", sambaAdminDN, "-w", sambaPassword, "-f", file)
		cmd.Env = append(os.Environ(), "LDAPTLS_CACERT="+d.caFile)
		if out, err := cmd.CombinedOutput(); err != nil {
			benchErr = fmt.Errorf("ldapadd: %v\n%s", err, tail(out))
			return
		}
		benchBuilt = time.Since(start)
	})
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	b.Logf("created %d users with ldapadd in %s (%.0f users/s)", benchUsers, benchBuilt.Round(time.Millisecond), benchUsers/benchBuilt.Seconds())
}

// BenchmarkPagedSearch20000 reads 20,000 users with ad_users (paged search,
// pages of 1000, each entry turned into a user value) and, on the same
// query, times ldapsearch -E pr=1000/noprompt for comparison.
func BenchmarkPagedSearch20000(b *testing.B) {
	d := needSamba(b)
	if _, err := exec.LookPath("ldapadd"); err != nil {
		b.Skip("skipped: ldapadd and ldapsearch not installed (Debian package ldap-utils)")
	}
	benchDirectory(b, d)
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
	b.Logf("ad_users: %s per 20,000 users; ldapsearch -E pr=1000/noprompt: %s (median of 3)",
		(elapsed / time.Duration(b.N)).Round(time.Millisecond), median.Round(time.Millisecond))
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
