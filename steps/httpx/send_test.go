package httpx

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

type tokenFunc func(context.Context) (string, error)

func (f tokenFunc) Token(ctx context.Context) (string, error) { return f(ctx) }

// TestSend: the request carries "Authorization: Bearer <token>"
// (https://learn.microsoft.com/graph/auth/auth-concepts) and the headers
// given, with its body; the answer comes back with its body read up to the
// limit. A token that cannot be had sends nothing.
func TestSend(t *testing.T) {
	var got *http.Request
	var gotBody string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r
		b, _ := io.ReadAll(r.Body)
		gotBody = string(b)
		w.WriteHeader(http.StatusAccepted)
		io.WriteString(w, "0123456789")
	}))
	defer srv.Close()
	tok := tokenFunc(func(context.Context) (string, error) { return "tok1", nil })
	resp, b, err := Send(context.Background(), srv.Client(), tok, http.MethodPost, srv.URL+"/x", strings.NewReader(`{"a":1}`),
		map[string]string{"Content-Type": "application/json", "X-AnchorMailbox": "UPN:m@contoso.com"}, 4)
	if err != nil || resp.StatusCode != http.StatusAccepted || string(b) != "0123" {
		t.Fatalf("Send = %v, %q, %v; want 202 and the first 4 bytes", resp, b, err)
	}
	if got.Method != http.MethodPost || got.URL.Path != "/x" || got.Header.Get("Authorization") != "Bearer tok1" ||
		got.Header.Get("Content-Type") != "application/json" || got.Header.Get("X-AnchorMailbox") != "UPN:m@contoso.com" || gotBody != `{"a":1}` {
		t.Errorf("request %s %s %v body %q", got.Method, got.URL.Path, got.Header, gotBody)
	}

	got = nil
	refused := errors.New("no token")
	resp, _, err = Send(context.Background(), srv.Client(), tokenFunc(func(context.Context) (string, error) { return "", refused }),
		http.MethodGet, srv.URL, nil, nil, 1<<20)
	if resp != nil || !errors.Is(err, refused) || got != nil {
		t.Errorf("without a token: %v, %v, request sent: %v", resp, err, got != nil)
	}
}
