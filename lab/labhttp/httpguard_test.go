package labhttp

import (
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rebind-dev/rebind/internal/e2e"
	"github.com/rebind-dev/rebind/lab"
)

// The recover middleware is the last line of defence: a handler that
// panics before answering gets 500 with Graph's error JSON and a log line
// with the stack; one that panics after answering has its connection cut
// (the status line is gone); and http.ErrAbortHandler, the lab's way to
// drop a connection on purpose, passes through untouched.
func TestRecoverAnswersGraphErrorJSON(t *testing.T) {
	var logged e2e.SyncBuffer
	s := NewServer(lab.New(lab.Config{}), ServerOptions{ErrorLog: log.New(&logged, "", 0)})
	mux := http.NewServeMux()
	mux.HandleFunc("/before", func(w http.ResponseWriter, r *http.Request) { panic("nil map somewhere") })
	mux.HandleFunc("/after", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(200)
		_, _ = w.Write([]byte(`{"value":[`))
		panic("half way")
	})
	mux.HandleFunc("/abort", func(w http.ResponseWriter, r *http.Request) { panic(http.ErrAbortHandler) })
	srv := httptest.NewUnstartedServer(s.recoverer(mux))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.Start()

	resp, err := http.Get(srv.URL + "/before")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var e odataError
	if resp.StatusCode != 500 || json.Unmarshal(b, &e) != nil || e.Error.Code != "generalException" {
		t.Fatalf("panic before answering: %d %s", resp.StatusCode, b)
	}
	if !strings.Contains(logged.String(), "nil map somewhere") || !strings.Contains(logged.String(), "goroutine") {
		t.Fatalf("the panic was not logged with its stack: %q", logged.String())
	}
	for _, p := range []string{"/after", "/abort"} {
		resp, err := http.Get(srv.URL + p)
		if err == nil {
			_, err = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		if err == nil {
			t.Fatalf("%s: the connection was not cut", p)
		}
	}
	srv.Close() // waits for the handlers, and their log lines
	if strings.Contains(logged.String(), "abort") {
		t.Fatalf("http.ErrAbortHandler was logged as a panic: %q", logged.String())
	}
}
