package labhttp_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rebind-dev/rebind/lab/labhttp"
)

// send sends a raw request and returns the answer and its whole body; a
// server that panics or hangs fails the test instead of answering.
func send(t testing.TB, method, u string, header http.Header, body []byte) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, u, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if req.Header.Get("Content-Type") == "" && len(body) > 0 {
		req.Header.Set("Content-Type", "application/json")
	}
	c := &http.Client{Timeout: 30 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %.120s: no answer: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %.120s: reading the answer: %v", method, u, err)
	}
	return resp, b
}

// graphError decodes body as Graph's error JSON and fails the test unless
// it is one, with a code and a message.
func graphError(t testing.TB, what string, body []byte) odataErr {
	t.Helper()
	var e odataErr
	if err := json.Unmarshal(body, &e); err != nil || e.Error.Code == "" || e.Error.Message == "" {
		t.Fatalf("%s: the answer is not Graph's error JSON: %v: %.300s", what, err, body)
	}
	return e
}

// batchItems posts a $batch of one GET per URL and returns the responses
// by id ("1", "2", ...).
func batchOne(t *testing.T, base string, items ...map[string]any) map[string]batchItemOut {
	t.Helper()
	b, err := json.Marshal(map[string]any{"requests": items})
	if err != nil {
		t.Fatal(err)
	}
	resp, body := send(t, "POST", base+"/v1.0/$batch", nil, b)
	if resp.StatusCode != 200 {
		t.Fatalf("$batch: status %d: %.300s", resp.StatusCode, body)
	}
	var out struct {
		Responses []batchItemOut `json:"responses"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatalf("$batch answer: %v: %.300s", err, body)
	}
	m := map[string]batchItemOut{}
	for _, r := range out.Responses {
		m[r.ID] = r
	}
	return m
}

type batchItemOut struct {
	ID      string            `json:"id"`
	Status  int               `json:"status"`
	Headers map[string]string `json:"headers"`
	Body    json.RawMessage   `json:"body"`
}

// A batch item's url is relative to the version (json-batching: "while the
// absolute URL is https://graph.microsoft.com/v1.0/users, this url is
// /users"). No spelling of it may leave /v1.0 for the lab's control API,
// reach another host or nest a batch; each such item gets 400 with Graph's
// error JSON and the rest of the batch still runs.
func TestBatchItemURLsStayInGraph(t *testing.T) {
	srv := labServer(t, load(t, "healthy"), labhttp.ServerOptions{})
	bad := []string{
		"/../lab/dump",
		"../lab/dump",
		"/users//x",
		"/users/./x",
		"/users/x/../../../lab/dump",
		"/%2e%2e/lab/dump",
		"/%2E%2E/lab/dump",
		"/users/%2e%2e/%2e%2e/lab/dump",
		"/users%2F..%2F..%2Flab%2Fdump",
		"/users/a%2fb",
		"/users/..%5c..%5clab%5cdump",
		"http://evil.example/lab/dump",
		"https://graph.microsoft.com/v1.0/users",
		"//evil.example/lab/dump",
		"/$batch",
		"$batch",
		"/%24batch",
	}
	for _, u := range bad {
		got := batchOne(t, srv.URL, map[string]any{"id": "1", "method": "GET", "url": u},
			map[string]any{"id": "2", "method": "GET", "url": "/organization"})
		r := got["1"]
		if r.Status != 400 {
			t.Errorf("url %q: item status %d, want 400: %s", u, r.Status, r.Body)
			continue
		}
		graphError(t, "url "+u, r.Body)
		if strings.Contains(string(r.Body), `"cloud"`) || strings.Contains(string(r.Body), `"ad"`) {
			t.Errorf("url %q: the item reached the lab's dump: %.200s", u, r.Body)
		}
		if got["2"].Status != 200 {
			t.Errorf("url %q: the good item beside it got %d", u, got["2"].Status)
		}
	}
	// Relative URLs with and without the leading slash still work.
	got := batchOne(t, srv.URL, map[string]any{"id": "1", "method": "GET", "url": "users/user00001@contoso.com"},
		map[string]any{"id": "2", "method": "GET", "url": "/users?$top=2&$select=id"})
	if got["1"].Status != 200 || got["2"].Status != 200 {
		t.Fatalf("relative URLs: %d %d", got["1"].Status, got["2"].Status)
	}
}

// Whole-batch rules from the json-batching page: 1 to 20 requests, ids
// required and unique ignoring case, method and url required, dependsOn
// naming an earlier request; a body needs a Content-Type header. A batch
// that breaks one is 400 with Graph's error JSON.
func TestBatchPayloadRules(t *testing.T) {
	srv := labServer(t, load(t, "healthy"), labhttp.ServerOptions{})
	get := func(id string) map[string]any {
		return map[string]any{"id": id, "method": "GET", "url": "/organization"}
	}
	twentyOne := make([]any, 21)
	for i := range twentyOne {
		twentyOne[i] = get(string(rune('a' + i)))
	}
	cases := map[string]string{
		"not JSON":          `{"requests":[`,
		"trailing data":     `{"requests":[{"id":"1","method":"GET","url":"/organization"}]} {}`,
		"requests missing":  `{}`,
		"requests empty":    `{"requests":[]}`,
		"requests a string": `{"requests":"x"}`,
		"id missing":        `{"requests":[{"method":"GET","url":"/organization"}]}`,
		"ids differ by case": `{"requests":[{"id":"a","method":"GET","url":"/organization"},` +
			`{"id":"A","method":"GET","url":"/organization"}]}`,
		"method missing":     `{"requests":[{"id":"1","url":"/organization"}]}`,
		"url missing":        `{"requests":[{"id":"1","method":"GET"}]}`,
		"depends on itself":  `{"requests":[{"id":"1","method":"GET","url":"/organization","dependsOn":["1"]}]}`,
		"depends on nothing": `{"requests":[{"id":"1","method":"GET","url":"/organization","dependsOn":["9"]}]}`,
		"depends on a later": `{"requests":[{"id":"1","method":"GET","url":"/organization","dependsOn":["2"]},` +
			`{"id":"2","method":"GET","url":"/organization"}]}`,
		"deeply nested body": `{"requests":[{"id":"1","method":"PATCH","url":"/organization/x","headers":{"Content-Type":"application/json"},"body":` +
			strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + `}]}`,
	}
	b, _ := json.Marshal(map[string]any{"requests": twentyOne})
	cases["21 requests"] = string(b)
	for name, body := range cases {
		resp, out := send(t, "POST", srv.URL+"/v1.0/$batch", nil, []byte(body))
		if resp.StatusCode != 400 {
			t.Errorf("%s: status %d, want 400: %.200s", name, resp.StatusCode, out)
			continue
		}
		graphError(t, name, out)
	}
	// An item whose body comes without Content-Type fails alone.
	got := batchOne(t, srv.URL, map[string]any{"id": "1", "method": "PATCH", "url": "/users/user00001@contoso.com",
		"body": map[string]any{"displayName": "x"}}, get("2"))
	if got["1"].Status != 400 || got["2"].Status != 200 {
		t.Fatalf("body without Content-Type: %d %s; %d", got["1"].Status, got["1"].Body, got["2"].Status)
	}
	graphError(t, "body without Content-Type", got["1"].Body)
}

// A method the route does not serve gets 405 Request_BadRequest, as the
// json-batching page's example item 4 shows.
func TestBatchItemMethodNotAllowed(t *testing.T) {
	srv := labServer(t, load(t, "healthy"), labhttp.ServerOptions{})
	got := batchOne(t, srv.URL, map[string]any{"id": "1", "method": "PUT", "url": "/users/user00001@contoso.com",
		"headers": map[string]string{"Content-Type": "application/json"}, "body": map[string]any{}})
	if got["1"].Status != 405 {
		t.Fatalf("PUT /users/x: %d %s", got["1"].Status, got["1"].Body)
	}
	if e := graphError(t, "PUT item", got["1"].Body); e.Error.Code != "Request_BadRequest" {
		t.Fatalf("PUT item: code %q", e.Error.Code)
	}
}
