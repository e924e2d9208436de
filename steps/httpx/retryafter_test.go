package httpx

import (
	"net/http"
	"testing"
	"time"
)

func TestParseRetryAfter(t *testing.T) {
	for v, want := range map[string]time.Duration{
		"2":                             2 * time.Second,
		" 1.5":                          1500 * time.Millisecond,
		"":                              0,
		"soon":                          0,
		"-3":                            0,
		"Wed, 21 Oct 2015 07:28:00 GMT": 0, // in the past
	} {
		if got := ParseRetryAfter(v); got != want {
			t.Errorf("ParseRetryAfter(%q) = %s, want %s", v, got, want)
		}
	}
	future := time.Now().Add(90 * time.Second).UTC().Format(http.TimeFormat)
	if got := ParseRetryAfter(future); got < 80*time.Second || got > 90*time.Second {
		t.Errorf("ParseRetryAfter(%q) = %s, want about 90s", future, got)
	}
}
