package replay

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"regexp"
	"sort"
	"strings"
)

// Incoming is a request as a client sent it, relative to the server's root.
type Incoming struct {
	Method string
	// Path is the decoded path, e.g. /v1.0/users/87d3...
	Path   string
	Query  url.Values
	Header http.Header
	Body   []byte
}

func (in Incoming) String() string {
	s := in.Method + " " + in.Path
	if len(in.Query) > 0 {
		s += "?" + decodedQuery(in.Query)
	}
	return s
}

// decodedQuery renders a query readably, keys sorted.
func decodedQuery(q url.Values) string {
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		for _, v := range q[k] {
			parts = append(parts, k+"="+v)
		}
	}
	return strings.Join(parts, "&")
}

// semanticHeaders change what Graph answers; a request carrying one the
// example does not show does not match it. Every other header (the
// client's User-Agent, request ids, Accept-Encoding, the token) is
// transport and is not compared.
var semanticHeaders = []string{"ConsistencyLevel", "Prefer", "If-Match"}

// ignoredDocHeaders are headers a page's example shows that say nothing
// about the request's meaning (the token, the length of the page's body,
// the Accept every client sends).
var ignoredDocHeaders = map[string]bool{"Authorization": true, "Content-Length": true, "Accept": true, "Content-Type": true}

// Match reports why in does not match e's documented request, "" when it
// does. schema, when not nil, checks $select names against e.Type.
func (e *Exchange) Match(in Incoming, schema *Schema) string {
	if e.Batch {
		return e.matchBatchEnvelope(in)
	}
	if !strings.EqualFold(in.Method, e.Request.Method) {
		return fmt.Sprintf("method %s, the example's is %s", in.Method, e.Request.Method)
	}
	bound, why := matchPath(e.Request.Path, strings.TrimSuffix(in.Path, "/"))
	if why != "" {
		return why
	}
	if why := e.matchQuery(in, schema); why != "" {
		return why
	}
	if why := e.matchHeaders(in, bound); why != "" {
		return why
	}
	return e.matchBody(in)
}

// matchPath compares paths segment by segment; a segment written {name}
// in the example stands for one identifier and is bound to it.
func matchPath(doc, got string) (map[string]string, string) {
	ds := strings.Split(strings.TrimPrefix(doc, "/"), "/")
	gs := strings.Split(strings.TrimPrefix(got, "/"), "/")
	if len(ds) != len(gs) {
		return nil, fmt.Sprintf("path %s has %d segments, the example's %s has %d", got, len(gs), doc, len(ds))
	}
	bound := map[string]string{}
	for i := range ds {
		if isPlaceholder(ds[i]) {
			if gs[i] == "" {
				return nil, fmt.Sprintf("path %s: segment %d is empty where the example has %s", got, i+1, ds[i])
			}
			bound[ds[i]] = gs[i]
			continue
		}
		if qualified(ds[i]) != qualified(gs[i]) {
			return nil, fmt.Sprintf("path %s: segment %q, the example's %s has %q", got, gs[i], doc, ds[i])
		}
	}
	return bound, ""
}

// qualified writes a type-cast segment with the namespace the v1.0 schema
// aliases: its <Schema Namespace="microsoft.graph" Alias="graph">, so that
// graph.user (what msgraph-sdk-go sends) and microsoft.graph.user (what the
// pages write) name the same type, as OData's alias rule says.
func qualified(seg string) string {
	if rest, ok := strings.CutPrefix(seg, "graph."); ok {
		return "microsoft.graph." + rest
	}
	return seg
}

func isPlaceholder(s string) bool {
	return strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}") && len(s) > 2
}

// matchQuery applies the query rules: every option the example shows must
// be sent with the same meaning; an option the example does not show must
// be one the page says the method supports; $select must name properties
// of the answer's type; and an advanced query must carry what the pages
// require of it.
func (e *Exchange) matchQuery(in Incoming, schema *Schema) string {
	for k, dv := range e.Request.Query {
		gv, ok := lookupFold(in.Query, k)
		if !ok {
			return fmt.Sprintf("query option %s=%s of the example is missing", k, strings.Join(dv, ","))
		}
		if !sameOption(k, dv, gv) {
			return fmt.Sprintf("query option %s=%s, the example has %s", k, strings.Join(gv, ","), strings.Join(dv, ","))
		}
	}
	for k := range in.Query {
		if _, ok := lookupFold(e.Request.Query, k); ok {
			continue
		}
		if !containsFold(e.QueryOptions, k) {
			return fmt.Sprintf("query option %s: the page documents only %v for this method", k, e.QueryOptions)
		}
	}
	if sel, ok := lookupFold(in.Query, "$select"); ok && schema != nil && e.Type != "" {
		for _, name := range splitList(strings.Join(sel, ",")) {
			if !schema.HasProperty(e.Type, name) {
				return fmt.Sprintf("$select names %s, which %s does not have in the v1.0 schema", name, e.Type)
			}
		}
	}
	return advancedQuery(in)
}

