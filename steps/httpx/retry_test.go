package httpx

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestBackoff: one second doubling, at most 30 s
// (https://learn.microsoft.com/graph/throttling#best-practices-to-handle-throttling
// recommends exponential backoff when no Retry-After is given).
func TestBackoff(t *testing.T) {
	want := []time.Duration{1, 2, 4, 8, 16, 30, 30, 30}
	for i, w := range want {
		if got := Backoff(i + 1); got != w*time.Second {
			t.Errorf("Backoff(%d) = %v, want %v", i+1, got, w*time.Second)
		}
	}
	if got := Backoff(1000); got != 30*time.Second {
		t.Errorf("Backoff(1000) = %v, want 30s", got)
	}
}

// TestRetry: a throttled attempt is sent again after its wait, up to max
// attempts; an error not worth another try, or success, ends it at once.
func TestRetry(t *testing.T) {
	throttled := errors.New("429")
	refused := errors.New("403")
	cases := []struct {
		name      string
		answers   []error
		waits     []time.Duration
		max, want int
		wantErr   error
	}{
		{"success at once", []error{nil}, []time.Duration{-1}, 10, 1, nil},
		{"throttled then success", []error{throttled, throttled, nil}, []time.Duration{time.Millisecond, time.Millisecond, -1}, 10, 3, nil},
		{"refused is not sent again", []error{refused}, []time.Duration{-1}, 10, 1, refused},
		{"gives up after max", []error{throttled, throttled, throttled}, []time.Duration{time.Millisecond, time.Millisecond, time.Millisecond}, 3, 3, throttled},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sent := 0
			n, err := Retry(context.Background(), tc.max, func(attempt int) (time.Duration, error) {
				sent++
				if attempt != sent {
					t.Errorf("attempt %d, want %d", attempt, sent)
				}
				return tc.waits[attempt-1], tc.answers[attempt-1]
			})
			if n != tc.want || sent != tc.want || !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) {
				t.Errorf("Retry = %d, %v after %d sends; want %d, %v", n, err, sent, tc.want, tc.wantErr)
			}
		})
	}
}

// TestRetryEndsWithContext: a wait is cut short when the context ends.
func TestRetryEndsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	n, err := Retry(ctx, 10, func(int) (time.Duration, error) {
		cancel()
		return time.Hour, errors.New("429")
	})
	if n != 1 || !errors.Is(err, context.Canceled) {
		t.Errorf("Retry = %d, %v; want 1, context.Canceled", n, err)
	}
}
