package lab

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
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

// batch serves POST /$batch: at most 20 requests, run in order; an item
// whose dependsOn names a failed item gets 424; each item is throttled on
// its own and can be 429 while the others succeed.
func (s *Server) batch(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Requests []batchRequest `json:"requests"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "BadRequest", "Invalid batch payload format: "+err.Error())
		return
	}
	if len(req.Requests) == 0 || len(req.Requests) > maxBatch {
		writeError(w, http.StatusBadRequest, "BadRequest", fmt.Sprintf("A batch holds 1 to %d requests; this one has %d.", maxBatch, len(req.Requests)))
		return
	}
	status := map[string]int{}
	for _, it := range req.Requests {
		if it.ID == "" || status[it.ID] != 0 {
			writeError(w, http.StatusBadRequest, "BadRequest", fmt.Sprintf("Batch request ids must be unique and not empty; %q is not.", it.ID))
			return
		}
		for _, d := range it.DependsOn {
			if status[d] == 0 {
				writeError(w, http.StatusBadRequest, "BadRequest", fmt.Sprintf("Request %s depends on %q, which is not an earlier request of the batch.", it.ID, d))
				return
			}
		}
		status[it.ID] = -1
	}
	handler := s.throttled(s.graph)
	out := make([]batchResponse, 0, len(req.Requests))
	for _, it := range req.Requests {
		resp := s.batchItem(handler, r, it, status)
		status[it.ID] = resp.Status
		out = append(out, resp)
	}
	writeJSON(w, http.StatusOK, map[string]any{"responses": out})
}

// batchItem runs one item of a batch.
func (s *Server) batchItem(handler http.Handler, outer *http.Request, it batchRequest, status map[string]int) batchResponse {
	failed := func(code int, errCode, msg string) batchResponse {
		var e odataError
		e.Error.Code, e.Error.Message = errCode, msg
		b, _ := json.Marshal(e)
		return batchResponse{ID: it.ID, Status: code, Headers: map[string]string{"Content-Type": "application/json"}, Body: b}
	}
	for _, d := range it.DependsOn {
		if status[d] >= 400 {
			return failed(http.StatusFailedDependency, "FailedDependency", fmt.Sprintf("Request %s depends on request %s, which failed.", it.ID, d))
		}
	}
	// Items name a URL relative to the version ("/users/x"); some clients
	// send it absolute or with the version, which is accepted as well.
	rel := it.URL
	if abs, err := url.Parse(rel); err == nil && abs.IsAbs() {
		rel = abs.RequestURI()
	}
	rel = strings.TrimPrefix(strings.TrimPrefix(rel, "/"), "v1.0/")
	u := "/v1.0/" + rel
	if strings.HasPrefix(rel, "$batch") {
		return failed(http.StatusBadRequest, "BadRequest", "A batch cannot contain another batch.")
	}
	sub, err := http.NewRequestWithContext(outer.Context(), strings.ToUpper(it.Method), u, bytes.NewReader(it.Body))
	if err != nil {
		return failed(http.StatusBadRequest, "BadRequest", "Invalid request URL: "+err.Error())
	}
	sub.Host, sub.TLS = outer.Host, outer.TLS
	sub.Header.Set("Authorization", outer.Header.Get("Authorization"))
	for k, v := range it.Headers {
		sub.Header.Set(k, v)
	}
	rec := &recorder{header: http.Header{}}
	handler.ServeHTTP(rec, sub)
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	resp := batchResponse{ID: it.ID, Status: rec.status, Headers: map[string]string{}}
	for k := range rec.header {
		resp.Headers[k] = rec.header.Get(k)
	}
	if rec.body.Len() > 0 {
		resp.Body = rec.body.Bytes()
	}
	return resp
}
