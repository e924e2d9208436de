package labhttp_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/rebind-dev/rebind/lab/labhttp"
)

const maxBody = 4 << 20

// A request body over Graph's 4 MB is refused with 413 and Graph's error
// JSON before anything is stored (errors page: "413 Request Entity Too
// Large: The request size exceeds the maximum limit"), whether its length
// is announced, streamed, or hidden behind gzip. It used to be stored: a
// 50 MB PATCH became a displayName.
func TestRequestBodyLimit(t *testing.T) {
	srv := labServer(t, load(t, "healthy"), labhttp.ServerOptions{})
	user := srv.URL + "/v1.0/users/user00001@contoso.com"
	huge := []byte(`{"displayName":"` + strings.Repeat("x", maxBody) + `"}`)

	check := func(what string, resp *http.Response, body []byte) {
		t.Helper()
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Errorf("%s: status %d, want 413: %.200s", what, resp.StatusCode, body)
			return
		}
		graphError(t, what, body)
	}
	resp, body := send(t, "PATCH", user, nil, huge)
	check("PATCH with Content-Length", resp, body)

	// Streamed without a length (chunked).
	req, err := http.NewRequest("PATCH", user, io.MultiReader(bytes.NewReader(huge)))
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = -1
	req.Header.Set("Content-Type", "application/json")
	r2, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("chunked PATCH: %v", err)
	}
	b2, _ := io.ReadAll(r2.Body)
	r2.Body.Close()
	check("chunked PATCH", r2, b2)

	// A small gzip body that inflates past the limit.
	var zb bytes.Buffer
	zw := gzip.NewWriter(&zb)
	zw.Write([]byte(`{"displayName":"`))
	zw.Write(bytes.Repeat([]byte("x"), 64<<20))
	zw.Write([]byte(`"}`))
	zw.Close()
	if zb.Len() > maxBody {
		t.Fatalf("the gzip bomb is %d bytes", zb.Len())
	}
	resp, body = send(t, "PATCH", user, http.Header{"Content-Encoding": {"gzip"}}, zb.Bytes())
	check("gzip PATCH inflating to 64 MB", resp, body)

	for _, u := range []string{
		srv.URL + "/v1.0/$batch",
		srv.URL + "/v1.0/servicePrincipals/sp/synchronization/jobs/job/restart",
		srv.URL + "/adminapi/beta/contoso.onmicrosoft.com/InvokeCommand",
		srv.URL + "/lab/faults",
	} {
		resp, body := send(t, "POST", u, nil, huge)
		check("POST "+u, resp, body)
	}

	var got map[string]any
	wantStatus(t, call(t, "GET", user, nil, &got), 200)
	if n := len(got["displayName"].(string)); n > 256 {
		t.Fatalf("a refused PATCH stored a %d-byte displayName", n)
	}
}

// Graph's user displayName holds at most 256 characters and cannot be
// cleared (user resource: "it can't be cleared during updates. Maximum
// length is 256 characters").
func TestPatchDisplayNameLength(t *testing.T) {
	srv := labServer(t, cloudManaged(t, load(t, "healthy")), labhttp.ServerOptions{})
	user := srv.URL + "/v1.0/users/user00001@contoso.com"
	for _, v := range []string{strings.Repeat("é", 257), ""} {
		var e odataErr
		resp := call(t, "PATCH", user, map[string]any{"displayName": v}, &e)
		if resp.StatusCode != 400 || e.Error.Code != "Request_BadRequest" {
			t.Fatalf("displayName of %d characters: %d %+v", len([]rune(v)), resp.StatusCode, e)
		}
	}
	wantStatus(t, call(t, "PATCH", user, map[string]any{"displayName": strings.Repeat("é", 256)}, nil), 204)
}

