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
// same log, so what they write is escaped too. The lines go through the
// session, as every progress line of a run does, and a secret is scrubbed
// before its characters are escaped (escaped first, it would no longer
// be recognised).
func TestProgressLinesEscapeWhatTheyQuote(t *testing.T) {
	var buf bytes.Buffer
	e := &Engine{Log: &buf}
	s := &session{e: e, secrets: newSecretSet()}
	s.logw = scrubWriter{w: e.log(), s: s.secrets}
	const secret = "hunter2\nhunter2"
	s.secrets.addString(secret)
	addr := "step.file.f[\"k\x1b[8A\x1b[J\u202e\"]"
	s.logf("  x %s: %v\n", addr, errors.New("denied "+secret))
	s.logf("  x %s: %v\n", addr, errors.New("denied\n  < step.file.g reverted\x1b[2K"))
	s.logf("    done in %s\n", fmt.Stringer(stringer("1s\x9b")))
	fmt.Fprintf(e.log(), "entra: %s holds this UPN\x1b]0;title\x07\n", "a\u2066b")
	out := buf.String()
	if !termtext.IsSafe(out) {
		t.Errorf("the log holds hidden characters: %q", out)
	}
	if n := strings.Count(out, "\n"); n != 4 {
		t.Errorf("%d lines, want 4 (an error must not add lines): %q", n, out)
	}
	if strings.Contains(out, "hunter2") {
		t.Errorf("the log shows the secret: %q", out)
	}
	if !strings.Contains(out, `k\x1b[8A\x1b[J\u202e`) {
		t.Errorf("the escapes are not shown: %q", out)
	}
}

type stringer string

func (s stringer) String() string { return string(s) }
