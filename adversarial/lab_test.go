package adversarial

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rebind-dev/rebind/internal/e2e"
	"github.com/rebind-dev/rebind/lab/control"
)

// The lab is what rehearsals trust, so an abusive client must not be able
// to crash it, hang it or take the machine's memory: every request, however
// malformed, gets an answer in the protocol's own error form, and the lab
// answers a normal request afterwards. These tests run `rebind lab serve`
// as a child process, attack its HTTP (Graph, Exchange, Cloud Sync,
// control) and LDAP endpoints, and read the child's peak memory when it
// exits.

// labChild is a running `rebind lab serve`.
type labChild struct {
	URL  string
	LDAP string // host:port
	// BindDN and Password are what /lab/endpoints reports.
	BindDN, Password, BaseDN string

	w      *workspace
	cmd    *exec.Cmd
	stderr bytes.Buffer
	start  time.Time
	done   chan struct{}
}

// startLabChild runs `rebind lab serve --scenario name` and waits for its
// URL and endpoints.
func startLabChild(t *testing.T, w *workspace, name string) *labChild {
	t.Helper()
	lc := &labChild{w: w, done: make(chan struct{})}
	caFile := filepath.Join(w.Dir, "lab-ca.pem")
	lc.cmd = w.command("lab", "serve", "--scenario", name, "--ca-file", caFile)
	lc.cmd.Stderr = &lc.stderr
	out, err := lc.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	lc.start = time.Now()
	if err := lc.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		select {
		case <-lc.done:
		default:
			_ = lc.cmd.Process.Kill()
			_ = lc.cmd.Wait()
		}
	})
	var ok bool
	if lc.URL, ok = e2e.FirstLine(out, 30*time.Second); !ok {
		t.Fatalf("lab serve printed no URL; stderr:\n%s", lc.stderr.String())
	}
	if !strings.HasPrefix(lc.URL, "https://127.0.0.1:") {
		t.Fatalf("lab serve printed %q; stderr:\n%s", lc.URL, lc.stderr.String())
	}
	// The attacker holds the lab's CA and a valid token, as any client
	// that reached Graph would: the attacks are on what comes after.
	pem, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	control.Trust(lc.URL, pem)
	var ep struct {
		LDAP     string `json:"ldap"`
		BaseDN   string `json:"ldap_base_dn"`
		BindDN   string `json:"ldap_bind_dn"`
		Password string `json:"ldap_password"`
		Token    string `json:"token_endpoint"`
		ClientID string `json:"client_id"`
		Secret   string `json:"client_secret"`
	}
	resp, body := do(t, "GET", lc.URL+"/lab/endpoints", nil, nil)
	if resp.StatusCode != 200 || json.Unmarshal(body, &ep) != nil {
		t.Fatalf("/lab/endpoints: %d %s", resp.StatusCode, body)
	}
	for _, res := range []string{"https://graph.microsoft.com", "https://outlook.office365.com"} {
		form := "grant_type=client_credentials&client_id=" + ep.ClientID + "&client_secret=" + ep.Secret + "&scope=" + res + "/.default"
		resp, body := do(t, "POST", ep.Token, http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, strings.NewReader(form))
		var tok struct {
			AccessToken string `json:"access_token"`
		}
		if resp.StatusCode != 200 || json.Unmarshal(body, &tok) != nil {
			t.Fatalf("token: %d %s", resp.StatusCode, body)
		}
		tokens.Store(lc.URL+"|"+res, tok.AccessToken)
	}
	lc.LDAP, lc.BaseDN, lc.BindDN, lc.Password = strings.TrimPrefix(ep.LDAP, "ldap://"), ep.BaseDN, ep.BindDN, ep.Password
	return lc
}

// stop interrupts the lab as Ctrl-C would and returns how it ended, with
// its peak resident memory.
func (lc *labChild) stop(t *testing.T) result {
	t.Helper()
	_ = lc.cmd.Process.Signal(syscall.SIGINT)
	waited := make(chan error, 1)
	go func() { waited <- lc.cmd.Wait() }()
	select {
	case <-waited:
	case <-time.After(30 * time.Second):
		_ = lc.cmd.Process.Kill()
		<-waited
		t.Errorf("the lab did not stop within 30 s of an interrupt")
	}
	close(lc.done)
	return lc.w.finish(lc.cmd, lc.cmd.Args[1:], "", lc.stderr.String(), lc.start)
}