// Every request the lab cannot serve gets JSON, never Go's text answers or
// a redirect: an unknown Graph segment 400, a known route with another
// method 405 Request_BadRequest (json-batching page, example item 4), a
// path outside the canonical form 400, unknown lab paths 404, malformed
// or deeply nested JSON bodies 400.
func TestBadRequestsGetJSON(t *testing.T) {
	srv := labServer(t, load(t, "healthy"), labhttp.ServerOptions{})
	cases := []struct {
		method, path, body string
		status             int
		code               string
	}{
		{"GET", "/v1.0/nothing", "", 400, "BadRequest"},
		{"GET", "/v1.0", "", 400, "BadRequest"},
		{"PUT", "/v1.0/users/user00001@contoso.com", "{}", 405, "Request_BadRequest"},
		{"DELETE", "/v1.0/users", "", 405, "Request_BadRequest"},
		{"GET", "/v1.0/$batch", "", 405, "Request_BadRequest"},
		{"GET", "/v1.0/../lab/dump", "", 400, "BadRequest"},
		{"GET", "/v1.0/users//x", "", 400, "BadRequest"},
		{"GET", "/v1.0/%2e%2e/lab/dump", "", 400, "BadRequest"},
		{"GET", "/lab/../lab/dump", "", 400, "BadRequest"},
		{"GET", "/", "", 404, "NotFound"},
		{"GET", "/lab/nothing", "", 404, "NotFound"},
		{"PUT", "/lab/sync", "", 405, "MethodNotAllowed"},
		{"DELETE", "/lab/dump", "", 405, "MethodNotAllowed"},
		{"GET", "/adminapi/beta/contoso.onmicrosoft.com/InvokeCommand", "", 405, "MethodNotAllowed"},
		{"PATCH", "/v1.0/users/user00001@contoso.com", `{"displayName":`, 400, "BadRequest"},
		{"PATCH", "/v1.0/users/user00001@contoso.com", `{"displayName":"a"} {"x":1}`, 400, "BadRequest"},
		{"PATCH", "/v1.0/users/user00001@contoso.com", `{"displayName":` + strings.Repeat("[", 100000) + strings.Repeat("]", 100000) + `}`, 400, "BadRequest"},
		{"PATCH", "/v1.0/users/user00001@contoso.com", `[1,2,3]`, 400, "BadRequest"},
		{"POST", "/v1.0/users/user00001@contoso.com/assignLicense", `{"addLicenses":` + strings.Repeat("[", 50000), 400, "Request_BadRequest"},
		{"POST", "/lab/throttle", `{"readUnits":"many"}`, 400, "BadRequest"},
		{"POST", "/lab/faults", `{"429":[]}`, 400, "BadRequest"},
		{"PATCH", "/v1.0/users/user00001@contoso.com", "\x1f\x8b garbage", 400, "BadRequest"},
	}
	for _, c := range cases {
		var h http.Header
		if strings.HasPrefix(c.body, "\x1f\x8b") {
			h = http.Header{"Content-Encoding": {"gzip"}}
		}
		resp, body := send(t, c.method, srv.URL+c.path, h, []byte(c.body))
		what := c.method + " " + c.path
		if resp.StatusCode != c.status {
			t.Errorf("%s %.40q: status %d, want %d: %.200s", what, c.body, resp.StatusCode, c.status, body)
			continue
		}
		if e := graphError(t, what, body); e.Error.Code != c.code {
			t.Errorf("%s: code %q, want %q", what, e.Error.Code, c.code)
		}
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Errorf("%s: Content-Type %q", what, ct)
		}
		if c.status == 405 && resp.Header.Get("Allow") == "" {
			t.Errorf("%s: 405 without Allow", what)
		}
	}
	// The server still serves.
	wantStatus(t, call(t, "GET", srv.URL+"/v1.0/organization", nil, nil), 200)
}

// The Exchange admin API endpoint reads one CmdletInput object whose
// parameters have the types the cmdlets bind (a string Identity, a switch
// as a boolean); anything else is 400 with its error JSON, never a
// parameter the lab guesses at.
func TestInvokeCommandRefusesMalformedInput(t *testing.T) {
	srv := labServer(t, load(t, "exchange-guid-in-use"), labhttp.ServerOptions{})
	u := srv.URL + "/adminapi/beta/contoso.onmicrosoft.com/InvokeCommand"
	hugeArray := `[` + strings.Repeat(`"x",`, 200000) + `"x"]`
	cases := map[string]string{
		"not JSON":             `{"CmdletInput":`,
		"trailing data":        `{"CmdletInput":{"CmdletName":"Get-Mailbox"}} []`,
		"CmdletInput an array": `{"CmdletInput":` + hugeArray + `}`,
		"Identity an array":    `{"CmdletInput":{"CmdletName":"Get-Recipient","Parameters":{"Identity":` + hugeArray + `}}}`,
		"switch an object":     `{"CmdletInput":{"CmdletName":"Get-Recipient","Parameters":{"IncludeSoftDeletedRecipients":{"a":1}}}}`,
		"switch a word":        `{"CmdletInput":{"CmdletName":"Remove-MailUser","Parameters":{"Identity":"x","PermanentlyDelete":"yes please"}}}`,
		"parameter twice":      `{"CmdletInput":{"CmdletName":"Get-Recipient","Parameters":{"Identity":"a","identity":"b"}}}`,
		"deep nesting":         `{"CmdletInput":{"CmdletName":"Get-Recipient","Parameters":{"Identity":` + strings.Repeat("[", 100000) + `}}}`,
		"no cmdlet":            `{}`,
	}
	for name, body := range cases {
		resp, out := send(t, "POST", u, nil, []byte(body))
		if resp.StatusCode != 400 {
			t.Errorf("%s: status %d, want 400: %.200s", name, resp.StatusCode, out)
			continue
		}
		graphError(t, name, out)
	}
	var page struct {
		Value []json.RawMessage `json:"value"`
	}
	resp := cmdlet(t, srv.URL, "Get-Recipient", map[string]any{"IncludeSoftDeletedRecipients": true}, &page)
	if resp.StatusCode != 200 || len(page.Value) == 0 {
		t.Fatalf("a good Get-Recipient after the bad ones: %d, %d recipients", resp.StatusCode, len(page.Value))
	}
}

// The Cloud Sync restart call reads its optional body like any other Graph
// body: malformed JSON or data after it is 400, never half-read.
func TestCloudSyncRestartRefusesMalformedBodies(t *testing.T) {
	srv := labServer(t, load(t, "healthy"), labhttp.ServerOptions{})
	u := srv.URL + "/v1.0/servicePrincipals/sp/synchronization/jobs/job/restart"
	for _, body := range []string{`{"criteria":`, `{"criteria":{"resetScope":"Full"}} {}`, `{"criteria":{"resetScope":["Full"]}}`, `"Full"`} {
		resp, out := send(t, "POST", u, nil, []byte(body))
		if resp.StatusCode != 400 {
			t.Errorf("%q: status %d, want 400: %.200s", body, resp.StatusCode, out)
			continue
		}
		graphError(t, body, out)
	}
	resp, out := send(t, "POST", u, nil, nil)
	if resp.StatusCode != 204 {
		t.Fatalf("restart without a body: %d %s", resp.StatusCode, out)
	}
}
