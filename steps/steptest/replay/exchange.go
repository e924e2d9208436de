// Package replay reads the request/response exchanges transcribed from
// Microsoft's public documentation (testdata/exchanges, one txtar file per
// documented example) and serves them: a step's client is tested against a
// server that answers only what the documentation shows, and the lab is
// tested to answer the documented requests with the documented shape.
//
// A file is a header of "key: value" lines (the page, the docs repository
// path and commit it was read from, the example's heading, and the matching
// rules the page itself states) followed by a "-- request --" and a
// "-- response --" section holding the HTTP text as the page shows it.
package replay

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/tools/txtar"
)

// Exchange is one documented request and its documented answer.
type Exchange struct {
	// Name is the file's name without .txtar, e.g. "user-get-1".
	Name string
	// File is the path the exchange was read from.
	File string
	// Title is the header's first line, without "# ".
	Title string
	// Page is the documentation page's address; Sources are the
	// repository paths and commits the example was transcribed from.
	Page    string
	Sources []string
	// Example names the example on the page.
	Example string
	// Kind is "example" for an example transcribed as the page shows it,
	// "shape" for an answer whose property names are sourced but whose
	// values are placeholders (the Exchange admin API has no page).
	Kind string
	// Type is the Graph type of the answer (as in the page's response
	// annotation, e.g. graph.user) and Collection whether the answer is a
	// collection of it.
	Type       string
	Collection bool
	// QueryOptions are the OData query options the page says the method
	// supports: a request may carry them although the example does not.
	QueryOptions []string
	// BodyProperties, when set, are the properties the page's request
	// body table lists: a request body with only these matches the
	// example whatever their values.
	BodyProperties []string
	// BodyMatch "cmdlet" matches an InvokeCommand body by its cmdlet name.
	BodyMatch string
	// Batch marks the JSON batching exchange.
	Batch bool
	// IDs maps identifiers in the example's URL to the kind of object
	// they name (user, deleted-user, organization, job...), so that a
	// test can put one of its own objects in their place.
	IDs map[string]string
	// Notes quote the page where it says something the matcher or the
	// lab relies on.
	Notes []string

	Request  Request
	Response Response
}

// Request is the documented HTTP request.
type Request struct {
	Method string
	// URL is the absolute URL as the page writes it.
	URL string
	// Path is URL's path without its trailing slash, e.g.
	// /v1.0/users/{id}; Query its query.
	Path   string
	Query  url.Values
	Header http.Header
	Body   []byte
}

// Response is the documented HTTP answer.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Version is the Graph version segment of the request's path ("v1.0",
// "beta"), or "" for a path that has none.
func (r Request) Version() string {
	seg := strings.Split(strings.TrimPrefix(r.Path, "/"), "/")
	if len(seg) > 0 && (seg[0] == "v1.0" || seg[0] == "beta") {
		return seg[0]
	}
	return ""
}

// JSON decodes the answer's body; nil when it has none.
func (r Response) JSON() (any, error) {
	if len(bytes.TrimSpace(r.Body)) == 0 {
		return nil, nil
	}
	var v any
	if err := json.Unmarshal(r.Body, &v); err != nil {
		return nil, err
	}
	return v, nil
}

// Dir is the folder of documented exchanges in this source tree.
func Dir() string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return filepath.Join("testdata", "exchanges")
	}
	return filepath.Join(filepath.Dir(file), "..", "..", "..", "testdata", "exchanges")
}

// LoadAll reads every exchange under dir (its subfolders too), sorted by
// name. A file that does not parse is an error naming it and its line.
func LoadAll(dir string) ([]*Exchange, error) {
	var out []*Exchange
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !strings.HasSuffix(path, ".txtar") {
			return nil
		}
		e, err := Load(path)
		if err != nil {
			return err
		}
		out = append(out, e)
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	for i := 1; i < len(out); i++ {
		if out[i].Name == out[i-1].Name {
			return nil, fmt.Errorf("replay: %s and %s have the same name", out[i-1].File, out[i].File)
		}
	}
	return out, nil
}

// Load reads one exchange file.
func Load(path string) (*Exchange, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("replay: %w", err)
	}
	return Parse(path, data)
}

