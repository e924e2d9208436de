package labhttp_test

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	ldapv3 "github.com/go-ldap/ldap/v3"

	"github.com/rebind-dev/rebind/lab"
	"github.com/rebind-dev/rebind/lab/instance"
	"github.com/rebind-dev/rebind/lab/instance/instancetest"
	"github.com/rebind-dev/rebind/lab/labhttp"
)

// These tests are a third-party tool's view of a running lab, with nothing
// of rebind's client code: the CA comes from a file (what `lab serve
// --ca-file` writes), the HTTPS client is net/http with crypto/tls roots
// built from that file alone, tokens come from the token endpoint the lab
// publishes by the client credentials grant
// (https://learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow),
// and LDAPS is read with OpenLDAP's ldapsearch verifying the same CA.

// startThirdParty starts a lab that writes its CA to a file, as `lab
// serve --ca-file` does.
func startThirdParty(t *testing.T) (*instance.Instance, string) {
	t.Helper()
	ca := filepath.Join(t.TempDir(), "lab-ca.pem")
	in := instancetest.Start(t, instance.Options{Scenario: "healthy", Scenarios: lab.ScenarioFiles, CAFile: ca,
		Server: labhttp.ServerOptions{ReadUnits: 1 << 30, WriteUnits: 1 << 30}})
	return in, ca
}

// plainClient is net/http trusting only the CA in file.
func plainClient(t *testing.T, file string) *http.Client {
	t.Helper()
	pem, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatalf("%s holds no certificate", file)
	}
	return &http.Client{Timeout: time.Minute, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
}

func getJSON(t *testing.T, hc *http.Client, u, token string, out any) int {
	t.Helper()
	req, _ := http.NewRequest("GET", u, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatalf("GET %s: %s: %v", u, resp.Status, err)
		}
	}
	return resp.StatusCode
}

// TestThirdPartyHTTPSClient: with the CA file only, a plain net/http
// client reads /lab/endpoints, gets a token for Graph from the published
// token endpoint, walks GET /users by its @odata.nextLink to the end (each
// link https and on the lab's host, as Graph's are), and is refused 401
// without the token. A client trusting another CA (a fresh lab's) cannot
// connect at all.
func TestThirdPartyHTTPSClient(t *testing.T) {
	in, caFile := startThirdParty(t)
	hc := plainClient(t, caFile)
	var ep struct {
		Graph         string `json:"graph"`
		CA            string `json:"ca"`
		CAFile        string `json:"ca_file"`
		TokenEndpoint string `json:"token_endpoint"`
		ClientID      string `json:"client_id"`
		ClientSecret  string `json:"client_secret"`
	}
	if code := getJSON(t, hc, in.URL+"/lab/endpoints", "", &ep); code != 200 || ep.CA != string(in.CAPEM) || ep.TokenEndpoint == "" {
		t.Fatalf("/lab/endpoints: %d %+v", code, ep)
	}
	// The endpoints name the CA's file too, for a client that takes a
	// path (LDAPTLS_CACERT, NODE_EXTRA_CA_CERTS, curl --cacert).
	if ep.CAFile != caFile {
		t.Errorf("/lab/endpoints ca_file = %q, want %q", ep.CAFile, caFile)
	}
	resp, err := hc.PostForm(ep.TokenEndpoint, url.Values{"grant_type": {"client_credentials"}, "client_id": {ep.ClientID},
		"client_secret": {ep.ClientSecret}, "scope": {"https://graph.microsoft.com/.default"}})
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		ExpiresIn   int    `json:"expires_in"`
	}
	err = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || tok.AccessToken == "" || !strings.EqualFold(tok.TokenType, "Bearer") || tok.ExpiresIn <= 0 {
		t.Fatalf("token: %s %+v %v", resp.Status, tok, err)
	}

	var page struct {
		Value    []map[string]any `json:"value"`
		NextLink string           `json:"@odata.nextLink"`
	}
	if code := getJSON(t, hc, ep.Graph+"/users?$top=5", "", &page); code != 401 {
		t.Fatalf("GET /users without a token: %d, want 401", code)
	}
	seen, pages := map[string]bool{}, 0
	for next := ep.Graph + "/users?$top=5&$select=id"; next != ""; pages++ {
		page.Value, page.NextLink = nil, ""
		if code := getJSON(t, hc, next, tok.AccessToken, &page); code != 200 {
			t.Fatalf("GET %s: %d", next, code)
		}
		for _, u := range page.Value {
			seen[u["id"].(string)] = true
		}
		next = page.NextLink
		if next != "" && !strings.HasPrefix(next, ep.Graph+"/users?") {
			t.Fatalf("@odata.nextLink %q is not an absolute https link under %s", next, ep.Graph)
		}
	}
	all, _ := in.Tenant.CloudUsers(lab.CloudQuery{Limit: 100000})
	if len(seen) != len(all) || pages < 2 {
		t.Fatalf("the walk saw %d users in %d pages, want %d in more than one", len(seen), pages, len(all))
	}

	_, other := startThirdParty(t)
	if _, err := plainClient(t, other).Get(in.URL + "/lab/endpoints"); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("a client trusting another lab's CA connected: %v", err)
	}
}

