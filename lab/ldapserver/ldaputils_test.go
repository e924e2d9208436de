package ldapserver_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/rebind-dev/rebind/anchor"
	"github.com/rebind-dev/rebind/lab"
	"github.com/rebind-dev/rebind/lab/ldapserver"
)

// tool returns the path of an ldap-utils program. It skips the test when
// the program is missing, except in CI, where the lab's promise that
// ldapsearch and ldapmodify work against it must be checked.
func tool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is missing: install ldap-utils (apt-get install -y ldap-utils)", name)
	}
	t.Skipf("%s is missing (apt-get install -y ldap-utils); CI runs this test", name)
	return ""
}

// ldapTool runs an ldap-utils program against the lab as its administrator,
// with no ldap.conf or .ldaprc read, and returns its output and exit code.
func ldapTool(t *testing.T, name, addr, stdin string, args ...string) (string, int) {
	t.Helper()
	full := append([]string{"-x", "-H", "ldap://" + addr, "-D", adminDN, "-w", ldapserver.DefaultPassword, "-o", "ldif_wrap=no"}, args...)
	cmd := exec.Command(tool(t, name), full...)
	cmd.Env = append(os.Environ(), "LDAPNOINIT=1")
	cmd.Stdin = strings.NewReader(stdin)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			return out.String(), ee.ExitCode()
		}
		t.Fatalf("%s: %v", name, err)
	}
	return out.String(), 0
}

func TestLdapsearchPaged(t *testing.T) {
	tool(t, "ldapsearch")
	tn := lab.New(lab.Config{})
	const n = 250
	for i := range n {
		addUser(t, tn, fmt.Sprintf("user%03d", i), nil)
	}
	_, addr := start(t, tn)

	out, rc := ldapTool(t, "ldapsearch", addr, "", "-b", domain, "-E", "pr=100/noprompt", "(objectClass=user)", "sAMAccountName")
	if rc != 0 {
		t.Fatalf("ldapsearch exited %d:\n%s", rc, out)
	}
	sams := regexp.MustCompile(`(?m)^sAMAccountName: (\S+)$`).FindAllStringSubmatch(out, -1)
	seen := map[string]bool{}
	for _, m := range sams {
		seen[m[1]] = true
	}
	if len(sams) != n || len(seen) != n {
		t.Errorf("ldapsearch listed %d users, %d distinct; want %d once each", len(sams), len(seen), n)
	}
	// Three pages: two that hand back a cookie, and the last without.
	if got := strings.Count(out, "pagedresults: cookie="); got != 3 {
		t.Errorf("%d pagedresults comments, want 3:\n%s", got, tail(out))
	}
	if got := strings.Count(out, "result: 0 Success"); got != 3 {
		t.Errorf("%d successful pages, want 3", got)
	}

	// Unpaged with a client size limit: the first 10 and code 4.
	out, rc = ldapTool(t, "ldapsearch", addr, "", "-b", domain, "-z", "10", "(objectClass=user)", "1.1")
	if rc != 4 || !strings.Contains(out, "result: 4 Size limit exceeded") || strings.Count(out, "\ndn: ") != 10 {
		t.Errorf("ldapsearch -z 10 exited %d, want 4 with 10 entries:\n%s", rc, tail(out))
	}
}

func TestLdapsearchBinaryGUID(t *testing.T) {
	tool(t, "ldapsearch")
	tn := lab.New(lab.Config{})
	g, err := anchor.ParseGUID("1effbc1e-4aa3-4f9d-a508-d4d81f1f5873")
	if err != nil {
		t.Fatal(err)
	}
	addUser(t, tn, "ann", func(u *lab.ADUser) { u.ObjectGUID = g })
	_, addr := start(t, tn)
	// The filter escapes the bytes in AD's order, as admins type it.
	out, rc := ldapTool(t, "ldapsearch", addr, "", "-LLL", "-b", domain, "(objectGUID="+g.EscapeFilter()+")", "objectGUID")
	if rc != 0 {
		t.Fatalf("ldapsearch exited %d:\n%s", rc, out)
	}
	if !strings.Contains(out, "objectGUID:: Hrz/HqNKnU+lCNTYHx9Ycw==\n") {
		t.Errorf("objectGUID not in AD's byte order:\n%s", out)
	}
}

func TestLdapsearchShowDeletedAndLdapmodifyReanimation(t *testing.T) {
	tool(t, "ldapsearch")
	tool(t, "ldapmodify")
	tn := lab.New(lab.Config{})
	ann := addUser(t, tn, "ann", nil)
	if err := tn.DeleteADUser(staff("ann")); err != nil {
		t.Fatal(err)
	}
	_, addr := start(t, tn)
	gone := deletedDN(ann)

	out, rc := ldapTool(t, "ldapsearch", addr, "", "-LLL", "-b", "CN=Deleted Objects,"+domain, "-s", "one", "(isDeleted=TRUE)", "isDeleted", "lastKnownParent")
	if rc != 32 || !strings.Contains(out, "No such object (32)") {
		t.Errorf("without Show Deleted: exit %d, want 32 No such object:\n%s", rc, out)
	}
	out, rc = ldapTool(t, "ldapsearch", addr, "", "-LLL", "-E", "!1.2.840.113556.1.4.417",
		"-b", "CN=Deleted Objects,"+domain, "-s", "one", "(isDeleted=TRUE)", "isDeleted", "lastKnownParent")
	if rc != 0 {
		t.Fatalf("with Show Deleted: exit %d:\n%s", rc, out)
	}
	for _, want := range []string{"dn: " + gone + "\n", "isDeleted: TRUE\n", "lastKnownParent: OU=Staff," + domain + "\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("with Show Deleted, output lacks %q:\n%s", want, out)
		}
	}

	ldif := "dn: " + gone + "\nchangetype: modify\ndelete: isDeleted\n-\nreplace: distinguishedName\ndistinguishedName: " + staff("ann") + "\n-\n"
	out, rc = ldapTool(t, "ldapmodify", addr, ldif)
	if rc != 32 {
		t.Errorf("ldapmodify without Show Deleted: exit %d, want 32:\n%s", rc, out)
	}
	out, rc = ldapTool(t, "ldapmodify", addr, ldif, "-e", "!1.2.840.113556.1.4.417")
	if rc != 0 {
		t.Fatalf("ldapmodify reanimation: exit %d:\n%s", rc, out)
	}
	u, err := tn.ADUser(ann.ObjectGUID.String())
	if err != nil || u.IsDeleted || u.DN != staff("ann") {
		t.Fatalf("after ldapmodify: %+v %v", u, err)
	}
	out, rc = ldapTool(t, "ldapsearch", addr, "", "-LLL", "-b", staff("ann"), "-s", "base", "(objectClass=user)", "objectGUID")
	if rc != 0 || !strings.Contains(out, "objectGUID:: "+ann.ObjectGUID.ImmutableID()) {
		t.Errorf("restored user keeps its objectGUID: exit %d:\n%s", rc, out)
	}
	// Once more: the deleted object is gone, so 32.
	if out, rc = ldapTool(t, "ldapmodify", addr, ldif, "-e", "!1.2.840.113556.1.4.417"); rc != 32 {
		t.Errorf("second reanimation: exit %d, want 32:\n%s", rc, out)
	}
}

// tail returns the end of a long tool output for a failure message.
func tail(s string) string {
	if len(s) > 2000 {
		return "..." + s[len(s)-2000:]
	}
	return s
}
