package steps

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// days matches a day count in a duration string ("30d", "1.5d"). Go's
// duration units (ns, us, µs, ms, s, m, h) never contain a "d".
var days = regexp.MustCompile(`([0-9]*\.?[0-9]+)d`)

// DurationError is a duration string ParseDuration refused; Negative is set
// when it parsed but is below zero.
type DurationError struct {
	Input    string
	Negative bool
	msg      string
}

func (e *DurationError) Error() string { return e.msg }

// ParseDuration is the one duration grammar of runbooks, used by the
// engine's meta-arguments (timeout, await, retry.backoff) and by step
// arguments (wait's duration and interval): Go's syntax ("90s", "1h30m",
// "1.5h", https://pkg.go.dev/time#ParseDuration) plus "d" for days of 24
// hours, whole or fractional ("30d", "1d12h", "1.5d"). Surrounding space is
// ignored. Empty, malformed and negative values are errors.
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, &DurationError{Input: s, msg: "the value is empty"}
	}
	var bad error
	g := days.ReplaceAllStringFunc(s, func(m string) string {
		n, err := strconv.ParseFloat(strings.TrimSuffix(m, "d"), 64)
		if err != nil || n*24 > math.MaxInt64/float64(time.Hour) {
			bad = &DurationError{Input: s, msg: fmt.Sprintf("%q is not a number of days", m)}
			return m
		}
		return strconv.FormatFloat(n*24, 'f', -1, 64) + "h"
	})
	if bad != nil {
		return 0, bad
	}
	d, err := time.ParseDuration(g)
	if err != nil {
		return 0, &DurationError{Input: s, msg: fmt.Sprintf("%q is not a duration", s)}
	}
	if d < 0 {
		return 0, &DurationError{Input: s, Negative: true, msg: fmt.Sprintf("%q is negative", s)}
	}
	return d, nil
}