// endsWith finds the endsWith operator in a $filter.
var endsWith = regexp.MustCompile(`(?i)\bendswith\s*\(`)

// advancedQuery checks the rule of the List users and List deletedItems
// pages: "This request requires the ConsistencyLevel header set to
// eventual and the $count=true query string because the request has both
// the $orderby and $filter query parameters, and also uses the endsWith
// operator" (user-list, Example 5), and "This header and $count are
// required when using $search" (user-list, Request headers).
func advancedQuery(in Incoming) string {
	filter, hasFilter := lookupFold(in.Query, "$filter")
	_, hasOrder := lookupFold(in.Query, "$orderby")
	_, hasSearch := lookupFold(in.Query, "$search")
	advanced := hasSearch || (hasFilter && hasOrder) || (hasFilter && endsWith.MatchString(strings.Join(filter, " ")))
	count, hasCount := lookupFold(in.Query, "$count")
	eventual := strings.EqualFold(in.Header.Get("ConsistencyLevel"), "eventual")
	if advanced && (!eventual || !hasCount || !strings.EqualFold(strings.Join(count, ""), "true")) {
		return "an advanced query ($search, $filter with $orderby, or endsWith) needs ConsistencyLevel: eventual and $count=true"
	}
	return ""
}

func (e *Exchange) matchHeaders(in Incoming, bound map[string]string) string {
	for k, dv := range e.Request.Header {
		if ignoredDocHeaders[http.CanonicalHeaderKey(k)] {
			continue
		}
		want := dv[0]
		for ph, v := range bound {
			want = strings.ReplaceAll(want, ph, v)
		}
		if got := in.Header.Get(k); got != want {
			return fmt.Sprintf("header %s: %q, the example sends %q", k, got, want)
		}
	}
	for _, k := range semanticHeaders {
		if in.Header.Get(k) == "" || e.Request.Header.Get(k) != "" {
			continue
		}
		// "This header and $count are required when using $search, or in
		// specific usage of $filter" (user-list): ConsistencyLevel goes
		// with $count, where the page documents $count.
		if k == "ConsistencyLevel" && containsFold(e.QueryOptions, "$count") {
			if _, ok := lookupFold(in.Query, "$count"); ok {
				continue
			}
		}
		return fmt.Sprintf("header %s: %s, which the example does not send", k, in.Header.Get(k))
	}
	if len(e.Request.Body) > 0 && !strings.HasPrefix(strings.ToLower(in.Header.Get("Content-Type")), "application/json") {
		return fmt.Sprintf("Content-Type %q, the example sends a JSON body", in.Header.Get("Content-Type"))
	}
	return ""
}

func (e *Exchange) matchBody(in Incoming) string {
	got := bytes.TrimSpace(in.Body)
	switch {
	case e.BodyMatch == "cmdlet":
		return matchCmdlet(e.Request.Body, got)
	case len(e.BodyProperties) > 0:
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(got, &obj); err != nil || len(obj) == 0 {
			return fmt.Sprintf("body %q is not a JSON object with properties", got)
		}
		for k, v := range obj {
			if k == "@odata.type" {
				// Control information, not a property (OData JSON
				// format): it may name the type the page updates.
				var ot string
				_ = json.Unmarshal(v, &ot)
				if e.Type == "" || qualified(strings.TrimPrefix(ot, "#")) != "microsoft."+e.Type {
					return fmt.Sprintf("body @odata.type %s is not the page's type %s", ot, e.Type)
				}
				continue
			}
			if !contains(e.BodyProperties, k) {
				return fmt.Sprintf("body property %s is not in the page's request body table %v", k, e.BodyProperties)
			}
		}
		return ""
	case len(e.Request.Body) > 0:
		var a, b any
		if json.Unmarshal(e.Request.Body, &a) != nil || json.Unmarshal(got, &b) != nil || !reflect.DeepEqual(a, b) {
			return fmt.Sprintf("body %s differs from the example's %s", compact(got), compact(e.Request.Body))
		}
		return ""
	case len(got) > 0:
		return fmt.Sprintf("body %s: the page says to supply no request body", compact(got))
	}
	return ""
}