// TestLdapsearchOverLDAPSAndStartTLS: OpenLDAP's ldapsearch, told the CA
// file (LDAPTLS_CACERT) and to demand a valid certificate, binds over the
// LDAPS URL and over StartTLS (-ZZ) and reads a user's objectSid and
// userAccountControl; told another CA, it fails the TLS handshake, as
// against a DC whose CA it does not trust.
func TestLdapsearchOverLDAPSAndStartTLS(t *testing.T) {
	ldapsearch, err := exec.LookPath("ldapsearch")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("ldapsearch is missing: install ldap-utils (apt-get install -y ldap-utils)")
		}
		t.Skip("ldapsearch is missing (apt-get install -y ldap-utils); CI runs this test")
	}
	in, caFile := startThirdParty(t)
	hc := plainClient(t, caFile)
	var ep struct {
		LDAP         string `json:"ldap"`
		LDAPS        string `json:"ldaps"`
		LDAPBaseDN   string `json:"ldap_base_dn"`
		LDAPBindDN   string `json:"ldap_bind_dn"`
		LDAPPassword string `json:"ldap_password"`
	}
	if code := getJSON(t, hc, in.URL+"/lab/endpoints", "", &ep); code != 200 || !strings.HasPrefix(ep.LDAPS, "ldaps://") {
		t.Fatalf("/lab/endpoints: %d %+v", code, ep)
	}
	emptyConf := filepath.Join(t.TempDir(), "ldap.conf")
	if err := os.WriteFile(emptyConf, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(ca string, extra ...string) (string, error) {
		args := append([]string{"-x", "-D", ep.LDAPBindDN, "-w", ep.LDAPPassword, "-o", "ldif_wrap=no"}, extra...)
		args = append(args, "-b", ep.LDAPBaseDN, "(userPrincipalName=user00003@contoso.com)", "objectSid", "userAccountControl")
		cmd := exec.Command(ldapsearch, args...)
		// No ldap.conf or .ldaprc of this machine's: an empty LDAPCONF and
		// HOME, so only what is given here counts (LDAPNOINIT would also
		// drop the LDAPTLS_* variables).
		cmd.Env = append(os.Environ(), "LDAPCONF="+emptyConf, "HOME="+filepath.Dir(emptyConf), "LDAPTLS_CACERT="+ca, "LDAPTLS_REQCERT=demand")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		return out.String(), err
	}
	ldap := ep.LDAP
	if !strings.HasPrefix(ldap, "ldap://") {
		t.Fatalf("/lab/endpoints ldap = %q, want an ldap:// URL", ldap)
	}
	for name, args := range map[string][]string{"LDAPS": {"-H", ep.LDAPS}, "StartTLS": {"-H", ldap, "-ZZ"}} {
		out, err := run(caFile, args...)
		if err != nil {
			t.Fatalf("%s with the lab's CA: %v\n%s", name, err, out)
		}
		if !strings.Contains(out, "userAccountControl: 512") || !strings.Contains(out, "objectSid:: ") {
			t.Fatalf("%s: want userAccountControl 512 and a binary objectSid:\n%s", name, out)
		}
		for _, l := range strings.Split(out, "\n") {
			if v, ok := strings.CutPrefix(l, "objectSid:: "); ok {
				sid, err := base64.StdEncoding.DecodeString(v)
				if err != nil || !strings.HasPrefix(lab.SIDString(sid), "S-1-5-21-") {
					t.Fatalf("%s: objectSid %q is not a domain SID: %v", name, v, err)
				}
			}
		}
	}
	_, otherCA := startThirdParty(t)
	for name, args := range map[string][]string{"LDAPS": {"-H", ep.LDAPS}, "StartTLS": {"-H", ldap, "-ZZ"}} {
		if out, err := run(otherCA, args...); err == nil || strings.Contains(out, "userAccountControl") {
			t.Fatalf("%s trusting another CA succeeded:\n%s", name, out)
		} else {
			t.Logf("%s trusting another CA: %v: %s", name, err, strings.TrimSpace(out))
		}
	}
}

