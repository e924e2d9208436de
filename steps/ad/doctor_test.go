package ad

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/go-ldap/ldap/v3"

	"github.com/rebind-dev/rebind/steps"
)

// adNeeds are the AD rights the bundled step types declare.
func adNeeds() []steps.Permission {
	var out []steps.Permission
	for _, name := range []string{"ad_user", "ad_deleted_user", "ad_remote_mailbox", "ad_user_restored"} {
		t, _ := steps.Lookup(name)
		for _, p := range t.Info().Permissions {
			out = append(out, steps.ParsePermission(p))
		}
	}
	return out
}

// unicodePwd is a password as AD's unicodePwd attribute takes it: in
// quotes, UTF-16LE (https://learn.microsoft.com/troubleshoot/windows-server/active-directory/set-user-password-with-ldifde).
func unicodePwd(p string) string {
	u := utf16.Encode([]rune(`"` + p + `"`))
	b := make([]byte, 2*len(u))
	for i, r := range u {
		binary.LittleEndian.PutUint16(b[2*i:], r)
	}
	return string(b)
}

func doctorChecks(t *testing.T, d *sambaDC, env map[string]string) map[string]steps.Check {
	t.Helper()
	checks := targetType{}.Doctor(context.Background(), steps.DoctorRequest{
		Config: steps.TargetConfig{Name: "corp", Config: targetConfig(map[string]any{"url": d.url(), "base_dn": sambaBaseDN}), Getenv: d.env(env)},
		Needs:  adNeeds(),
	})
	m := map[string]steps.Check{}
	for _, c := range checks {
		m[c.Name] = c
	}
	return m
}

func wantState(t *testing.T, m map[string]steps.Check, name string, state steps.CheckState, detail string) {
	t.Helper()
	c, ok := m[name]
	if !ok {
		t.Errorf("no check %q in %v", name, m)
		return
	}
	if c.State != state || !strings.Contains(c.Detail, detail) {
		t.Errorf("%s: %+v, want %s with %q", name, c, state, detail)
	}
	if state != steps.CheckOK && c.Fix == "" {
		t.Errorf("%s: no fix", name)
	}
}

// TestDoctorAgainstSamba checks the domain controller as an administrator,
// as an ordinary (restricted) account, with a wrong password and with a
// CA that did not sign the DC's certificate.
func TestDoctorAgainstSamba(t *testing.T) {
	d := needSamba(t)
	conn, err := d.adminConn()
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// A deleted user, so that the recycle bin is not empty.
	gone := "CN=rebind doctor gone,CN=Users," + sambaBaseDN
	add := ldap.NewAddRequest(gone, nil)
	add.Attribute("objectClass", []string{"top", "person", "organizationalPerson", "user"})
	add.Attribute("sAMAccountName", []string{"rbdoctorgone"})
	if err := conn.Add(add); err != nil && !ldap.IsErrorWithCode(err, ldap.LDAPResultEntryAlreadyExists) {
		t.Fatal(err)
	}
	if err := conn.Del(ldap.NewDelRequest(gone, nil)); err != nil {
		t.Fatal(err)
	}
	m := doctorChecks(t, d, nil)
	wantState(t, m, "reachable", steps.CheckOK, d.ip)
	// The test DC's certificate is made for a day: doctor warns.
	wantState(t, m, "TLS certificate", steps.CheckWarning, "expires on")
	wantState(t, m, "bind", steps.CheckOK, sambaAdminDN)
	wantState(t, m, "read base DN", steps.CheckOK, sambaBaseDN)
	wantState(t, m, "AD read users", steps.CheckOK, "found CN=")
	wantState(t, m, "AD read deleted objects", steps.CheckOK, "listed CN=Deleted Objects")
	wantState(t, m, "AD Write Property on the user's Exchange attributes and proxyAddresses", steps.CheckOK, "among them proxyAddresses")
	wantState(t, m, "AD Create Child on the target container and Write Property on the deleted object", steps.CheckOK, "may create user objects")
	wantState(t, m, "AD Reanimate Tombstones", steps.CheckUnknown, "extended right")

	// An ordinary domain user, as a service account would be before it is
	// delegated anything.
	const pass = "Restricted-Pass-1!"
	dn := "CN=rebind doctor,CN=Users," + sambaBaseDN
	add = ldap.NewAddRequest(dn, nil)
	add.Attribute("objectClass", []string{"top", "person", "organizationalPerson", "user"})
	add.Attribute("sAMAccountName", []string{"rbdoctor"})
	add.Attribute("userPrincipalName", []string{"rbdoctor@rebind.test"})
	add.Attribute("unicodePwd", []string{unicodePwd(pass)})
	add.Attribute("userAccountControl", []string{"512"})
	if err := conn.Add(add); err != nil && !ldap.IsErrorWithCode(err, ldap.LDAPResultEntryAlreadyExists) {
		t.Fatalf("add the restricted account: %v", err)
	}
	t.Cleanup(func() { _ = conn.Del(ldap.NewDelRequest(dn, nil)) })
	m = doctorChecks(t, d, map[string]string{EnvBindDN: "rbdoctor@rebind.test", EnvPassword: pass})
	wantState(t, m, "bind", steps.CheckOK, "rbdoctor@rebind.test")
	wantState(t, m, "AD read users", steps.CheckOK, "found CN=")
	// Samba hides the deleted user from it: doctor cannot tell that from
	// an empty recycle bin, and says so.
	wantState(t, m, "AD read deleted objects", steps.CheckUnknown, "may not list it")
	wantState(t, m, "AD Write Property on the user's Exchange attributes and proxyAddresses", steps.CheckFailed, "the account may")
	wantState(t, m, "AD Create Child on the target container and Write Property on the deleted object", steps.CheckFailed, "may create no user objects")
	for name, c := range m {
		t.Logf("restricted: %s %s: %s", c.State, name, c.Detail)
	}

	m = doctorChecks(t, d, map[string]string{EnvBindDN: "rbdoctor@rebind.test", EnvPassword: "wrong"})
	wantState(t, m, "bind", steps.CheckFailed, "")
	if strings.Contains(m["bind"].Fix, "wrong") {
		t.Errorf("the fix quotes the password: %s", m["bind"].Fix)
	}

	// A CA that did not sign the DC's certificate.
	other := filepath.Join(t.TempDir(), "other.pem")
	if err := os.WriteFile(other, otherCAPEM(t), 0o600); err != nil {
		t.Fatal(err)
	}
	m = doctorChecks(t, d, map[string]string{EnvCAFile: other})
	wantState(t, m, "TLS certificate", steps.CheckFailed, "does not chain to a trusted CA")
	if _, ok := m["bind"]; ok {
		t.Error("doctor bound over a connection it could not trust")
	}
}

// otherCAPEM is a CA certificate that signed nothing the DC holds.
func otherCAPEM(t *testing.T) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "Another CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}