// stopUnharmed stops the lab after an attack and fails the test when its
// peak resident memory went over maxLabRSS or it logged a panic.
func (lc *labChild) stopUnharmed(t *testing.T) {
	t.Helper()
	r := lc.stop(t)
	t.Logf("lab peak RSS %d MB over %s", r.MaxRSS>>20, r.Wall.Round(time.Millisecond))
	if r.MaxRSS > maxLabRSS {
		t.Fatalf("the lab's peak RSS was %d MB, over %d MB", r.MaxRSS>>20, maxLabRSS>>20)
	}
	if strings.Contains(r.Stderr, "panic") {
		t.Fatalf("the lab logged a panic:\n%s", r.Stderr)
	}
}

// tokens holds each lab's Graph and Exchange tokens, by "URL|resource".
var tokens sync.Map

// do sends a request and returns the answer with its whole body; no
// answer at all fails the test.
func do(t testing.TB, method, u string, header http.Header, body io.Reader) (*http.Response, []byte) {
	t.Helper()
	resp, b, err := try(method, u, header, body)
	if err != nil {
		t.Fatalf("%s %.100s: no answer: %v", method, u, err)
	}
	return resp, b
}

// closedOnUs reports whether err is the server closing the connection
// while the client was still sending.
func closedOnUs(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

func try(method, u string, header http.Header, body io.Reader) (*http.Response, []byte, error) {
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		return nil, nil, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if req.Header.Get("Authorization") == "" {
		origin := req.URL.Scheme + "://" + req.URL.Host
		res := "https://graph.microsoft.com"
		if strings.HasPrefix(req.URL.Path, "/adminapi/") {
			res = "https://outlook.office365.com"
		}
		if tok, ok := tokens.Load(origin + "|" + res); ok {
			req.Header.Set("Authorization", "Bearer "+tok.(string))
		}
	}
	// The client has a deadline, so that a hung lab fails the test.
	client, err := control.Client(u, func(string) string { return "" }, 60*time.Second)
	if err != nil {
		return nil, nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, b, err
}

// graphError checks that an answer is an error in Graph's form:
// {"error":{"code":...,"message":...}} as JSON, with status at least 400.
func graphError(resp *http.Response, body []byte) error {
	var e struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	switch {
	case resp.StatusCode < 400:
		return fmt.Errorf("status %d, want an error: %.200s", resp.StatusCode, body)
	case !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json"):
		return fmt.Errorf("status %d with Content-Type %q: %.200s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	case json.Unmarshal(body, &e) != nil || e.Error.Code == "" || e.Error.Message == "":
		return fmt.Errorf("status %d, not Graph's error JSON: %.200s", resp.StatusCode, body)
	}
	return nil
}

// attack is one abusive request and the status it must get (0: any
// error status).
type attack struct {
	name, method, path string
	header             http.Header
	body               func() io.Reader
	status             int
}

func bodyOf(s string) func() io.Reader { return func() io.Reader { return strings.NewReader(s) } }

// streamed returns a body of n bytes of JSON string content, produced as it
// is read and without a length, so that the server sees a chunked upload.
func streamed(prefix string, n int, suffix string) func() io.Reader {
	return func() io.Reader {
		return io.MultiReader(strings.NewReader(prefix), io.LimitReader(repeatReader('x'), int64(n)), strings.NewReader(suffix))
	}
}

type repeatReader byte

func (r repeatReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(r)
	}
	return len(p), nil
}

// gzipBomb is a small gzip body that inflates to n bytes of JSON.
func gzipBomb(n int) []byte {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write([]byte(`{"displayName":"`))
	chunk := bytes.Repeat([]byte("x"), 1<<20)
	for i := 0; i < n>>20; i++ {
		zw.Write(chunk)
	}
	zw.Write([]byte(`"}`))
	zw.Close()
	return b.Bytes()
}

// httpAttacks are the abusive requests sent to the lab's HTTP listener.
func httpAttacks() []attack {
	const user = "/v1.0/users/user00001@contoso.com"
	const exo = "/adminapi/beta/contoso.onmicrosoft.com/InvokeCommand"
	const job = "/v1.0/servicePrincipals/sp/synchronization/jobs/job"
	json50MB := `{"displayName":"` + strings.Repeat("x", 50<<20) + `"}`
	bomb := gzipBomb(256 << 20)
	deep := strings.Repeat("[", 200_000) + strings.Repeat("]", 200_000)
	hugeArray := "[" + strings.Repeat(`"x",`, 500_000) + `"x"]`
	a := []attack{
		{"50 MB PATCH", "PATCH", user, nil, bodyOf(json50MB), 413},
		{"50 MB PATCH streamed", "PATCH", user, nil, streamed(`{"displayName":"`, 50<<20, `"}`), 413},
		{"gzip bomb (256 MB inflated)", "PATCH", user, http.Header{"Content-Encoding": {"gzip"}},
			func() io.Reader { return bytes.NewReader(bomb) }, 413},
		{"not gzip", "PATCH", user, http.Header{"Content-Encoding": {"gzip"}}, bodyOf("plain"), 400},
		{"brotli", "PATCH", user, http.Header{"Content-Encoding": {"br"}}, bodyOf("{}"), 415},
		{"50 MB $batch", "POST", "/v1.0/$batch", nil, bodyOf(json50MB), 413},
		{"50 MB InvokeCommand", "POST", exo, nil, bodyOf(json50MB), 413},
		{"50 MB Cloud Sync restart", "POST", job + "/restart", nil, bodyOf(json50MB), 413},
		{"50 MB control", "POST", "/lab/faults", nil, bodyOf(json50MB), 413},
		{"malformed JSON", "PATCH", user, nil, bodyOf(`{"displayName":`), 400},
		{"JSON then garbage", "PATCH", user, nil, bodyOf(`{"displayName":"a"}garbage`), 400},
		{"JSON nested 200,000 deep", "PATCH", user, nil, bodyOf(`{"displayName":` + deep + `}`), 400},
		{"an array for a user", "PATCH", user, nil, bodyOf(hugeArray), 400},
		{"a 257-character displayName", "PATCH", user, nil, bodyOf(`{"displayName":"` + strings.Repeat("x", 257) + `"}`), 400},
		{"PUT on a user", "PUT", user, nil, bodyOf("{}"), 405},
		{"BREW on users", "BREW", "/v1.0/users", nil, nil, 405},
		{"DELETE on the organization list", "DELETE", "/v1.0/organization", nil, nil, 405},
		{"GET on $batch", "GET", "/v1.0/$batch", nil, nil, 405},
		{"unknown Graph segment", "GET", "/v1.0/groups", nil, nil, 400},
		{"dot-dot to the control API", "GET", "/v1.0/../lab/dump", nil, nil, 400},
		{"encoded dot-dot", "GET", "/v1.0/%2e%2e/lab/dump", nil, nil, 400},
		{"empty segment", "GET", "/v1.0/users//x", nil, nil, 400},
		{"unknown path", "GET", "/wp-admin", nil, nil, 404},
		{"wrong method on control", "DELETE", "/lab/sync", nil, nil, 405},
		{"$batch malformed", "POST", "/v1.0/$batch", nil, bodyOf(`{"requests":[`), 400},
		{"$batch nested 200,000 deep", "POST", "/v1.0/$batch", nil, bodyOf(`{"requests":` + deep + `}`), 400},
		{"$batch of 21", "POST", "/v1.0/$batch", nil, bodyOf(batchOf(21, "/organization")), 400},
		{"$batch with duplicate ids", "POST", "/v1.0/$batch", nil,
			bodyOf(`{"requests":[{"id":"a","method":"GET","url":"/organization"},{"id":"A","method":"GET","url":"/organization"}]}`), 400},
		{"$batch dependsOn nothing", "POST", "/v1.0/$batch", nil,
			bodyOf(`{"requests":[{"id":"1","method":"GET","url":"/organization","dependsOn":["x"]}]}`), 400},
		{"InvokeCommand malformed", "POST", exo, nil, bodyOf(`{"CmdletInput":{`), 400},
		{"InvokeCommand huge array", "POST", exo, nil, bodyOf(`{"CmdletInput":{"CmdletName":"Get-Recipient","Parameters":{"Identity":` + hugeArray + `}}}`), 400},
		{"InvokeCommand array input", "POST", exo, nil, bodyOf(`{"CmdletInput":` + hugeArray + `}`), 400},
		{"InvokeCommand nested", "POST", exo, nil, bodyOf(`{"CmdletInput":` + deep + `}`), 400},
		{"InvokeCommand GET", "GET", exo, nil, nil, 405},
		{"Cloud Sync restart malformed", "POST", job + "/restart", nil, bodyOf(`{"criteria":`), 400},
		{"Cloud Sync restart nested", "POST", job + "/restart", nil, bodyOf(`{"criteria":` + deep + `}`), 400},
		{"Cloud Sync bad scope", "POST", job + "/restart", nil, bodyOf(`{"criteria":{"resetScope":"` + strings.Repeat("Full,", 100_000) + `x"}}`), 400},
		{"Cloud Sync DELETE", "DELETE", job, nil, nil, 405},
	}
	return a
}

// batchOf is a $batch of n GETs of path.
func batchOf(n int, path string) string {
	items := make([]string, n)
	for i := range items {
		items[i] = fmt.Sprintf(`{"id":"%d","method":"GET","url":%q}`, i+1, path)
	}
	return `{"requests":[` + strings.Join(items, ",") + `]}`
}

// batchTraversals are $batch item urls that must not leave /v1.0.
var batchTraversals = []string{
	"/../lab/dump", "../lab/dump", "/users//x", "/users/./x", "/users/x/../../../lab/dump",
	"/%2e%2e/lab/dump", "/users/%2E%2E/%2e%2e/lab/dump", "/users%2F..%2F..%2Flab%2Fdump",
	"/users/..%5c..%5clab%5cdump", "http://127.0.0.1/lab/dump", "//127.0.0.1/lab/dump",
	"/$batch", "/%24batch", "\\..\\lab\\dump", "/users/\x00", "/users/%00",
}

func TestLabSurvivesAbusiveHTTPClients(t *testing.T) {
	w := newWorkspace(t)
	lc := startLabChild(t, w, "healthy")

	t.Run("every abusive request gets Graph's error JSON", func(t *testing.T) {
		for _, a := range httpAttacks() {
			var body io.Reader
			if a.body != nil {
				body = a.body()
			}
			resp, b, err := try(a.method, lc.URL+a.path, a.header, body)
			if err != nil {
				t.Errorf("%s: no answer: %v", a.name, err)
				continue
			}
			if err := graphError(resp, b); err != nil {
				t.Errorf("%s: %v", a.name, err)
			} else if a.status != 0 && resp.StatusCode != a.status {
				t.Errorf("%s: status %d, want %d: %.200s", a.name, resp.StatusCode, a.status, b)
			}
		}
	})

	t.Run("no $batch item reaches the control API", func(t *testing.T) {
		for _, u := range batchTraversals {
			req, _ := json.Marshal(map[string]any{"requests": []map[string]any{
				{"id": "1", "method": "GET", "url": u}, {"id": "2", "method": "GET", "url": "/organization"}}})
			resp, b := do(t, "POST", lc.URL+"/v1.0/$batch", http.Header{"Content-Type": {"application/json"}}, bytes.NewReader(req))
			var out struct {
				Responses []struct {
					ID     string          `json:"id"`
					Status int             `json:"status"`
					Body   json.RawMessage `json:"body"`
				} `json:"responses"`
			}
			if resp.StatusCode != 200 || json.Unmarshal(b, &out) != nil || len(out.Responses) != 2 {
				t.Errorf("url %q: the batch got %d: %.200s", u, resp.StatusCode, b)
				continue
			}
			for _, r := range out.Responses {
				switch {
				case r.ID == "1" && (r.Status < 400 || bytes.Contains(r.Body, []byte(`"scenario"`)) || bytes.Contains(r.Body, []byte(`"seed"`))):
					t.Errorf("url %q: item status %d, body %.200s", u, r.Status, r.Body)
				case r.ID == "2" && r.Status != 200:
					t.Errorf("url %q: the good item beside it got %d", u, r.Status)
				}
			}
		}
	})

	t.Run("many concurrent abusive requests", func(t *testing.T) {
		attacks := httpAttacks()
		var wg sync.WaitGroup
		var mu sync.Mutex
		var failures []string
		for i := 0; i < 200; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				a := attacks[i%len(attacks)]
				if i%4 == 0 { // a body just under the limit, read whole
					a = attack{name: "4 MB PATCH", method: "PATCH", path: "/v1.0/users/user00002@contoso.com",
						body: bodyOf(`{"displayName":"` + strings.Repeat("y", 4<<20-32) + `"}`), status: 400}
				}
				var body io.Reader
				if a.body != nil {
					body = a.body()
				}
				resp, b, err := try(a.method, lc.URL+a.path, a.header, body)
				if err == nil {
					err = graphError(resp, b)
				} else if a.status == http.StatusRequestEntityTooLarge && closedOnUs(err) {
					// Refusing a body too large, a server "MAY close the
					// connection" (RFC 9110, 15.5.14); a client still
					// writing it then meets the reset before the 413. The
					// subtest above, one request at a time, checks the
					// 413 itself.
					err = nil
				}
				if err != nil {
					mu.Lock()
					failures = append(failures, a.name+": "+err.Error())
					mu.Unlock()
				}
			}(i)
		}
		wg.Wait()
		for _, f := range failures {
			t.Error(f)
		}
	})

	// The lab still serves, and stored nothing of what it refused.
	resp, b := do(t, "GET", lc.URL+"/v1.0/users?$top=5&$select=id,displayName", nil, nil)
	if resp.StatusCode != 200 || !bytes.Contains(b, []byte(`"value"`)) {
		t.Fatalf("a normal request after the attacks: %d %.200s", resp.StatusCode, b)
	}
	var u struct{ DisplayName string }
	_, b = do(t, "GET", lc.URL+"/v1.0/users/user00002@contoso.com", nil, nil)
	if json.Unmarshal(b, &u) != nil || len(u.DisplayName) > 256 {
		t.Fatalf("a refused displayName was stored (%d bytes)", len(u.DisplayName))
	}
	lc.stopUnharmed(t)
}