// TestForgedTokensAreRefused: Graph accepts only tokens its identity
// platform signed; a token another lab issued, one whose payload was
// edited after signing (more roles), and an unsigned one ("alg":"none")
// are each 401 InvalidAuthenticationToken
// (https://learn.microsoft.com/graph/errors: 401 "Required authentication
// information is either missing or not valid for the resource").
func TestForgedTokensAreRefused(t *testing.T) {
	o := startOutside(t, "healthy", labhttp.ServerOptions{})
	other := startOutside(t, "healthy", labhttp.ServerOptions{})
	good := o.token(labhttp.GraphResource)
	parts := strings.Split(good, ".")
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	claims["roles"] = []string{"Directory.ReadWrite.All", "RoleManagement.ReadWrite.Directory"}
	edited, _ := json.Marshal(claims)
	none := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`))
	for name, tok := range map[string]string{
		"another lab's token": other.token(labhttp.GraphResource),
		"an edited payload":   parts[0] + "." + base64.RawURLEncoding.EncodeToString(edited) + "." + parts[2],
		"alg none":            none + "." + parts[1] + ".",
	} {
		code, out := o.do("GET", "/v1.0/users/user00003@contoso.com", tok, nil)
		if code != 401 || errCode(out) != "InvalidAuthenticationToken" {
			t.Errorf("%s: %d %v, want 401 InvalidAuthenticationToken", name, code, out)
		}
	}
	if code, out := o.do("GET", "/v1.0/users/user00003@contoso.com", good, nil); code != 200 {
		t.Fatalf("the lab's own token: %d %v", code, out)
	}
}

// TestDisabledADAccountSyncsAsAccountEnabledFalse: an admin tool disables
// an account over LDAPS (userAccountControl 514, ACCOUNTDISABLE set) and
// after the next Delta cycle Graph shows the synced user's accountEnabled
// false; enabled again (512), true. Connect's default configuration
// applies its "In from AD – User AccountEnabled" rule "when
// userAccountControl is set to the decimal value 512 (enabled normal
// user). It does not apply the rule when the user has userAccountControl
// set to 514 (disabled normal user)", and that rule "always sets the value
// True in the metaverse attribute named accountEnabled"
// (https://learn.microsoft.com/entra/identity/hybrid/connect/concept-azure-ad-connect-sync-default-configuration).
func TestDisabledADAccountSyncsAsAccountEnabledFalse(t *testing.T) {
	o := startOutside(t, "healthy", labhttp.ServerOptions{})
	conn := o.ldaps()
	res, err := conn.Search(ldapv3.NewSearchRequest(o.ep.LDAPBaseDN, ldapv3.ScopeWholeSubtree, ldapv3.NeverDerefAliases, 0, 0, false,
		"(userPrincipalName=user00003@contoso.com)", []string{"1.1"}, nil))
	if err != nil || len(res.Entries) != 1 {
		t.Fatalf("search: %v", err)
	}
	dn := res.Entries[0].DN
	tok := o.token(labhttp.GraphResource)
	for _, tc := range []struct {
		uac     string
		enabled bool
	}{{"514", false}, {"512", true}} {
		mod := ldapv3.NewModifyRequest(dn, nil)
		mod.Replace("userAccountControl", []string{tc.uac})
		if err := conn.Modify(mod); err != nil {
			t.Fatalf("userAccountControl %s: %v", tc.uac, err)
		}
		if code, out := o.do("POST", "/lab/sync?policy=Delta", "", nil); code != 200 {
			t.Fatalf("sync: %d %v", code, out)
		}
		code, out := o.do("GET", "/v1.0/users/user00003@contoso.com?$select=accountEnabled,onPremisesSyncEnabled", tok, nil)
		if code != 200 || out["accountEnabled"] != tc.enabled || out["onPremisesSyncEnabled"] != true {
			t.Fatalf("after userAccountControl %s and a Delta cycle: %d %v, want accountEnabled %v", tc.uac, code, out, tc.enabled)
		}
	}
}

// TestCAFileUnwritable: a CA file the lab cannot write stops it before it
// serves, naming the file, instead of publishing a path that holds nothing.
func TestCAFileUnwritable(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "missing-dir", "lab-ca.pem")
	in, err := instance.Start(instance.Options{Scenario: "healthy", Scenarios: lab.ScenarioFiles, CAFile: bad})
	if err == nil {
		in.Close()
		t.Fatal("the lab started with a CA file it could not write")
	}
	if !strings.Contains(err.Error(), bad) {
		t.Errorf("error %q does not name %s", err, bad)
	}
}
