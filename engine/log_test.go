package engine

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/rebind-dev/rebind/termtext"
)

// TestProgressLinesEscapeWhatTheyQuote checks that a progress line shows
// an address with a fan-out key, an object name or a directory's error
// with its control and bidi characters escaped: ESC[8A ESC[J would
// otherwise erase the lines above it from the operator's terminal, and a
// newline in an error would forge a line of its own. Steps write to the
// same log, so what they write is escaped too.
func TestProgressLinesEscapeWhatTheyQuote(t *testing.T) {
	var buf bytes.Buffer
	e := &Engine{Log: &buf}
	addr := "step.file.f[\"k\x1b[8A\x1b[J\u202e\"]"
	e.logf("  x %s: %v\n", addr, errors.New("denied\n  < step.file.g reverted\x1b[2K"))
	e.logf("    done in %s\n", fmt.Stringer(stringer("1s\x9b")))
	fmt.Fprintf(e.log(), "entra: %s holds this UPN\x1b]0;title\x07\n", "a\u2066b")
	out := buf.String()
	if !termtext.IsSafe(out) {
		t.Errorf("the log holds hidden characters: %q", out)
	}
	if n := strings.Count(out, "\n"); n != 3 {
		t.Errorf("%d lines, want 3 (an error must not add lines): %q", n, out)
	}
	if !strings.Contains(out, `k\x1b[8A\x1b[J\u202e`) {
		t.Errorf("the escapes are not shown: %q", out)
	}
}

type stringer string

func (s stringer) String() string { return string(s) }
