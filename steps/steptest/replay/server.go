package replay

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
)

// Server answers requests with documented exchanges only. A request no
// exchange matches is answered 501 and fails the test when it ends, naming
// the request and why the nearest exchanges did not match, unless the test
// declared it a known gap in the documentation.
type Server struct {
	// URL is the server's root, e.g. http://127.0.0.1:1234; a Graph client
	// uses URL as its endpoint (requests go to URL/v1.0/...).
	URL string

	t         testing.TB
	exchanges []*Exchange
	schema    *Schema
	srv       *httptest.Server

	mu        sync.Mutex
	served    map[string]int
	unmatched []string
	gaps      []*gap
}

// gap is an undocumented request a test expects, with its reason.
type gap struct {
	method, path, reason string
	// serveAs names the exchange whose answer it gets; "" answers 501.
	serveAs string
	// optional gaps are for a client that a change elsewhere is moving
	// off the undocumented request: not sending it is logged, not an error.
	optional bool
	seen     int
}

// NewServer serves the exchanges until the test ends. schema may be nil
// (then $select names are not checked).
func NewServer(t testing.TB, schema *Schema, exchanges ...*Exchange) *Server {
	t.Helper()
	s := &Server{t: t, exchanges: exchanges, schema: schema, served: map[string]int{}}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL
	t.Cleanup(s.finish)
	return s
}

// Gap declares that the client is expected to send method path (no query)
// although no documented example shows it, for reason. It is answered
// 501, listed in the test's output as a known gap, and an error when it
// is never sent (the gap list must not outlive the gap).
func (s *Server) Gap(method, path, reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gaps = append(s.gaps, &gap{method: method, path: path, reason: reason})
}

// Substitute declares an undocumented request that is answered with the
// documented answer of the exchange named serveAs (a differently
// addressed example of the same operation), for reason. It is listed as a
// known difference and an error when never sent.
func (s *Server) Substitute(method, path, serveAs, reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gaps = append(s.gaps, &gap{method: method, path: path, reason: reason, serveAs: serveAs})
}

// SubstituteOptional is Substitute for a request the client may stop
// sending (a change under way moves it to the documented call): when it is
// not sent the test logs that the declaration can go.
func (s *Server) SubstituteOptional(method, path, serveAs, reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gaps = append(s.gaps, &gap{method: method, path: path, reason: reason, serveAs: serveAs, optional: true})
}

// Served reports how many requests the named exchange answered, as the
// documented match or as a declared substitute.
func (s *Server) Served(name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.served[name]
}

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

func (s *Server) finish() {
	s.srv.Close()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, u := range s.unmatched {
		s.t.Errorf("replay: no documented exchange matches %s", u)
	}
	for _, g := range s.gaps {
		switch {
		case g.seen == 0 && g.optional:
			s.t.Logf("replay: %s %s was not sent: the client no longer needs the known difference (%s); remove it", g.method, g.path, g.reason)
		case g.seen == 0:
			s.t.Errorf("replay: the known gap %s %s (%s) was never sent: remove it from the test", g.method, g.path, g.reason)
		case g.serveAs != "":
			s.t.Logf("KNOWN DIFFERENCE: %s %s answered with %s: %s", g.method, g.path, g.serveAs, g.reason)
		default:
			s.t.Logf("KNOWN GAP: %s %s has no documented example: %s", g.method, g.path, g.reason)
		}
	}
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 8<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	in := Incoming{Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(), Header: r.Header, Body: body}
	e, why := s.find(in)
	if e == nil {
		s.answerUnmatched(w, in, why)
		return
	}
	s.mu.Lock()
	s.served[e.Name]++
	s.mu.Unlock()
	if e.Batch {
		s.serveBatch(w, in)
		return
	}
	writeResponse(w, e.Response)
}

// find returns the exchange in matches, or why the exchanges of the same
// method did not.
func (s *Server) find(in Incoming) (*Exchange, []string) {
	var why []string
	for _, e := range s.exchanges {
		reason := e.Match(in, s.schema)
		if reason == "" {
			return e, nil
		}
		if strings.EqualFold(e.Request.Method, in.Method) || e.Batch && in.Method == http.MethodPost {
			why = append(why, e.Name+": "+reason)
		}
	}
	return nil, why
}

