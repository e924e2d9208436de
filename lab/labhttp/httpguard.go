package labhttp

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"path"
	"runtime/debug"
	"slices"
	"strings"
)

// maxRequestBody is the largest request body the lab reads, Graph's: "there
// is a 4MB limit on the size of a request" (a Graph maintainer in
// microsoftgraph/microsoft-graph-docs#85; Graph answers a larger one with
// "The maximum request length supported is 4MB.",
// microsoft-graph-docs-contrib#682, and status 413, "The request size
// exceeds the maximum limit", https://learn.microsoft.com/en-us/graph/errors).
// The Exchange admin API and the lab's control API documents no limit of
// their own; the lab holds them to the same one. A gzip body is held to it
// both as sent and inflated, so that a small body cannot grow without bound
// in the lab's memory.
const maxRequestBody = 4 << 20

// writeTooLarge answers a body over maxRequestBody.
func writeTooLarge(w http.ResponseWriter) {
	writeError(w, http.StatusRequestEntityTooLarge, "BadRequest", "The maximum request length supported is 4MB.")
}

// errTooLarge is a body over maxRequestBody.
var errTooLarge = errors.New("request body over 4 MB")

// readAtMost reads r to its end, or fails with errTooLarge after limit
// bytes. size is how long r says it is, -1 when it does not say: a known
// size is read into one buffer of that size.
func readAtMost(r io.Reader, size, limit int64) ([]byte, error) {
	if size >= 0 && size <= limit {
		b := make([]byte, size)
		if _, err := io.ReadFull(r, b); err != nil {
			return nil, err
		}
		if n, _ := r.Read(make([]byte, 1)); n > 0 {
			return nil, errTooLarge
		}
		return b, nil
	}
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(io.LimitReader(r, limit+1)); err != nil {
		return nil, err
	}
	if int64(buf.Len()) > limit {
		return nil, errTooLarge
	}
	return buf.Bytes(), nil
}

// smallBody is the size of body that needs no share of the body budget:
// nearly every request rebind sends.
const smallBody = 64 << 10

// bodyBudgetBytes is the request body bytes the lab holds at once, read
// or being handled: eight bodies of the largest size. A request with a
// larger body waits for room, so that many clients sending large bodies at
// once cannot take the lab's memory (handling a body costs a few times its
// size).
const bodyBudgetBytes = 8 * maxRequestBody

// heldBody is a request body readBodies has read whole; requestBody hands
// its bytes to a handler without copying them.
type heldBody struct {
	*bytes.Reader
	b []byte
}

func (heldBody) Close() error { return nil }

// requestBody returns the whole request body.
func requestBody(r *http.Request) ([]byte, error) {
	if hb, ok := r.Body.(heldBody); ok {
		return hb.b, nil
	}
	return io.ReadAll(r.Body)
}

// decodeBody decodes the request body, exactly one JSON value, into v:
// data after it is an error, as it is to Graph, rather than silently
// ignored.
func decodeBody(r *http.Request, v any) error {
	b, err := requestBody(r)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// readBodies reads every request body before the routes see it: at most
// maxRequestBody bytes (413 past that), inflated when sent with
// Content-Encoding: gzip as the Graph SDK sends it (again at most
// maxRequestBody; other encodings get 415), within the body budget.
// Handlers then read a body that is whole and bounded.
func (s *Server) readBodies(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > maxRequestBody {
			writeTooLarge(w)
			return
		}
		gzipped := strings.TrimSpace(r.Header.Get("Content-Encoding")) != ""
		if need := int(r.ContentLength); r.Body != nil && r.Body != http.NoBody && (need < 0 || need > smallBody || gzipped) {
			if need < 0 || gzipped {
				need = maxRequestBody
			}
			if s.bodies.Acquire(r.Context(), int64(need)) != nil {
				return // the client is gone
			}
			defer s.bodies.Release(int64(need))
		}
		body, err := readAtMost(http.MaxBytesReader(w, r.Body, maxRequestBody), r.ContentLength, maxRequestBody)
		var mbe *http.MaxBytesError
		switch {
		case errors.Is(err, errTooLarge), errors.As(err, &mbe):
			writeTooLarge(w)
			return
		case err != nil:
			writeError(w, http.StatusBadRequest, "BadRequest", "IO error during request payload read.")
			return
		}
		switch enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))); enc {
		case "", "identity":
		case "gzip":
			zr, err := gzip.NewReader(bytes.NewReader(body))
			if err == nil {
				body, err = readAtMost(zr, -1, maxRequestBody)
			}
			if errors.Is(err, errTooLarge) {
				writeTooLarge(w)
				return
			}
			if err != nil {
				writeError(w, http.StatusBadRequest, "BadRequest", "The request body is not valid gzip: "+err.Error())
				return
			}
			r.Header.Del("Content-Encoding")
		default:
			writeError(w, http.StatusUnsupportedMediaType, "UnsupportedMediaType", "Content-Encoding "+enc+" is not supported.")
			return
		}
		r.Body = heldBody{Reader: bytes.NewReader(body), b: body}
		r.ContentLength = int64(len(body))
		next.ServeHTTP(w, r)
	})
}

