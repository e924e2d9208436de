package httpx

import (
	"context"
	"io"
	"net/http"
)

// TokenSource hands out bearer tokens (credential.Source is one).
type TokenSource interface {
	Token(ctx context.Context) (string, error)
}

// Send sends one request to u with a bearer token from tokens in its
// Authorization header (RFC 6750 section 2.1, the way Graph and the
// Exchange admin API take Microsoft Entra access tokens:
// https://learn.microsoft.com/graph/auth/auth-concepts: the app attaches
// the access token as a Bearer token to the Authorization header)
// and header's fields, through hc (http.DefaultClient when nil), and
// reads the answer's body, at most limit bytes. body nil sends none.
//
// An error getting the token, building the request or sending it comes
// back with a nil answer. An error reading the body comes back with the
// answer and what was read of it, so that the caller decides what a body
// cut short means.
func Send(ctx context.Context, hc *http.Client, tokens TokenSource, method, u string, body io.Reader, header map[string]string, limit int64) (*http.Response, []byte, error) {
	tok, err := tokens.Token(ctx)
	if err != nil {
		return nil, nil, err
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit))
	return resp, b, err
}