// Parse reads one exchange from data; file names it in errors.
func Parse(file string, data []byte) (*Exchange, error) {
	ar := txtar.Parse(data)
	e := &Exchange{Name: strings.TrimSuffix(filepath.Base(file), ".txtar"), File: file, Kind: "example", IDs: map[string]string{}}
	errf := func(line int, format string, args ...any) error {
		return fmt.Errorf("replay: %s:%d: %s", file, line, fmt.Sprintf(format, args...))
	}
	for i, line := range strings.Split(string(ar.Comment), "\n") {
		n := i + 1
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if t, ok := strings.CutPrefix(line, "# "); ok {
			if e.Title == "" {
				e.Title = t
			}
			continue
		}
		key, val, ok := strings.Cut(line, ":")
		if !ok {
			return nil, errf(n, "%q is not a \"key: value\" line", line)
		}
		val = strings.TrimSpace(val)
		switch key {
		case "page":
			e.Page = val
		case "source":
			e.Sources = append(e.Sources, val)
		case "example":
			e.Example = val
		case "kind":
			if val != "example" && val != "shape" {
				return nil, errf(n, "kind %q is not example or shape", val)
			}
			e.Kind = val
		case "type":
			e.Type = val
		case "collection":
			b, err := strconv.ParseBool(val)
			if err != nil {
				return nil, errf(n, "collection %q is not true or false", val)
			}
			e.Collection = b
		case "batch":
			b, err := strconv.ParseBool(val)
			if err != nil {
				return nil, errf(n, "batch %q is not true or false", val)
			}
			e.Batch = b
		case "query-options":
			e.QueryOptions = splitList(val)
		case "body-properties":
			e.BodyProperties = splitList(val)
		case "body-match":
			if val != "cmdlet" {
				return nil, errf(n, "body-match %q is not cmdlet", val)
			}
			e.BodyMatch = val
		case "ids":
			for _, kv := range splitList(val) {
				id, kind, ok := strings.Cut(kv, "=")
				if !ok || id == "" || kind == "" {
					return nil, errf(n, "ids entry %q is not id=kind", kv)
				}
				e.IDs[id] = kind
			}
		case "note":
			e.Notes = append(e.Notes, val)
		default:
			return nil, errf(n, "unknown header key %q", key)
		}
	}
	if e.Page == "" || len(e.Sources) == 0 {
		return nil, errf(1, "the header must cite the page (page:) and where it was read (source:)")
	}
	var req, resp []byte
	for _, f := range ar.Files {
		switch f.Name {
		case "request":
			req = f.Data
		case "response":
			resp = f.Data
		default:
			return nil, fmt.Errorf("replay: %s: unknown section -- %s --", file, f.Name)
		}
	}
	if req == nil || resp == nil {
		return nil, fmt.Errorf("replay: %s: needs a -- request -- and a -- response -- section", file)
	}
	if err := parseRequest(&e.Request, req); err != nil {
		return nil, fmt.Errorf("replay: %s: request: %w", file, err)
	}
	if err := parseResponse(&e.Response, resp); err != nil {
		return nil, fmt.Errorf("replay: %s: response: %w", file, err)
	}
	return e, nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// splitMessage cuts HTTP text into its first line, headers and body.
func splitMessage(data []byte) (first string, h http.Header, body []byte, err error) {
	text := strings.TrimSpace(strings.ReplaceAll(string(data), "\r\n", "\n"))
	head, rest, _ := strings.Cut(text, "\n\n")
	lines := strings.Split(head, "\n")
	first = strings.TrimSpace(lines[0])
	h = http.Header{}
	for i, l := range lines[1:] {
		k, v, ok := strings.Cut(l, ":")
		if !ok {
			return "", nil, nil, fmt.Errorf("line %d: %q is not a header", i+2, l)
		}
		h.Add(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	body = bytes.TrimSpace([]byte(rest))
	if len(body) > 0 && !json.Valid(body) {
		return "", nil, nil, fmt.Errorf("the body is not JSON")
	}
	return first, h, body, nil
}

func parseRequest(r *Request, data []byte) error {
	first, h, body, err := splitMessage(data)
	if err != nil {
		return err
	}
	method, raw, ok := strings.Cut(first, " ")
	if !ok {
		return fmt.Errorf("line 1: %q is not \"METHOD URL\"", first)
	}
	// The pages write query values unescaped ($filter=a eq 'b'); escape
	// the spaces so that the URL parses as the client would send it.
	u, err := url.Parse(strings.ReplaceAll(strings.TrimSpace(raw), " ", "%20"))
	if err != nil || u.Host == "" {
		return fmt.Errorf("line 1: %q is not an absolute URL (%v)", raw, err)
	}
	// Placeholders such as {id} are kept as written.
	path, _ := url.PathUnescape(u.EscapedPath())
	r.Method, r.URL, r.Header, r.Body = method, strings.TrimSpace(raw), h, body
	r.Path = strings.TrimSuffix(path, "/")
	r.Query = u.Query()
	return nil
}

func parseResponse(r *Response, data []byte) error {
	first, h, body, err := splitMessage(data)
	if err != nil {
		return err
	}
	f := strings.Fields(first)
	if len(f) < 2 || !strings.HasPrefix(f[0], "HTTP/") {
		return fmt.Errorf("line 1: %q is not a status line", first)
	}
	code, err := strconv.Atoi(f[1])
	if err != nil {
		return fmt.Errorf("line 1: status %q: %w", f[1], err)
	}
	r.Status, r.Header, r.Body = code, h, body
	return nil
}
