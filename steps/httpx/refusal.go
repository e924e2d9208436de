package httpx

import (
	"fmt"
	"net/http"
	"time"

	"github.com/rebind-dev/rebind/steps"
)

// Refusal gives an HTTP service's error answer the shape the engine's retry
// loop reads, from its status alone; err is the already-worded error
// ("entra: <what>: <cause>") and the caller handles its own not-found
// first, since each service says "not found" its own way.
//
//   - 429, 503 and 504 are throttling or a service briefly unavailable: a
//     steps.RetryAfterError waiting retryAfter (the answer's Retry-After
//     header), or fallback when the answer gave none. Graph answers 429
//     with "a suggested wait time ... in the response header"
//     (https://learn.microsoft.com/graph/throttling), and the Graph SDK's
//     retry handler retries 429, 503 and 504 (shared/DOMAIN.md); the
//     Exchange admin API's throttling answer has no page of its own, so exo
//     uses the same set, as it did before this was shared.
//   - 401 and 403 are permanent: retrying cannot grant a permission. authHint
//     says what to check and is appended in parentheses.
//   - Any other 4xx is permanent; everything else is returned as it is.
func Refusal(err error, status int, retryAfter, fallback time.Duration, authHint string) error {
	switch {
	case status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable || status == http.StatusGatewayTimeout:
		if retryAfter == 0 {
			retryAfter = fallback
		}
		return &steps.RetryAfterError{Err: err, After: retryAfter}
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return steps.Permanent(fmt.Errorf("%w (%s)", err, authHint))
	case status >= 400 && status < 500:
		return steps.Permanent(err)
	}
	return err
}
