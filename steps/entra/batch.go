package entra

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	abs "github.com/microsoft/kiota-abstractions-go"

	"github.com/rebind-dev/rebind/steps/httpx"
)

// maxBatch is the most requests Graph accepts in one JSON batch.
const maxBatch = 20

// batchWindow is how long a write waits for others to share its batch.
const batchWindow = 5 * time.Millisecond

// maxItemAttempts bounds how often one item of a batch is sent again after
// it was throttled on its own.
const maxItemAttempts = 12

// batcher coalesces writes made concurrently (the instances of a fan-out,
// each calling Apply) into Graph JSON batches of up to 20 requests. A write
// waits at most the window for others to join it; a full batch goes at
// once. Items answered 429, 503 or 504 inside a batch (which the SDK's retry
// handler does not see) are sent again after the longest Retry-After among
// them; every other answer goes back to its caller.
//
// The engine calls Apply once per instance, so batching is invisible to it:
// with max_concurrency = 100, up to five batches of twenty are in flight.
type batcher struct {
	c      *Client
	window time.Duration

	mu      sync.Mutex
	pending []*batchItem
	timer   *time.Timer
	closed  bool

	// sent counts batch requests and items, for tests and benchmarks.
	sentBatches, sentItems, retriedItems int64
}

// batchItem is one request waiting for its answer.
type batchItem struct {
	method string
	url    string
	body   json.RawMessage
	done   chan error
	// attempts counts the batches the item was sent in.
	attempts int
}

func newBatcher(c *Client, window time.Duration) *batcher {
	return &batcher{c: c, window: window}
}

// do sends one request through a batch and returns its outcome: nil for a
// 2xx answer, a *GraphError otherwise.
func (b *batcher) do(ctx context.Context, method, url string, body []byte) error {
	it := &batchItem{method: method, url: url, body: body, done: make(chan error, 1)}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return fmt.Errorf("entra: the target is closed")
	}
	b.pending = append(b.pending, it)
	switch {
	case len(b.pending) >= maxBatch:
		items := b.take()
		go b.send(items)
	case b.timer == nil:
		b.timer = time.AfterFunc(b.window, b.flush)
	}
	b.mu.Unlock()
	select {
	case err := <-it.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// take removes the pending items; b.mu is held.
func (b *batcher) take() []*batchItem {
	items := b.pending
	b.pending = nil
	if b.timer != nil {
		b.timer.Stop()
		b.timer = nil
	}
	return items
}

// flush sends what is pending when the window closes.
func (b *batcher) flush() {
	b.mu.Lock()
	items := b.take()
	b.mu.Unlock()
	if len(items) > 0 {
		b.send(items)
	}
}

func (b *batcher) close() {
	b.mu.Lock()
	b.closed = true
	items := b.take()
	b.mu.Unlock()
	for _, it := range items {
		it.done <- fmt.Errorf("entra: the target is closed")
	}
}

// batchRequest and batchResponse are the JSON batch wire format.
type batchRequest struct {
	ID      string            `json:"id"`
	Method  string            `json:"method"`
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers,omitempty"`
	Body    json.RawMessage   `json:"body,omitempty"`
}

type batchResponse struct {
	ID      string            `json:"id"`
	Status  int               `json:"status"`
	Headers map[string]string `json:"headers"`
	Body    json.RawMessage   `json:"body"`
}

// batchResponses reads a $batch answer's responses by their request id:
// "Responses to the batched requests might appear in a different order. The
// id property can be used to correlate individual requests and responses"
// (https://learn.microsoft.com/graph/json-batching).
func batchResponses(raw []byte) (map[string]batchResponse, error) {
	var resp struct {
		Responses []batchResponse `json:"responses"`
	}
	if err := json.Unmarshal(raw, &resp); err != nil {
		return nil, fmt.Errorf("entra: read a batch answer: %w", err)
	}
	byID := map[string]batchResponse{}
	for _, r := range resp.Responses {
		byID[r.ID] = r
	}
	return byID, nil
}

// send posts items (at most 20) as one batch. Items that were throttled
// join the queue again after the longest Retry-After among them, so that
// they share batches with newer writes.
func (b *batcher) send(items []*batchItem) {
	// The writes' callers may give up; the batch itself is bounded by the
	// SDK's retries and maxItemAttempts.
	retry, wait, err := b.sendOnce(context.Background(), items)
	if err != nil {
		for _, it := range items {
			it.done <- err
		}
		return
	}
	if len(retry) == 0 {
		return
	}
	b.mu.Lock()
	b.retriedItems += int64(len(retry))
	b.mu.Unlock()
	time.AfterFunc(wait, func() { b.requeue(retry) })
}

// requeue puts throttled items back in the queue.
func (b *batcher) requeue(items []*batchItem) {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		for _, it := range items {
			it.done <- fmt.Errorf("entra: the target is closed")
		}
		return
	}
	b.pending = append(b.pending, items...)
	var full [][]*batchItem
	for len(b.pending) >= maxBatch {
		full = append(full, b.pending[:maxBatch:maxBatch])
		b.pending = b.pending[maxBatch:]
	}
	if len(b.pending) > 0 && b.timer == nil {
		b.timer = time.AfterFunc(b.window, b.flush)
	}
	b.mu.Unlock()
	for _, f := range full {
		go b.send(f)
	}
}

