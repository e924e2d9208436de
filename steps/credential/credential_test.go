package credential

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

// countingCredential hands out a new token on each call, valid for ttl.
type countingCredential struct {
	calls int32
	ttl   time.Duration
	err   error
	scope atomic.Value
}

func (c *countingCredential) GetToken(ctx context.Context, o policy.TokenRequestOptions) (azcore.AccessToken, error) {
	n := atomic.AddInt32(&c.calls, 1)
	c.scope.Store(strings.Join(o.Scopes, " "))
	if c.err != nil {
		return azcore.AccessToken{}, c.err
	}
	return azcore.AccessToken{Token: "tok" + string(rune('0'+n)), ExpiresOn: time.Now().Add(c.ttl)}, nil
}

// TestSourceCachesUntilNearExpiry: a token is reused while it has more than
// two minutes left, and fetched again after.
func TestSourceCachesUntilNearExpiry(t *testing.T) {
	cred := &countingCredential{ttl: time.Hour}
	s := NewSource(cred, "https://outlook.office365.com/.default")
	for i := 0; i < 3; i++ {
		if tok, err := s.Token(context.Background()); err != nil || tok != "tok1" {
			t.Fatalf("token %d = %q, %v", i, tok, err)
		}
	}
	if cred.calls != 1 || cred.scope.Load() != "https://outlook.office365.com/.default" {
		t.Fatalf("calls %d, scope %v", cred.calls, cred.scope.Load())
	}
	short := &countingCredential{ttl: time.Minute}
	s = NewSource(short, "x")
	s.Token(context.Background())
	if tok, _ := s.Token(context.Background()); tok != "tok2" {
		t.Fatalf("a token with a minute left was reused: %q", tok)
	}
}

// TestErrorsNameTheScope: a failed token names what it was for.
func TestErrorsNameTheScope(t *testing.T) {
	s := NewSource(&countingCredential{err: errors.New("no credential")}, "https://graph.microsoft.com/.default")
	_, err := s.Token(context.Background())
	if err == nil || !strings.Contains(err.Error(), "https://graph.microsoft.com/.default") {
		t.Fatalf("error = %v", err)
	}
}

// TestDefaultScope: the resource's identifier URI, a slash and .default
// (scopes-oidc#the-default-scope), whether or not the root ends in a slash.
func TestDefaultScope(t *testing.T) {
	for root, want := range map[string]string{
		"https://graph.microsoft.com":      "https://graph.microsoft.com/.default",
		"https://graph.microsoft.us/":      "https://graph.microsoft.us/.default",
		"https://127.0.0.1:8443/graph-lab": "https://127.0.0.1:8443/graph-lab/.default",
	} {
		if got := DefaultScope(root); got != want {
			t.Errorf("DefaultScope(%q) = %q, want %q", root, got, want)
		}
	}
}
