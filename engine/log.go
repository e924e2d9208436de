package engine

import (
	"fmt"
	"io"
	"sync"

	"github.com/rebind-dev/rebind/termtext"
)

// log is where progress lines go. Fan-out instances write from many
// goroutines, so every write goes through one lock (a caller's writer need
// not be safe for concurrent use, and lines must not interleave). Progress
// lines quote addresses, object names and what directories answered, and
// steps write to this log too: every control and bidi character in them
// is shown as an escape (termtext.Writer), so none reaches a terminal.
func (e *Engine) log() io.Writer {
	if e.Log == nil {
		return io.Discard
	}
	if e.logw == nil {
		// Set up before any goroutine of a run starts: newSession calls log
		// first.
		e.logw = &lockedWriter{w: termtext.Writer(e.Log)}
	}
	return e.logw
}

// lockedWriter serialises writes to w.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// maxLogText is how many characters of a quoted string or error a
// progress line shows.
const maxLogText = 2000

// logf writes a progress line, scrubbed of the session's secrets. The
// strings, errors and Stringers it quotes are kept on the line (a newline
// in an error would forge a line of its own) and cut when long
// (termtext); each is scrubbed first, since a secret whose characters
// were escaped would no longer be recognised.
func (s *session) logf(format string, args ...any) {
	for i, a := range args {
		var text string
		switch v := a.(type) {
		case string:
			text = v
		case error:
			text = v.Error()
		case fmt.Stringer:
			text = v.String()
		default:
			continue
		}
		args[i] = termtext.Line(termtext.Clip(s.secrets.scrub(text), maxLogText))
	}
	fmt.Fprintf(s.logw, format, args...)
}