// sendOnce posts one batch and delivers every final answer. It returns the
// items to send again (throttled or unavailable) and how long to wait
// first. An item throttled maxItemAttempts times gets its error.
func (b *batcher) sendOnce(ctx context.Context, items []*batchItem) ([]*batchItem, time.Duration, error) {
	req := struct {
		Requests []batchRequest `json:"requests"`
	}{}
	for i, it := range items {
		r := batchRequest{ID: strconv.Itoa(i + 1), Method: it.method, URL: it.url}
		if it.body != nil {
			r.Headers = map[string]string{"Content-Type": "application/json"}
			r.Body = it.body
		}
		req.Requests = append(req.Requests, r)
	}
	body, err := json.Marshal(req)
	if err != nil {
		return nil, 0, fmt.Errorf("entra: encode a batch: %w", err)
	}
	b.mu.Lock()
	b.sentBatches++
	b.sentItems += int64(len(items))
	b.mu.Unlock()
	raw, err := b.c.rawJSON(ctx, abs.POST, "/$batch", body)
	if err != nil {
		return nil, 0, err
	}
	byID, err := batchResponses(raw)
	if err != nil {
		return nil, 0, err
	}
	var retry []*batchItem
	var wait time.Duration
	for i, it := range items {
		r, ok := byID[strconv.Itoa(i+1)]
		if !ok {
			it.done <- fmt.Errorf("entra: the batch answer has no response for %s %s", it.method, it.url)
			continue
		}
		if r.Status >= 200 && r.Status < 300 {
			it.done <- nil
			continue
		}
		ge := itemError(r)
		throttled := r.Status == http.StatusTooManyRequests || r.Status == http.StatusServiceUnavailable || r.Status == http.StatusGatewayTimeout
		it.attempts++
		if throttled && it.attempts < maxItemAttempts {
			retry = append(retry, it)
			d := ge.RetryAfter
			if d == 0 {
				d = time.Second
			}
			wait = max(wait, d)
			continue
		}
		it.done <- ge
	}
	if len(retry) > 0 {
		// The transport does not see an item's 429: hold every request
		// back until the longest Retry-After has passed.
		b.c.pacer.Throttled(wait)
	}
	return retry, wait, nil
}

// itemError reads a batch item's error answer.
func itemError(r batchResponse) *GraphError {
	ge := graphErrorOf(r.Status, r.Body)
	for k, v := range r.Headers {
		if http.CanonicalHeaderKey(k) == "Retry-After" {
			ge.RetryAfter = httpx.ParseRetryAfter(v)
		}
	}
	return ge
}

// stats returns how many batches and items were sent and how many items
// were sent again after being throttled.
func (b *batcher) stats() (batches, items, retried int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.sentBatches, b.sentItems, b.retriedItems
}
