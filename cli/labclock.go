package cli

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// connectInterval is how often Entra Connect runs a delta cycle.
const connectInterval = 30 * time.Minute

// labPoll is how much virtual time passes between two polls of an await
// against the lab.
const labPoll = 5 * time.Minute

// labSleeper passes the lab tenant's virtual time instead of sleeping, and
// runs the delta cycle Entra Connect would run every 30 minutes. A rehearsal
// thereby sees what a real tenant would after that wait (users turned
// cloud-managed 72 hours after sync is switched off, recycle-bin expiry), in
// no real time.
type labSleeper struct {
	base   string
	client *http.Client

	mu         sync.Mutex
	sinceCycle time.Duration
}

func newLabSleeper(base string) *labSleeper {
	return &labSleeper{base: strings.TrimRight(base, "/"), client: &http.Client{Timeout: 60 * time.Second}}
}

// Sleep advances the lab's clock by d.
func (l *labSleeper) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := l.post(ctx, "/lab/clock?advance="+url.QueryEscape(d.String())); err != nil {
		return err
	}
	l.mu.Lock()
	l.sinceCycle += d
	due := l.sinceCycle >= connectInterval
	if due {
		l.sinceCycle = 0
	}
	l.mu.Unlock()
	if due {
		// A cycle refused (sync switched off, deletion threshold) is what
		// the real scheduler would meet too; the await sees its effect.
		_ = l.post(ctx, "/lab/sync?policy=Delta")
	}
	return nil
}

func (l *labSleeper) post(ctx context.Context, path string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, l.base+path, nil)
	if err != nil {
		return err
	}
	resp, err := l.client.Do(req)
	if err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("lab: POST %s: %s", path, resp.Status)
	}
	return nil
}
