// Package control steers a running lab tenant over its control API
// (/lab/...): it passes the lab's virtual time the way a real tenant's time
// would pass, with Entra Connect's scheduled delta cycles, and makes single
// control calls for `rebind lab sync|clock|dump`.
package control

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// ConnectInterval is how often Entra Connect runs a delta cycle.
const ConnectInterval = 30 * time.Minute

// Poll is how much virtual time passes between two polls of an await
// against the lab.
const Poll = 5 * time.Minute

// Sleeper passes the lab tenant's virtual time instead of sleeping, and
// runs the delta cycle Entra Connect would run every 30 minutes. A rehearsal
// thereby sees what a real tenant would after that wait (users turned
// cloud-managed 72 hours after sync is switched off, recycle-bin expiry), in
// no real time.
type Sleeper struct {
	lab *Lab

	mu         sync.Mutex
	sinceCycle time.Duration
}

// NewSleeper returns a Sleeper for the lab at base (its URL), verifying
// its certificate as TLSConfig says.
func NewSleeper(base string) *Sleeper {
	l, err := Dial(base, nil)
	if err != nil {
		// Every call then fails with the reason.
		l = &Lab{base: strings.TrimRight(base, "/"), hc: &http.Client{Transport: failing{err}}}
	}
	return &Sleeper{lab: l}
}

// failing is a transport that fails every request with err.
type failing struct{ err error }

func (f failing) RoundTrip(*http.Request) (*http.Response, error) { return nil, f.err }

// Sleep advances the lab's clock by d.
func (l *Sleeper) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if _, err := l.lab.Advance(ctx, d); err != nil {
		return err
	}
	l.mu.Lock()
	l.sinceCycle += d
	due := l.sinceCycle >= ConnectInterval
	if due {
		l.sinceCycle = 0
	}
	l.mu.Unlock()
	if due {
		// A cycle refused (sync switched off, deletion threshold) is what
		// the real scheduler would meet too; the await sees its effect.
		_, _, _ = l.lab.Sync(ctx, "Delta")
	}
	return nil
}

// do makes one control API call, with the JSON body send when not nil,
// and returns the body and status of the answer; any answer but 2xx is
// also an error quoting it.
func do(ctx context.Context, client *http.Client, method, u string, send []byte) ([]byte, int, error) {
	var rd io.Reader
	if send != nil {
		rd = bytes.NewReader(send)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, 0, err
	}
	if send != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, 0, fmt.Errorf("lab: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<30))
	if err != nil {
		return nil, resp.StatusCode, fmt.Errorf("lab: %w", err)
	}
	if resp.StatusCode/100 != 2 {
		return body, resp.StatusCode, fmt.Errorf("lab: %s %s: %s: %s", method, u, resp.Status, strings.TrimSpace(string(body)))
	}
	return body, resp.StatusCode, nil
}
