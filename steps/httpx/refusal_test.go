package httpx

import (
	"errors"
	"testing"
	"time"

	"github.com/rebind-dev/rebind/steps"
)

func TestRefusal(t *testing.T) {
	cause := errors.New("svc: get user: 429 TooManyRequests")
	for _, tc := range []struct {
		status     int
		retryAfter time.Duration
		wantAfter  time.Duration // > 0: a RetryAfterError waiting this long
		permanent  bool
		text       string
	}{
		{429, 7 * time.Second, 7 * time.Second, false, cause.Error()},
		{429, 0, 30 * time.Second, false, cause.Error()}, // no Retry-After: the caller's fallback
		{503, 0, 30 * time.Second, false, cause.Error()},
		{504, 2 * time.Second, 2 * time.Second, false, cause.Error()},
		{401, 0, 0, true, cause.Error() + " (check the role)"},
		{403, 0, 0, true, cause.Error() + " (check the role)"},
		{400, 0, 0, true, cause.Error()},
		{409, 9 * time.Second, 0, true, cause.Error()}, // Retry-After on a refusal does not make it retryable
		{500, 0, 0, false, cause.Error()},
		{502, 0, 0, false, cause.Error()},
	} {
		err := Refusal(cause, tc.status, tc.retryAfter, 30*time.Second, "check the role")
		if !errors.Is(err, cause) || err.Error() != tc.text {
			t.Errorf("%d: %q does not wrap the cause as %q", tc.status, err, tc.text)
		}
		var ra *steps.RetryAfterError
		if got := errors.As(err, &ra); got != (tc.wantAfter > 0) || (got && ra.After != tc.wantAfter) {
			t.Errorf("%d: RetryAfterError %v (%v), want after %v", tc.status, got, ra, tc.wantAfter)
		}
		if steps.IsPermanent(err) != tc.permanent {
			t.Errorf("%d: permanent = %v, want %v", tc.status, steps.IsPermanent(err), tc.permanent)
		}
	}
}
