package labhttp

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"strings"
)

// maxBatch is the most requests one JSON batch may carry.
const maxBatch = 20

type batchRequest struct {
	ID        string            `json:"id"`
	Method    string            `json:"method"`
	URL       string            `json:"url"`
	Headers   map[string]string `json:"headers,omitempty"`
	Body      json.RawMessage   `json:"body,omitempty"`
	DependsOn []string          `json:"dependsOn,omitempty"`
}

type batchResponse struct {
	ID      string            `json:"id"`
	Status  int               `json:"status"`
	Headers map[string]string `json:"headers,omitempty"`
	Body    json.RawMessage   `json:"body,omitempty"`
}

// recorder is the http.ResponseWriter a batch item runs against.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}

func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}

// batch serves POST /$batch as the json-batching page describes it
// (https://learn.microsoft.com/en-us/graph/json-batching): 1 to 20
// requests, each with an id (unique ignoring case), a method and a url
// relative to the version; dependsOn names earlier requests, and an item
// whose dependency failed gets 424. A batch that breaks these rules is 400.
// Items run in order; each is throttled on its own and can be 429 while
// the others succeed.
func (s *Server) batch(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Requests []batchRequest `json:"requests"`
	}
	if err := decodeBody(r, &req); err != nil {
		writeError(w, http.StatusBadRequest, "BadRequest", "Invalid batch payload format: "+err.Error())
		return
	}
	if len(req.Requests) == 0 || len(req.Requests) > maxBatch {
		writeError(w, http.StatusBadRequest, "BadRequest", fmt.Sprintf("A batch holds 1 to %d requests; this one has %d.", maxBatch, len(req.Requests)))
		return
	}
	// status holds each id's answer, keyed by the id in lower case: ids
	// are not case-sensitive. -1 is "not run yet".
	status := map[string]int{}
	for _, it := range req.Requests {
		id := strings.ToLower(it.ID)
		switch {
		case it.ID == "" || status[id] != 0:
			writeError(w, http.StatusBadRequest, "BadRequest", fmt.Sprintf("Batch request ids must be unique and not empty; %q is not.", it.ID))
			return
		case it.Method == "" || it.URL == "":
			writeError(w, http.StatusBadRequest, "BadRequest", fmt.Sprintf("Request %s has no method or no url; both are required.", it.ID))
			return
		}
		for _, d := range it.DependsOn {
			if status[strings.ToLower(d)] == 0 {
				writeError(w, http.StatusBadRequest, "BadRequest", fmt.Sprintf("Request %s depends on %q, which is not an earlier request of the batch.", it.ID, d))
				return
			}
		}
		status[id] = -1
	}
	handler := s.throttled(s.graph)
	out := make([]batchResponse, 0, len(req.Requests))
	for _, it := range req.Requests {
		resp := s.batchItem(handler, r, it, status)
		status[strings.ToLower(it.ID)] = resp.Status
		out = append(out, resp)
	}
	writeJSON(w, http.StatusOK, map[string]any{"responses": out})
}

// itemError is a batch item's answer carrying Graph's error JSON.
func itemError(id string, status int, code, msg string) batchResponse {
	var e odataError
	e.Error.Code, e.Error.Message = code, msg
	b, err := json.Marshal(e)
	if err != nil {
		panic(fmt.Sprintf("lab: error body does not marshal: %v", err))
	}
	return batchResponse{ID: id, Status: status, Headers: map[string]string{"Content-Type": "application/json"}, Body: b}
}

