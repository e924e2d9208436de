package entra

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/rebind-dev/rebind/steps"
	"github.com/rebind-dev/rebind/steps/httpx"
)

// The bulk reads below serve `rebind snapshot` and `rebind diagnose`: a
// whole tenant's users in pages of 999 rather than one call per object.
// They go over plain net/http with the client's credential, not through
// the SDK, because a listing of 100,000 users decoded into the SDK's models
// costs several times the memory of the JSON, and because a snapshot keeps
// the answer's Date header (the service's clock).

// ReadPages reads path (relative to /v1.0, with its query) and every page
// its @odata.nextLink names, calling each for every page, and returns the
// number of requests it made. each gets the page's objects as Graph sent
// them and the answer's Date header (the service's time). Paging follows
// https://learn.microsoft.com/graph/paging: the next page is the
// nextLink's URL as given, until a page has none. 429, 503 and 504 are sent
// again after Retry-After (https://learn.microsoft.com/graph/throttling),
// up to ten times.
func (c *Client) ReadPages(ctx context.Context, path string, each func(values []json.RawMessage, date time.Time) error) (int, error) {
	next := c.root + "/v1.0" + path
	requests := 0
	for next != "" {
		var body struct {
			Value    []json.RawMessage `json:"value"`
			NextLink string            `json:"@odata.nextLink"`
		}
		date, n, err := c.getJSON(ctx, next, path, &body)
		requests += n
		if err != nil {
			return requests, err
		}
		if err := each(body.Value, date); err != nil {
			return requests, err
		}
		if body.NextLink != "" && !strings.HasPrefix(body.NextLink, c.root+"/") {
			return requests, fmt.Errorf("entra: GET %s: @odata.nextLink %q leaves %s", path, body.NextLink, c.root)
		}
		next = body.NextLink
	}
	return requests, nil
}

// getJSON sends one GET (again after a throttling answer) and decodes its
// answer into out; it returns the answer's Date and the requests sent.
func (c *Client) getJSON(ctx context.Context, u, path string, out any) (time.Time, int, error) {
	var date time.Time
	n, err := httpx.Retry(ctx, maxRetries, func(int) (time.Duration, error) {
		var wait time.Duration
		var err error
		date, wait, err = c.getOnce(ctx, u, path, out)
		return wait, err
	})
	return date, n, err
}

// getOnce sends one GET. wait is -1 when the error is not worth another
// try, else the Retry-After (0 when none).
func (c *Client) getOnce(ctx context.Context, u, path string, out any) (time.Time, time.Duration, error) {
	if c.tokens == nil {
		return time.Time{}, -1, errors.New("entra: the client has no credential for bulk reads")
	}
	tok, err := c.tokens.Token(ctx)
	if err != nil {
		return time.Time{}, -1, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return time.Time{}, -1, err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Accept", "application/json")
	resp, err := c.plain.Do(req)
	if err != nil {
		return time.Time{}, 0, fmt.Errorf("entra: GET %s: %w", path, err)
	}
	defer resp.Body.Close()
	date, _ := http.ParseTime(resp.Header.Get("Date"))
	b, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return date, 0, fmt.Errorf("entra: GET %s: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		ge := graphErrorOf(resp.StatusCode, b)
		switch resp.StatusCode {
		case http.StatusTooManyRequests, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			return date, httpx.ParseRetryAfter(resp.Header.Get("Retry-After")), fmt.Errorf("entra: GET %s: %w", path, ge)
		case http.StatusNotFound:
			return date, -1, fmt.Errorf("entra: GET %s: %w: %w", path, ge, steps.ErrNotFound)
		}
		return date, -1, fmt.Errorf("entra: GET %s: %w", path, ge)
	}
	if err := json.Unmarshal(b, out); err != nil {
		return date, -1, fmt.Errorf("entra: GET %s: read the answer: %w", path, err)
	}
	return date, 0, nil
}

// BulkQuery builds a path with query options, escaped as Graph's examples
// show them ($select and $top unescaped names).
func BulkQuery(path string, opts url.Values) string {
	if len(opts) == 0 {
		return path
	}
	return path + "?" + opts.Encode()
}

// IsForbidden reports whether err is Graph's 403: the token lacks the
// permission or role the call needs, as app-only reads of
// onPremisesSynchronization get.
func IsForbidden(err error) bool { return isStatus(err, http.StatusForbidden) }
