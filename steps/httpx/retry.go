package httpx

import (
	"context"
	"time"
)

// Backoff is the wait before sending a request again after attempt
// (1 for the first) was throttled without a Retry-After: one second,
// doubling on each attempt, at most 30 seconds. Graph's throttling guidance
// says "If no Retry-After header is provided by the response, we recommend
// implementing an exponential backoff retry policy"
// (https://learn.microsoft.com/graph/throttling#best-practices-to-handle-throttling);
// exo uses the same for the Exchange admin API, which has no page of its own.
func Backoff(attempt int) time.Duration {
	if attempt < 1 {
		attempt = 1
	}
	if attempt > 6 { // 2^5 = 32 s already passes the ceiling
		return 30 * time.Second
	}
	return min(30*time.Second, time.Duration(1<<(attempt-1))*time.Second)
}

// Sleep waits d, or until ctx ends (then it returns ctx's error).
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	select {
	case <-ctx.Done():
		t.Stop()
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Retry sends a request up to max times. send makes one attempt (1 for
// the first) and says how long to wait before the next: a negative wait
// when its error is not worth another try (or there is no error), 0 for
// a throttled answer without Retry-After (Backoff decides), else the
// answer's Retry-After. Retry returns the last attempt's error and the
// number of attempts made; an error of ctx ends it early.
func Retry(ctx context.Context, max int, send func(attempt int) (wait time.Duration, err error)) (int, error) {
	for attempt := 1; ; attempt++ {
		wait, err := send(attempt)
		if err == nil || wait < 0 || attempt >= max {
			return attempt, err
		}
		if wait == 0 {
			wait = Backoff(attempt)
		}
		if err := Sleep(ctx, wait); err != nil {
			return attempt, err
		}
	}
}