// batchItemPath returns the path and query of a batch item's url below
// /v1.0, or an error when the url is not one Graph would run: absolute or
// naming a host, not in canonical form ("." or ".." segments, empty ones,
// also when percent-encoded), with an encoded slash or backslash, or a
// nested $batch. The url is relative to the version, with or without its
// leading slash ("/users", "users?$select=id").
func batchItemPath(raw string) (string, string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", "", fmt.Errorf("Invalid request URL %q: %v", raw, err)
	}
	if u.Scheme != "" || u.Host != "" || u.Opaque != "" || strings.HasPrefix(raw, "//") {
		return "", "", fmt.Errorf("Invalid request URL %q: a batch request's url is relative to the version, such as /users.", raw)
	}
	esc := strings.ToLower(u.EscapedPath())
	if strings.Contains(esc, "%2f") || strings.Contains(esc, "%5c") || strings.Contains(u.Path, `\`) {
		return "", "", fmt.Errorf("Invalid request URL %q: encoded slashes are not allowed in a path.", raw)
	}
	p := "/" + strings.TrimPrefix(u.Path, "/")
	if p == "/" || path.Clean(p) != p {
		return "", "", fmt.Errorf("Invalid request URL %q: the path is empty or not in canonical form.", raw)
	}
	// An item's url is relative to the version the batch was sent to
	// ("/me", "/users/{id}" on the json-batching page,
	// https://learn.microsoft.com/en-us/graph/json-batching); Graph reads a
	// version segment in it as a resource and refuses it.
	if first, _, _ := strings.Cut(p[1:], "/"); strings.EqualFold(first, "v1.0") || strings.EqualFold(first, "beta") {
		return "", "", fmt.Errorf("Resource not found for the segment '%s'.", first)
	}
	if first, _, _ := strings.Cut(p[1:], "/"); strings.EqualFold(first, "$batch") {
		return "", "", errors.New("A batch cannot contain another batch.")
	}
	return p, u.RawQuery, nil
}

// batchItem runs one item of a batch against the Graph routes only: the
// item's path is always below /v1.0, so no item reaches the lab's control
// API. A handler that panics fails its item with 500, not the batch.
func (s *Server) batchItem(handler http.Handler, outer *http.Request, it batchRequest, status map[string]int) (resp batchResponse) {
	for _, d := range it.DependsOn {
		if status[strings.ToLower(d)] >= 400 {
			return itemError(it.ID, http.StatusFailedDependency, "FailedDependency", fmt.Sprintf("Request %s depends on request %s, which failed.", it.ID, d))
		}
	}
	p, query, err := batchItemPath(it.URL)
	if err != nil {
		return itemError(it.ID, http.StatusBadRequest, "BadRequest", err.Error())
	}
	if len(it.Body) > 0 && !hasHeader(it.Headers, "Content-Type") {
		return itemError(it.ID, http.StatusBadRequest, "BadRequest",
			fmt.Sprintf("Request %s has a body but no Content-Type header; json-batching requires one.", it.ID))
	}
	target := &url.URL{Path: "/v1.0" + p, RawQuery: query}
	sub, err := http.NewRequestWithContext(outer.Context(), strings.ToUpper(it.Method), target.String(), bytes.NewReader(it.Body))
	if err != nil {
		return itemError(it.ID, http.StatusBadRequest, "BadRequest", "Invalid request: "+err.Error())
	}
	sub.Host, sub.TLS, sub.RemoteAddr = outer.Host, outer.TLS, outer.RemoteAddr
	sub.Header.Set("Authorization", outer.Header.Get("Authorization"))
	for k, v := range it.Headers {
		sub.Header.Set(k, v)
	}
	rec := &recorder{header: http.Header{}}
	defer func() {
		if v := recover(); v != nil {
			s.logPanic(sub, v)
			resp = itemError(it.ID, http.StatusInternalServerError, "generalException", "An unspecified error has occurred.")
		}
	}()
	handler.ServeHTTP(rec, sub)
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	resp = batchResponse{ID: it.ID, Status: rec.status, Headers: map[string]string{}}
	for k := range rec.header {
		resp.Headers[k] = rec.header.Get(k)
	}
	resp.Body = itemBody(rec.body.Bytes())
	return resp
}

// itemBody is a batch item's body as the batch answer carries it: JSON as
// it is, anything else (such as a photo's bytes) as a base64 string, the
// form json-batching gives non-JSON bodies.
func itemBody(b []byte) json.RawMessage {
	if len(b) == 0 {
		return nil
	}
	if json.Valid(b) {
		return b
	}
	enc, err := json.Marshal(base64.StdEncoding.EncodeToString(b))
	if err != nil {
		panic(fmt.Sprintf("lab: a string does not marshal: %v", err))
	}
	return enc
}

func hasHeader(h map[string]string, name string) bool {
	for k := range h {
		if strings.EqualFold(k, name) {
			return true
		}
	}
	return false
}
