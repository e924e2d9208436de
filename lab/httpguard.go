package lab

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"runtime/debug"
)

// decodeJSON decodes exactly one JSON value from r into v: data after it
// is an error, as it is to Graph, rather than silently ignored.
func decodeJSON(r io.Reader, v any) error {
	dec := json.NewDecoder(r)
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("data after the JSON value")
	}
	return nil
}

// logPanic reports a handler's panic with its stack, for the lab's
// operator: the client gets only Graph's generic error.
func (s *Server) logPanic(r *http.Request, v any) {
	s.opts.ErrorLog.Printf("lab: panic serving %s %s: %v\n%s", r.Method, r.URL.Path, v, debug.Stack())
}
