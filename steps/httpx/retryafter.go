// Package httpx holds the HTTP plumbing the step packages that speak HTTP
// (entra, exo, adsync) share. It knows nothing of any one service.
package httpx

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// ParseRetryAfter reads an HTTP Retry-After value: seconds (Graph and
// Exchange send whole or fractional ones) or an HTTP date. It returns 0
// when v is empty, malformed or in the past. The header's two forms are
// RFC 9110 section 10.2.3's; Graph's use of it on 429 is described at
// https://learn.microsoft.com/graph/throttling.
func ParseRetryAfter(v string) time.Duration {
	v = strings.TrimSpace(v)
	if s, err := strconv.ParseFloat(v, 64); err == nil && s >= 0 {
		return time.Duration(s * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := time.Until(t); d > 0 {
			return d
		}
	}
	return 0
}