// answerUnmatched answers a request nothing documents: with the declared
// substitute, or 501.
func (s *Server) answerUnmatched(w http.ResponseWriter, in Incoming, why []string) {
	s.mu.Lock()
	var g *gap
	for _, x := range s.gaps {
		if x.method == in.Method && x.path == in.Path {
			g = x
			g.seen++
		}
	}
	if g == nil {
		s.unmatched = append(s.unmatched, fmt.Sprintf("%s\n\t%s", in, strings.Join(why, "\n\t")))
	}
	s.mu.Unlock()
	if g != nil && g.serveAs != "" {
		for _, e := range s.exchanges {
			if e.Name == g.serveAs {
				s.mu.Lock()
				s.served[e.Name]++
				s.mu.Unlock()
				writeResponse(w, e.Response)
				return
			}
		}
		s.t.Errorf("replay: substitute %s is not among the served exchanges", g.serveAs)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusNotImplemented)
	msg, _ := json.Marshal(fmt.Sprintf("no documented exchange matches %s", in))
	fmt.Fprintf(w, `{"error":{"code":"NoDocumentedExchange","message":%s}}`, msg)
}

// serveBatch answers each item of a JSON batch with the documented
// exchange its request matches, in the envelope the JSON batching page
// documents: {"responses":[{"id","status","headers","body"}]}.
func (s *Server) serveBatch(w http.ResponseWriter, in Incoming) {
	items, _ := parseBatch(in.Body)
	version := strings.Split(strings.TrimPrefix(in.Path, "/"), "/")[0]
	type itemResponse struct {
		ID      string            `json:"id"`
		Status  int               `json:"status"`
		Headers map[string]string `json:"headers,omitempty"`
		Body    json.RawMessage   `json:"body,omitempty"`
	}
	var out struct {
		Responses []itemResponse `json:"responses"`
	}
	for _, it := range items {
		sub, err := it.incoming(version)
		var e *Exchange
		var why []string
		if err == nil {
			e, why = s.find(sub)
		}
		if e == nil || e.Batch {
			s.mu.Lock()
			s.unmatched = append(s.unmatched, fmt.Sprintf("batch item %s: %s\n\t%s", it.ID, sub, strings.Join(why, "\n\t")))
			s.mu.Unlock()
			out.Responses = append(out.Responses, itemResponse{ID: it.ID, Status: http.StatusNotImplemented})
			continue
		}
		s.mu.Lock()
		s.served[e.Name]++
		s.mu.Unlock()
		r := itemResponse{ID: it.ID, Status: e.Response.Status}
		if ct := e.Response.Header.Get("Content-Type"); ct != "" {
			r.Headers = map[string]string{"Content-Type": ct}
		}
		if len(e.Response.Body) > 0 {
			r.Body = e.Response.Body
		}
		out.Responses = append(out.Responses, r)
	}
	b, _ := json.Marshal(out)
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
}

func writeResponse(w http.ResponseWriter, r Response) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		w.Header().Set("Content-Type", ct)
	}
	w.WriteHeader(r.Status)
	if len(r.Body) > 0 && r.Status != http.StatusNoContent {
		_, _ = w.Write(r.Body)
	}
}

// TestSchema loads the v1.0 schema for a test: in CI a missing schema
// fails the test, elsewhere it is logged and $select names go unchecked.
func TestSchema(t testing.TB) *Schema {
	t.Helper()
	s, err := LoadSchema(SchemaPath())
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("Graph schema missing in CI (../shared/graph beside the clone): %v", err)
		}
		t.Logf("Graph schema not available, $select names are not checked: %v", err)
		return nil
	}
	return s
}

// MustLoad reads the named exchanges (file names without .txtar) from
// Dir(), failing the test on any error.
func MustLoad(t testing.TB, names ...string) []*Exchange {
	t.Helper()
	all, err := LoadAll(Dir())
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]*Exchange{}
	for _, e := range all {
		byName[e.Name] = e
	}
	var out []*Exchange
	for _, n := range names {
		e, ok := byName[n]
		if !ok {
			t.Fatalf("replay: no exchange %s in %s", n, Dir())
		}
		out = append(out, e)
	}
	return out
}

// Body returns the exchange's documented answer decoded into v.
func (e *Exchange) Body(v any) error {
	return json.NewDecoder(bytes.NewReader(e.Response.Body)).Decode(v)
}
