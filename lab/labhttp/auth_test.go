package labhttp_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"io/fs"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/go-ldap/ldap/v3"

	"github.com/rebind-dev/rebind/lab"
	"github.com/rebind-dev/rebind/lab/control"
	"github.com/rebind-dev/rebind/lab/instance"
	"github.com/rebind-dev/rebind/lab/instance/instancetest"
	"github.com/rebind-dev/rebind/lab/labhttp"
)

// These tests talk to the lab as a tool rebind did not write would: over
// HTTPS verified against the CA /lab/endpoints publishes, with tokens from
// the lab's token endpoint, through the public endpoints only.

// outside is a client of a running lab.
type outside struct {
	t  *testing.T
	in *instance.Instance
	hc *http.Client
	ep control.Endpoints
}

func startOutside(t *testing.T, scenario string, opts labhttp.ServerOptions) *outside {
	t.Helper()
	if opts.ReadUnits == 0 {
		opts.ReadUnits = 1 << 30
	}
	in := instancetest.Start(t, instance.Options{Scenario: scenario, Scenarios: lab.ScenarioFiles, Server: opts})
	if !strings.HasPrefix(in.URL, "https://") {
		t.Fatalf("the lab serves %s, want https", in.URL)
	}
	// The CA comes from the lab's own endpoint: fetch it once without
	// verification would be trust on first use; here the test knows the
	// instance's CA and checks that /lab/endpoints publishes the same.
	hc := in.Client()
	ep, err := control.New(in.URL, hc).Endpoints(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if ep.CA != string(in.CAPEM) || ep.TokenEndpoint == "" || ep.ClientID == "" || ep.ClientSecret == "" || !strings.HasPrefix(ep.LDAPS, "ldaps://") {
		t.Fatalf("/lab/endpoints = %+v, want the CA, the token endpoint, the default app and the LDAPS URL", ep)
	}
	return &outside{t: t, in: in, hc: hc, ep: ep}
}

// appToken gets an app-only token by the client credentials grant.
func (o *outside) appToken(clientID, secret, resource string) (int, map[string]any) {
	o.t.Helper()
	return o.answer(o.hc.PostForm(o.ep.TokenEndpoint, url.Values{"grant_type": {"client_credentials"}, "client_id": {clientID},
		"client_secret": {secret}, "scope": {resource + "/.default"}}))
}

// answer reads the status and JSON body of a request's answer, failing
// the test when the request got none.
func (o *outside) answer(resp *http.Response, err error) (int, map[string]any) {
	o.t.Helper()
	if err != nil {
		o.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func (o *outside) token(resource string) string {
	o.t.Helper()
	code, out := o.appToken(o.ep.ClientID, o.ep.ClientSecret, resource)
	if code != 200 || out["access_token"] == nil {
		o.t.Fatalf("token: %d %v", code, out)
	}
	return out["access_token"].(string)
}

func (o *outside) delegated(scp string, wids ...string) string {
	o.t.Helper()
	b, _ := json.Marshal(map[string]any{"user": "admin@contoso.com", "scp": scp, "wids": wids})
	resp, err := o.hc.Post(o.in.URL+"/lab/token", "application/json", bytes.NewReader(b))
	if err != nil {
		o.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || out.AccessToken == "" {
		o.t.Fatalf("delegated token: %s %v", resp.Status, err)
	}
	return out.AccessToken
}

// ldaps connects to the lab's LDAPS listener trusting the published CA,
// binds with the published account, and closes the connection when the
// test ends.
func (o *outside) ldaps() *ldap.Conn {
	o.t.Helper()
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM([]byte(o.ep.CA))
	conn, err := ldap.DialURL(o.ep.LDAPS, ldap.DialWithTLSConfig(&tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}))
	if err != nil {
		o.t.Fatal(err)
	}
	o.t.Cleanup(func() { conn.Close() })
	if err := conn.Bind(o.ep.LDAPBindDN, o.ep.LDAPPassword); err != nil {
		o.t.Fatal(err)
	}
	return conn
}

// do sends a request with token (none when "") and decodes the answer.
func (o *outside) do(method, u, token string, body any) (int, map[string]any) {
	o.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	if !strings.HasPrefix(u, "https://") {
		u = o.in.URL + u
	}
	req, _ := http.NewRequest(method, u, rd)
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return o.answer(o.hc.Do(req))
}

func errCode(out map[string]any) string {
	e, _ := out["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

// TestLabIsHTTPSOnlyWithItsCA: a client without the lab's CA cannot
// connect (no InsecureSkipVerify anywhere), and the @odata.nextLink values
// are https URLs a page iterator follows as absolute links to the end.
func TestLabIsHTTPSOnlyWithItsCA(t *testing.T) {
	o := startOutside(t, "healthy", labhttp.ServerOptions{})
	if _, err := http.Get(o.in.URL + "/lab/endpoints"); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("a client without the lab's CA connected: %v", err)
	}
	tok := o.token(labhttp.GraphResource)
	seen := map[string]bool{}
	next, pages := "/v1.0/users?$top=7&$select=id,userPrincipalName", 0
	for next != "" {
		code, out := o.do("GET", next, tok, nil)
		if code != 200 {
			t.Fatalf("GET %s: %d %v", next, code, out)
		}
		for _, u := range out["value"].([]any) {
			seen[u.(map[string]any)["id"].(string)] = true
		}
		next, _ = out["@odata.nextLink"].(string)
		if next != "" && !strings.HasPrefix(next, o.in.URL+"/v1.0/users?") {
			t.Fatalf("nextLink %q is not an absolute https link to the lab", next)
		}
		pages++
	}
	all, _ := o.in.Tenant.CloudUsers(lab.CloudQuery{Limit: 100000})
	want := len(all)
	if len(seen) != want || pages < 2 {
		t.Fatalf("the page walk saw %d users in %d pages, want %d in more than one", len(seen), pages, want)
	}
}

// TestGraphRequiresAValidToken: no token, a malformed one, one for another
// resource and one with a bad secret are each refused as Graph and the
// identity platform refuse them.
func TestGraphRequiresAValidToken(t *testing.T) {
	o := startOutside(t, "healthy", labhttp.ServerOptions{})
	for name, tok := range map[string]string{
		"no token":         "",
		"not a JWT":        "rebind-lab-token",
		"Exchange's token": o.token(labhttp.ExchangeResource),
	} {
		code, out := o.do("GET", "/v1.0/users/user00003@contoso.com", tok, nil)
		if code != 401 || errCode(out) != "InvalidAuthenticationToken" {
			t.Errorf("%s: %d %v, want 401 InvalidAuthenticationToken", name, code, out)
		}
	}
	if code, out := o.do("GET", "/v1.0/users/user00003@contoso.com", o.token(labhttp.GraphResource), nil); code != 200 {
		t.Fatalf("with the app's token: %d %v", code, out)
	}
	if code, out := o.appToken(o.ep.ClientID, "wrong", labhttp.GraphResource); code != 401 || out["error"] != "invalid_client" ||
		!strings.HasPrefix(out["error_description"].(string), "AADSTS7000215") {
		t.Fatalf("a wrong secret: %d %v, want 401 invalid_client AADSTS7000215", code, out)
	}
	if code, out := o.appToken(o.ep.ClientID, o.ep.ClientSecret, "https://management.azure.com"); code != 400 || out["error"] != "invalid_scope" {
		t.Fatalf("another resource: %d %v, want 400 invalid_scope", code, out)
	}
}

// TestAzidentityGetsALabToken: Microsoft's own client credential
// (azidentity over MSAL), with the lab as authority host and instance
// discovery off, reads the lab's OpenID configuration and gets a token
// whose claims are the ones rebind doctor reads.
func TestAzidentityGetsALabToken(t *testing.T) {
	o := startOutside(t, "healthy", labhttp.ServerOptions{})
	cred, err := azidentity.NewClientSecretCredential(o.ep.TenantID, o.ep.ClientID, o.ep.ClientSecret, &azidentity.ClientSecretCredentialOptions{
		ClientOptions:            azcore.ClientOptions{Cloud: cloud.Configuration{ActiveDirectoryAuthorityHost: o.ep.Authority}, Transport: o.hc},
		DisableInstanceDiscovery: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := cred.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{"https://graph.microsoft.com/.default"}})
	if err != nil {
		t.Fatal(err)
	}
	c, err := o.in.Server.Authority().Verify(tok.Token)
	if err != nil {
		t.Fatal(err)
	}
	if c.Aud != labhttp.GraphResource || c.Tid != o.ep.TenantID || c.AppID != o.ep.ClientID || len(c.Roles) == 0 || c.Scp != "" {
		t.Fatalf("claims = %+v", c)
	}
}

// TestOnPremisesSynchronizationIsDelegatedGlobalAdminOnly: its reference
// page lists "Application: Not supported." and Global Administrator as the
// only role; an app-only token and a delegated one without the role get
// 403 Authorization_RequestDenied.
func TestOnPremisesSynchronizationIsDelegatedGlobalAdminOnly(t *testing.T) {
	o := startOutside(t, "healthy", labhttp.ServerOptions{})
	const path = "/v1.0/directory/onPremisesSynchronization"
	if code, out := o.do("GET", path, o.token(labhttp.GraphResource), nil); code != 403 || errCode(out) != "Authorization_RequestDenied" {
		t.Fatalf("app-only: %d %v, want 403 Authorization_RequestDenied", code, out)
	}
	if code, out := o.do("GET", path, o.delegated("OnPremDirectorySynchronization.Read.All", labhttp.RoleUserAdministrator), nil); code != 403 {
		t.Fatalf("delegated, User Administrator: %d %v, want 403", code, out)
	}
	if code, out := o.do("GET", path, o.delegated("User.Read.All", labhttp.RoleGlobalAdministrator), nil); code != 403 {
		t.Fatalf("delegated without the scope: %d %v, want 403", code, out)
	}
	if code, out := o.do("GET", path, o.delegated("OnPremDirectorySynchronization.Read.All", labhttp.RoleGlobalAdministrator), nil); code != 200 {
		t.Fatalf("delegated Global Administrator: %d %v, want 200", code, out)
	}
}

// TestAppPermissionsAreChecked: an app registered with User.Read.All only
// reads users but cannot update them or call Exchange (no
// Exchange.ManageAsApp).
func TestAppPermissionsAreChecked(t *testing.T) {
	reader := lab.App{Name: "reader", ClientID: "0b6e3c52-5d0a-4c7b-9d8e-1f2a3b4c5d6e", Secret: "reader-secret", Roles: []string{"User.Read.All"}}
	o := startOutside(t, "healthy", labhttp.ServerOptions{Apps: []lab.App{reader}})
	code, out := o.appToken(reader.ClientID, reader.Secret, labhttp.GraphResource)
	if code != 200 {
		t.Fatalf("token: %d %v", code, out)
	}
	tok := out["access_token"].(string)
	if code, out := o.do("GET", "/v1.0/users/user00003@contoso.com", tok, nil); code != 200 {
		t.Fatalf("read: %d %v", code, out)
	}
	if code, out := o.do("DELETE", "/v1.0/users/user00003@contoso.com", tok, nil); code != 403 || errCode(out) != "Authorization_RequestDenied" {
		t.Fatalf("delete with User.Read.All: %d %v, want 403", code, out)
	}
	_, out = o.appToken(reader.ClientID, reader.Secret, labhttp.ExchangeResource)
	body := map[string]any{"CmdletInput": map[string]any{"CmdletName": "Get-Mailbox", "Parameters": map[string]any{"Identity": "user00003@contoso.com"}}}
	if code, out := o.do("POST", "/adminapi/beta/contoso.onmicrosoft.com/InvokeCommand", out["access_token"].(string), body); code != 403 {
		t.Fatalf("Exchange without Exchange.ManageAsApp: %d %v, want 403", code, out)
	}
	if code, out := o.do("POST", "/adminapi/beta/contoso.onmicrosoft.com/InvokeCommand", "", body); code != 401 {
		t.Fatalf("Exchange without a token: %d %v, want 401", code, out)
	}
	if code, out := o.do("POST", "/adminapi/beta/contoso.onmicrosoft.com/InvokeCommand", o.token(labhttp.ExchangeResource), body); code != 200 {
		t.Fatalf("Exchange with the default app: %d %v, want 200", code, out)
	}
}

// TestThrottlingKeysOnTheApp: two tokens of one app spend one budget,
// another app has its own.
func TestThrottlingKeysOnTheApp(t *testing.T) {
	other := lab.App{Name: "other", ClientID: "3c1d2e4f-6a7b-4c8d-9e0f-112233445566", Secret: "s", Roles: []string{"User.Read.All"}}
	o := startOutside(t, "healthy", labhttp.ServerOptions{ReadUnits: 2, Apps: []lab.App{other}})
	// GET users, the collection, costs 2 units without $select
	// (https://learn.microsoft.com/graph/throttling-limits#identity-and-access-service-limits).
	const u = "/v1.0/users"
	if code, out := o.do("GET", u, o.token(labhttp.GraphResource), nil); code != 200 {
		t.Fatalf("first read: %d %v", code, out)
	}
	if code, _ := o.do("GET", u, o.token(labhttp.GraphResource), nil); code != 429 {
		t.Fatalf("a second token of the same app: %d, want 429 (one budget per app)", code)
	}
	_, out := o.appToken(other.ClientID, other.Secret, labhttp.GraphResource)
	if code, out := o.do("GET", u, out["access_token"].(string), nil); code != 200 {
		t.Fatalf("another app: %d %v, want 200", code, out)
	}
}

// TestSyncedUserPropertiesAreRefused: properties Connect synchronizes
// cannot be written on a synced user (400 with Graph's message); its
// licenses, assigned in the cloud, can.
func TestSyncedUserPropertiesAreRefused(t *testing.T) {
	o := startOutside(t, "healthy", labhttp.ServerOptions{WriteUnits: 1 << 30})
	tok := o.token(labhttp.GraphResource)
	const u = "/v1.0/users/user00003@contoso.com"
	for _, body := range []map[string]any{{"displayName": "Renamed"}, {"accountEnabled": false}, {"userPrincipalName": "x@contoso.com"}} {
		code, out := o.do("PATCH", u, tok, body)
		msg, _ := out["error"].(map[string]any)["message"].(string)
		if code != 400 || !strings.Contains(msg, "Unable to update the specified properties for on-premises mastered Directory Sync objects") {
			t.Errorf("PATCH %v: %d %v, want 400 with Graph's message", body, code, out)
		}
	}
}

// TestSyncedUserSynchronizedAttributesAreRefused: every Graph property
// Entra Connect fills from an AD attribute it synchronizes
// (reference-connect-sync-attributes-synchronized: givenName, sn, title,
// department, company, l, st, streetAddress, postalCode, co,
// physicalDeliveryOfficeName, telephoneNumber, mobile,
// facsimiletelephonenumber, mail, mailNickname, preferredLanguage,
// extensionAttribute1-15) is refused on a synced user with Graph's
// message, as the identity, job and contact info the admin center says
// "you must use Windows Server Active Directory to update"
// (how-to-manage-user-profile-info). On a cloud user they are not that
// refusal (the lab stores none of them; it says so).
func TestSyncedUserSynchronizedAttributesAreRefused(t *testing.T) {
	o := startOutside(t, "healthy", labhttp.ServerOptions{WriteUnits: 1 << 30})
	tok := o.token(labhttp.GraphResource)
	for _, body := range []map[string]any{
		{"givenName": "Ann"}, {"surname": "Lee"}, {"jobTitle": "Engineer"}, {"department": "IT"}, {"companyName": "Contoso"},
		{"city": "Oslo"}, {"state": "WA"}, {"streetAddress": "1 Main St"}, {"postalCode": "98052"}, {"country": "NO"},
		{"officeLocation": "18/2111"}, {"businessPhones": []string{"+1 425 555 0100"}}, {"mobilePhone": "+1 425 555 0109"},
		{"faxNumber": "+1 425 555 0101"}, {"mail": "x@contoso.com"}, {"mailNickname": "x"}, {"preferredLanguage": "en-US"},
		{"onPremisesExtensionAttributes": map[string]any{"extensionAttribute1": "x"}},
	} {
		code, out := o.do("PATCH", "/v1.0/users/user00003@contoso.com", tok, body)
		msg, _ := out["error"].(map[string]any)["message"].(string)
		if code != 400 || errCode(out) != "Request_BadRequest" || !strings.Contains(msg, "Unable to update the specified properties for on-premises mastered Directory Sync objects") {
			t.Errorf("PATCH %v of a synced user: %d %v, want 400 with Graph's message", body, code, out)
		}
		code, out = o.do("PATCH", "/v1.0/users/admin@contoso.onmicrosoft.com", tok, body)
		msg, _ = out["error"].(map[string]any)["message"].(string)
		if code != 400 || strings.Contains(msg, "on-premises mastered") || !strings.Contains(msg, "lab") {
			t.Errorf("PATCH %v of a cloud user: %d %v, want the lab's own refusal, not the synced user's", body, code, out)
		}
	}
}

// TestBatchItemURLWithAVersionIsRefused: an item's url is relative to the
// version; "/v1.0/users/..." is 400 "Resource not found for the segment
// 'v1.0'".
func TestBatchItemURLWithAVersionIsRefused(t *testing.T) {
	o := startOutside(t, "healthy", labhttp.ServerOptions{})
	code, out := o.do("POST", "/v1.0/$batch", o.token(labhttp.GraphResource), map[string]any{"requests": []any{
		map[string]any{"id": "1", "method": "GET", "url": "/v1.0/users/user00003@contoso.com"},
		map[string]any{"id": "2", "method": "GET", "url": "/users/user00003@contoso.com"},
	}})
	if code != 200 {
		t.Fatalf("batch: %d %v", code, out)
	}
	rs := out["responses"].([]any)
	r1, r2 := rs[0].(map[string]any), rs[1].(map[string]any)
	msg, _ := r1["body"].(map[string]any)["error"].(map[string]any)["message"].(string)
	if r1["status"].(float64) != 400 || msg != "Resource not found for the segment 'v1.0'." || r2["status"].(float64) != 200 {
		t.Fatalf("responses = %v", rs)
	}
}

// TestLDAPSVerifiesWithThePublishedCA: the lab's LDAPS listener presents
// a certificate that chains to the CA /lab/endpoints publishes; a client
// verifying against the system roots alone is refused, as against a DC
// whose CA it does not trust.
func TestLDAPSVerifiesWithThePublishedCA(t *testing.T) {
	o := startOutside(t, "healthy", labhttp.ServerOptions{})
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM([]byte(o.ep.CA)) {
		t.Fatal("the published CA holds no certificate")
	}
	conn, err := ldap.DialURL(o.ep.LDAPS, ldap.DialWithTLSConfig(&tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}))
	if err != nil {
		t.Fatalf("LDAPS with the published CA: %v", err)
	}
	defer conn.Close()
	if err := conn.Bind(o.ep.LDAPBindDN, o.ep.LDAPPassword); err != nil {
		t.Fatalf("bind over LDAPS: %v", err)
	}
	if _, err := ldap.DialURL(o.ep.LDAPS, ldap.DialWithTLSConfig(&tls.Config{ServerName: "127.0.0.1"})); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("LDAPS without the lab's CA: %v, want a certificate error", err)
	}
}

// TestObjectSidAndUserAccountControl: users carry objectSid in AD's binary
// form (S-1-5-21-<domain>-<RID>, one domain prefix, one RID each) and
// userAccountControl (NORMAL_ACCOUNT 0x200), which an admin tool can set
// to disable the account (0x2) and read back; objectSid cannot be written.
func TestObjectSidAndUserAccountControl(t *testing.T) {
	o := startOutside(t, "healthy", labhttp.ServerOptions{})
	conn := o.ldaps()
	read := func(upn string) (dn, sid, uac string) {
		t.Helper()
		res, err := conn.Search(ldap.NewSearchRequest(o.ep.LDAPBaseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
			"(userPrincipalName="+upn+")", []string{"objectSid", "userAccountControl"}, nil))
		if err != nil || len(res.Entries) != 1 {
			t.Fatalf("search %s: %v", upn, err)
		}
		e := res.Entries[0]
		return e.DN, lab.SIDString(e.GetRawAttributeValue("objectSid")), e.GetAttributeValue("userAccountControl")
	}
	dn3, sid3, uac := read("user00003@contoso.com")
	_, sid4, _ := read("user00004@contoso.com")
	i3, i4 := strings.LastIndex(sid3, "-"), strings.LastIndex(sid4, "-")
	if !strings.HasPrefix(sid3, "S-1-5-21-") || strings.Count(sid3, "-") != 7 || sid3[:i3] != sid4[:i4] || sid3 == sid4 {
		t.Fatalf("objectSid %q and %q: want S-1-5-21-a-b-c-RID with one domain prefix and two RIDs", sid3, sid4)
	}
	if uac != "512" {
		t.Fatalf("userAccountControl = %q, want 512 (NORMAL_ACCOUNT)", uac)
	}
	mod := ldap.NewModifyRequest(dn3, nil)
	mod.Replace("userAccountControl", []string{"514"})
	if err := conn.Modify(mod); err != nil {
		t.Fatalf("disable: %v", err)
	}
	if _, _, uac := read("user00003@contoso.com"); uac != "514" {
		t.Fatalf("after disabling, userAccountControl = %q, want 514", uac)
	}
	mod = ldap.NewModifyRequest(dn3, nil)
	mod.Replace("objectSid", []string{"x"})
	if err := conn.Modify(mod); err == nil {
		t.Fatal("objectSid was written")
	}
	// A restart keeps the SID: the state file round trip.
	var buf bytes.Buffer
	if err := o.in.Tenant.Save(&buf); err != nil {
		t.Fatal(err)
	}
	tn, err := lab.Load(&buf)
	if err != nil {
		t.Fatal(err)
	}
	u, err := tn.ADUser(dn3)
	if err != nil || lab.SIDString(u.ObjectSID()) != sid3 || !u.Disabled() {
		t.Fatalf("after a reload: %v %s disabled=%v, want %s disabled", err, lab.SIDString(u.ObjectSID()), u.Disabled(), sid3)
	}
}

// TestScenarioDeclaresApps: a scenario's apps get tokens with the roles
// it grants them and keep them across a save; an app without a secret is
// refused, naming it.
func TestScenarioDeclaresApps(t *testing.T) {
	raw, err := fs.ReadFile(lab.ScenarioFiles, lab.ScenarioDir+"/healthy.json")
	if err != nil {
		t.Fatal(err)
	}
	variant := func(apps any) fstest.MapFS {
		var sc map[string]any
		if err := json.Unmarshal(raw, &sc); err != nil {
			t.Fatal(err)
		}
		sc["apps"] = apps
		b, _ := json.Marshal(sc)
		return fstest.MapFS{lab.ScenarioDir + "/variant.json": {Data: b}}
	}
	app := map[string]any{"name": "graph only", "clientId": "9d8c7b6a-1111-4222-8333-444455556666", "secret": "s3", "roles": []string{"User.Read.All"}}
	in := instancetest.Start(t, instance.Options{Scenario: "variant", Scenarios: variant([]any{app})})
	o := &outside{t: t, in: in, hc: in.Client()}
	if o.ep, err = control.New(in.URL, o.hc).Endpoints(context.Background()); err != nil {
		t.Fatal(err)
	}
	code, out := o.appToken("9d8c7b6a-1111-4222-8333-444455556666", "s3", labhttp.ExchangeResource)
	if code != 200 {
		t.Fatalf("token: %d %v", code, out)
	}
	body := map[string]any{"CmdletInput": map[string]any{"CmdletName": "Get-Mailbox", "Parameters": map[string]any{"Identity": "user00003@contoso.com"}}}
	if code, out := o.do("POST", "/adminapi/beta/contoso.onmicrosoft.com/InvokeCommand", out["access_token"].(string), body); code != 403 {
		t.Fatalf("Exchange with the scenario's Graph-only app: %d %v, want 403", code, out)
	}
	var buf bytes.Buffer
	if err := in.Tenant.Save(&buf); err != nil || !strings.Contains(buf.String(), "9d8c7b6a-1111-4222-8333-444455556666") {
		t.Fatalf("the saved state lost the app: %v", err)
	}
	delete(app, "secret")
	if _, err := instance.Start(instance.Options{Scenario: "variant", Scenarios: variant([]any{app})}); err == nil ||
		!strings.Contains(err.Error(), `apps[0] ("graph only")`) {
		t.Fatalf("an app without a secret: %v, want an error naming apps[0]", err)
	}
}

// TestCertificateCredential: an app registered with a certificate gets a
// token through azidentity's client certificate credential (MSAL signs a
// PS256 client assertion with x5t#S256); another key's assertion is
// refused with AADSTS700027.
func TestCertificateCredential(t *testing.T) {
	certPEM, cert, key := selfSignedRSA(t)
	app := lab.App{Name: "cert app", ClientID: "5a4b3c2d-7777-4888-9999-aaaabbbbcccc", Certificates: []string{string(certPEM)}, Roles: []string{"User.Read.All"}}
	o := startOutside(t, "healthy", labhttp.ServerOptions{Apps: []lab.App{app}})
	opts := &azidentity.ClientCertificateCredentialOptions{
		ClientOptions:            azcore.ClientOptions{Cloud: cloud.Configuration{ActiveDirectoryAuthorityHost: o.ep.Authority}, Transport: o.hc},
		DisableInstanceDiscovery: true,
	}
	cred, err := azidentity.NewClientCertificateCredential(o.ep.TenantID, app.ClientID, []*x509.Certificate{cert}, key, opts)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := cred.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{"https://graph.microsoft.com/.default"}})
	if err != nil {
		t.Fatal(err)
	}
	if code, out := o.do("GET", "/v1.0/users/user00003@contoso.com", tok.Token, nil); code != 200 {
		t.Fatalf("read with the certificate app's token: %d %v", code, out)
	}
	_, other, otherKey := selfSignedRSA(t)
	cred, err = azidentity.NewClientCertificateCredential(o.ep.TenantID, app.ClientID, []*x509.Certificate{other}, otherKey, opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cred.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{"https://graph.microsoft.com/.default"}}); err == nil ||
		!strings.Contains(err.Error(), "AADSTS700027") {
		t.Fatalf("an unregistered certificate: %v, want AADSTS700027", err)
	}
}

func selfSignedRSA(t *testing.T) ([]byte, *x509.Certificate, *rsa.PrivateKey) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "lab app"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), cert, key
}