// matchCmdlet compares InvokeCommand bodies by their cmdlet: the body must
// be {"CmdletInput":{"CmdletName":name,"Parameters":{...}}} and nothing else.
func matchCmdlet(doc, got []byte) string {
	type input struct {
		CmdletInput map[string]json.RawMessage `json:"CmdletInput"`
	}
	var d, g input
	_ = json.Unmarshal(doc, &d)
	var top map[string]json.RawMessage
	if json.Unmarshal(got, &top) != nil || json.Unmarshal(got, &g) != nil || len(top) != 1 || g.CmdletInput == nil {
		return fmt.Sprintf("body %s is not {\"CmdletInput\":{...}}", compact(got))
	}
	for k := range g.CmdletInput {
		if k != "CmdletName" && k != "Parameters" {
			return fmt.Sprintf("CmdletInput has %s; the clients send only CmdletName and Parameters", k)
		}
	}
	var dn, gn string
	_ = json.Unmarshal(d.CmdletInput["CmdletName"], &dn)
	if json.Unmarshal(g.CmdletInput["CmdletName"], &gn) != nil || gn != dn {
		return fmt.Sprintf("cmdlet %s, the example runs %s", gn, dn)
	}
	var params map[string]any
	if p, ok := g.CmdletInput["Parameters"]; ok && json.Unmarshal(p, &params) != nil {
		return fmt.Sprintf("Parameters %s is not a JSON object", p)
	}
	return ""
}

// matchBatchEnvelope checks the $batch request itself; its items are
// matched one by one when the batch is served.
func (e *Exchange) matchBatchEnvelope(in Incoming) string {
	if in.Method != http.MethodPost {
		return "a batch is POST"
	}
	if _, why := matchPath(e.Request.Path, in.Path); why != "" {
		return why
	}
	if len(in.Query) > 0 {
		return "a batch takes no query options"
	}
	_, why := parseBatch(in.Body)
	return why
}

// batchItem is one request of a JSON batch.
type batchItem struct {
	ID      string            `json:"id"`
	Method  string            `json:"method"`
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers"`
	Body    json.RawMessage   `json:"body"`
}

// parseBatch checks a batch against the rules of the JSON batching page:
// "JSON batch requests are currently limited to 20 individual requests";
// id is required and "Must be unique in the batch"; url is "The relative
// resource URL"; headers are "Optional but required when the body is
// specified ... a Content-Type header must be included".
func parseBatch(body []byte) ([]batchItem, string) {
	var b struct {
		Requests []batchItem `json:"requests"`
	}
	if err := json.Unmarshal(body, &b); err != nil {
		return nil, fmt.Sprintf("batch body is not {\"requests\":[...]}: %v", err)
	}
	if len(b.Requests) == 0 || len(b.Requests) > 20 {
		return nil, fmt.Sprintf("batch of %d requests; the page allows 1 to 20", len(b.Requests))
	}
	ids := map[string]bool{}
	for i, r := range b.Requests {
		where := fmt.Sprintf("batch request %d", i+1)
		switch {
		case r.ID == "":
			return nil, where + ": no id"
		case ids[strings.ToLower(r.ID)]:
			return nil, where + ": id " + r.ID + " is not unique"
		case r.Method == "":
			return nil, where + ": no method"
		case strings.Contains(r.URL, "://") || strings.HasPrefix(r.URL, "/v1.0/") || strings.HasPrefix(r.URL, "/beta/"):
			return nil, where + ": url " + r.URL + " is not relative to the version"
		}
		ids[strings.ToLower(r.ID)] = true
		if len(bytes.TrimSpace(r.Body)) > 0 {
			ct := ""
			for k, v := range r.Headers {
				if http.CanonicalHeaderKey(k) == "Content-Type" {
					ct = v
				}
			}
			if ct == "" {
				return nil, where + ": a body without a Content-Type header"
			}
		}
	}
	return b.Requests, ""
}

// incoming turns a batch item into the request it stands for.
func (it batchItem) incoming(version string) (Incoming, error) {
	u, err := url.Parse("/" + version + "/" + strings.TrimPrefix(it.URL, "/"))
	if err != nil {
		return Incoming{}, err
	}
	h := http.Header{}
	for k, v := range it.Headers {
		h.Set(k, v)
	}
	return Incoming{Method: strings.ToUpper(it.Method), Path: u.Path, Query: u.Query(), Header: h, Body: it.Body}, nil
}

// sameOption compares a query option's values by meaning: $select as a set
// of names, everything else as text without surrounding space.
func sameOption(key string, a, b []string) bool {
	if strings.EqualFold(key, "$select") {
		as, bs := lowerSet(splitList(strings.Join(a, ","))), lowerSet(splitList(strings.Join(b, ",")))
		return reflect.DeepEqual(as, bs)
	}
	return strings.TrimSpace(strings.Join(a, ",")) == strings.TrimSpace(strings.Join(b, ","))
}

func lowerSet(l []string) map[string]bool {
	m := map[string]bool{}
	for _, s := range l {
		m[strings.ToLower(s)] = true
	}
	return m
}

// lookupFold finds a query option by name without regard to case: the
// pages write $orderby and $orderBy.
func lookupFold(q url.Values, key string) ([]string, bool) {
	for k, v := range q {
		if strings.EqualFold(k, key) {
			return v, true
		}
	}
	return nil, false
}

func containsFold(l []string, s string) bool {
	for _, x := range l {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

func compact(b []byte) string {
	var buf bytes.Buffer
	if json.Compact(&buf, b) != nil {
		return string(b)
	}
	return buf.String()
}