// canonicalPaths answers 400 to a path with "." or ".." segments or empty
// ones (also percent-encoded: the path is checked decoded), where Go's
// router would answer a redirect with an HTML body: a client of the lab
// gets JSON, and "/v1.0/../lab/dump" never turns into "/lab/dump".
func canonicalPaths(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		clean := path.Clean(p)
		if strings.HasSuffix(p, "/") && clean != "/" {
			clean += "/"
		}
		if p == "" || p[0] != '/' || clean != p {
			writeError(w, http.StatusBadRequest, "BadRequest", "Invalid request URL: the path is not in canonical form.")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// probeMethods are the methods a route may be asked for.
var probeMethods = []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// allowedMethods returns the methods mux serves r's path with, other than
// through the catch-all patterns given.
func allowedMethods(mux *http.ServeMux, r *http.Request, catchAll ...string) []string {
	var allowed []string
	for _, m := range probeMethods {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pat := mux.Handler(probe); pat != "" && !slices.Contains(catchAll, pat) {
			allowed = append(allowed, m)
		}
	}
	return allowed
}

// notFound answers a request no lab route takes: 405 with Allow when the
// path is served with other methods, else 404, both as JSON.
func notFound(mux *http.ServeMux, fallback string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if allowed := allowedMethods(mux, r, fallback); len(allowed) > 0 {
			w.Header().Set("Allow", strings.Join(allowed, ", "))
			writeError(w, http.StatusMethodNotAllowed, "MethodNotAllowed", r.Method+" is not allowed on "+r.URL.Path+".")
			return
		}
		writeError(w, http.StatusNotFound, "NotFound", "The lab serves nothing at "+r.URL.Path+".")
	}
}

// answerWriter records whether the answer has started, so that a panic
// after it is not answered twice. Unwrap lets http.ResponseController reach
// the connection.
type answerWriter struct {
	http.ResponseWriter
	started bool
}

func (w *answerWriter) WriteHeader(status int) {
	w.started = true
	w.ResponseWriter.WriteHeader(status)
}

func (w *answerWriter) Write(b []byte) (int, error) {
	w.started = true
	return w.ResponseWriter.Write(b)
}

func (w *answerWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// recoverer is the last line of defence against a handler's panic: it logs
// the panic with its stack and answers 500 with Graph's error JSON
// (generalException, "An unspecified error has occurred", from
// https://learn.microsoft.com/en-us/graph/errors), or cuts the connection
// when the answer had started. http.ErrAbortHandler, a deliberate drop,
// passes through. Every panic it meets is a bug to fix where it happens.
func (s *Server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		aw := &answerWriter{ResponseWriter: w}
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.logPanic(r, v)
			if aw.started {
				panic(http.ErrAbortHandler)
			}
			writeError(aw, http.StatusInternalServerError, "generalException", "An unspecified error has occurred.")
		}()
		next.ServeHTTP(aw, r)
	})
}

// logPanic reports a handler's panic with its stack, for the lab's
// operator: the client gets only Graph's generic error.
func (s *Server) logPanic(r *http.Request, v any) {
	s.opts.ErrorLog.Printf("lab: panic serving %s %s: %v\n%s", r.Method, r.URL.Path, v, debug.Stack())
}
