package replay

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// incomingOf is the exchange's own request as a client would send it,
// placeholders filled in.
func incomingOf(e *Exchange) Incoming {
	path := e.Request.Path
	for _, seg := range strings.Split(path, "/") {
		if isPlaceholder(seg) {
			path = strings.Replace(path, seg, "x-"+strings.Trim(seg, "{}"), 1)
		}
	}
	h := http.Header{}
	for k, v := range e.Request.Header {
		h[k] = v
	}
	if a := h.Get("X-AnchorMailbox"); a != "" {
		h.Set("X-AnchorMailbox", strings.ReplaceAll(a, "{organization}", "x-organization"))
	}
	if len(e.Request.Body) > 0 {
		h.Set("Content-Type", "application/json")
	}
	return Incoming{Method: e.Request.Method, Path: path, Query: e.Request.Query, Header: h, Body: e.Request.Body}
}

// TestEveryExchangeParsesAndMatchesItself reads the whole folder: every
// file cites its page and source, and every documented request matches its
// own exchange (else the matcher, not the client, would be wrong). For the
// batch example that is its envelope: its items are Graph calls no
// exchange here documents (/me/memberOf...), matched only when served.
func TestEveryExchangeParsesAndMatchesItself(t *testing.T) {
	all, err := LoadAll(Dir())
	if err != nil {
		t.Fatal(err)
	}
	if len(all) < 20 {
		t.Fatalf("only %d exchanges in %s", len(all), Dir())
	}
	schema := TestSchema(t)
	for _, e := range all {
		if e.Type != "" && schema != nil && !schema.Has(e.Type) {
			t.Errorf("%s: type %s is not in the v1.0 schema", e.File, e.Type)
		}
		if why := e.Match(incomingOf(e), schema); why != "" {
			t.Errorf("%s: its own request does not match: %s", e.File, why)
		}
	}
}

func mustExchange(t *testing.T, name string) *Exchange {
	t.Helper()
	return MustLoad(t, name)[0]
}

func TestMatcherRules(t *testing.T) {
	schema := TestSchema(t)
	get := mustExchange(t, "user-get-1")
	list := mustExchange(t, "user-list-1")
	patch := mustExchange(t, "user-update-2")
	restore := mustExchange(t, "directory-deleteditems-restore")
	cmdlet := mustExchange(t, "invokecommand")
	q := func(s string) url.Values { v, _ := url.ParseQuery(s); return v }
	h := func(kv ...string) http.Header {
		x := http.Header{}
		for i := 0; i+1 < len(kv); i += 2 {
			x.Set(kv[i], kv[i+1])
		}
		return x
	}
	id := "/v1.0/users/87d349ed-44d7-43e1-9a83-5f2406dee5bd"
	cases := []struct {
		name string
		e    *Exchange
		in   Incoming
		want string // "" matches; else a part of the reason
	}{
		{"documented $select is tolerated", get, Incoming{Method: "GET", Path: id, Query: q("$select=id,onPremisesImmutableId")}, ""},
		{"another user id is another request", get, Incoming{Method: "GET", Path: "/v1.0/users/someone-else"}, "segment"},
		{"an option the page does not document", get, Incoming{Method: "GET", Path: id, Query: q("$top=5")}, "documents only"},
		{"a misspelt $select name", get, Incoming{Method: "GET", Path: id, Query: q("$select=onPremisesImmutableID2")}, "does not have"},
		{"endsWith without ConsistencyLevel", list, Incoming{Method: "GET", Path: "/v1.0/users", Query: q("$filter=endswith(mail,'a@contoso.com')")}, "advanced query"},
		{"endsWith with ConsistencyLevel and $count", list, Incoming{Method: "GET", Path: "/v1.0/users",
			Query: q("$filter=endswith(mail,'a@contoso.com')&$count=true"), Header: h("ConsistencyLevel", "eventual")}, ""},
		{"ConsistencyLevel without $count", list, Incoming{Method: "GET", Path: "/v1.0/users", Header: h("ConsistencyLevel", "eventual")}, "does not send"},
		{"PATCH of a documented property", patch, Incoming{Method: "PATCH", Path: "/v1.0/users/u1", Header: h("Content-Type", "application/json"),
			Body: []byte(`{"onPremisesImmutableId":null}`)}, ""},
		{"PATCH of a property the table does not list", patch, Incoming{Method: "PATCH", Path: "/v1.0/users/u1", Header: h("Content-Type", "application/json"),
			Body: []byte(`{"onPremisesSyncEnabled":false}`)}, "request body table"},
		{"@odata.type naming the page's type is control information", patch, Incoming{Method: "PATCH", Path: "/v1.0/users/u1", Header: h("Content-Type", "application/json"),
			Body: []byte(`{"@odata.type":"#microsoft.graph.user","onPremisesImmutableId":"x"}`)}, ""},
		{"@odata.type naming another type", patch, Incoming{Method: "PATCH", Path: "/v1.0/users/u1", Header: h("Content-Type", "application/json"),
			Body: []byte(`{"@odata.type":"#microsoft.graph.group","onPremisesImmutableId":"x"}`)}, "not the page's type"},
		{"the schema's graph alias names the same cast", mustExchange(t, "directory-deleteditems-list-1"),
			Incoming{Method: "GET", Path: "/v1.0/directory/deletedItems/graph.group"}, ""},
		{"a body where the page says none", restore, Incoming{Method: "POST", Path: "/v1.0/directory/deletedItems/x/restore", Header: h("Content-Type", "application/json"),
			Body: []byte(`{"autoReconcileProxyConflict":true}`)}, "no request body"},
		{"the beta example does not answer v1.0", mustExchange(t, "directory-deleteditems-restore-beta-autoreconcile"),
			Incoming{Method: "POST", Path: "/v1.0/directory/deleteditems/78bf875b-9343-4edc-9130-0d3958113563/restore"}, "segment"},
		{"another cmdlet", cmdlet, Incoming{Method: "POST", Path: "/adminapi/beta/contoso.com/InvokeCommand",
			Header: h("Content-Type", "application/json", "X-AnchorMailbox", "UPN:SystemMailbox{bb558c35-97f1-4cb9-8ff7-d53741dc928c}@contoso.com"),
			Body:   []byte(`{"CmdletInput":{"CmdletName":"Get-Recipient","Parameters":{}}}`)}, "cmdlet Get-Recipient"},
		{"an anchor mailbox of another organization", cmdlet, Incoming{Method: "POST", Path: "/adminapi/beta/contoso.com/InvokeCommand",
			Header: h("Content-Type", "application/json", "X-AnchorMailbox", "UPN:SystemMailbox{bb558c35-97f1-4cb9-8ff7-d53741dc928c}@fabrikam.com"),
			Body:   []byte(`{"CmdletInput":{"CmdletName":"Get-Mailbox","Parameters":{"Identity":"a"}}}`)}, "X-Anchormailbox"},
	}
	for _, c := range cases {
		if c.in.Header == nil {
			c.in.Header = http.Header{}
		}
		got := c.e.Match(c.in, schema)
		if (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
			t.Errorf("%s: Match = %q, want %q", c.name, got, c.want)
		}
	}
}

func TestBatchRules(t *testing.T) {
	b := mustExchange(t, "json-batching")
	in := func(body string) Incoming {
		return Incoming{Method: "POST", Path: "/v1.0/$batch", Header: http.Header{"Content-Type": {"application/json"}}, Body: []byte(body)}
	}
	many := `{"requests":[` + strings.TrimSuffix(strings.Repeat(`{"id":"x","method":"GET","url":"/users"},`, 21), ",") + `]}`
	for body, want := range map[string]string{
		`{"requests":[{"id":"1","method":"PATCH","url":"/users/a","headers":{"Content-Type":"application/json"},"body":{}}]}`: "",
		`{"requests":[{"id":"1","method":"PATCH","url":"/users/a","body":{}}]}`:                                               "Content-Type",
		`{"requests":[{"id":"1","method":"GET","url":"/v1.0/users/a"}]}`:                                                      "not relative",
		`{"requests":[{"id":"1","method":"GET","url":"/users"},{"id":"1","method":"GET","url":"/users"}]}`:                    "not unique",
		many: "1 to 20",
	} {
		got := b.Match(in(body), nil)
		if (want == "") != (got == "") || !strings.Contains(got, want) {
			t.Errorf("batch %.60s: Match = %q, want %q", body, got, want)
		}
	}
}

func TestParseErrorsNameTheLine(t *testing.T) {
	for src, want := range map[string]string{
		"page: p\nsource: s\nbogus line\n-- request --\nGET https://x/v1.0/a\n-- response --\nHTTP/1.1 204 No Content\n":  "x.txtar:3",
		"page: p\nsource: s\ncolour: red\n-- request --\nGET https://x/v1.0/a\n-- response --\nHTTP/1.1 204 No Content\n": "unknown header key",
		"source: s\n-- request --\nGET https://x/v1.0/a\n-- response --\nHTTP/1.1 204 No Content\n":                       "must cite the page",
		"page: p\nsource: s\n-- request --\nGET /v1.0/a\n-- response --\nHTTP/1.1 204 No Content\n":                       "not an absolute URL",
		"page: p\nsource: s\n-- request --\nGET https://x/v1.0/a\n-- response --\nHTTP/1.1 200 OK\n\n{not json\n":         "not JSON",
	} {
		_, err := Parse("x.txtar", []byte(src))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse(%q) = %v, want an error with %q", src, err, want)
		}
	}
}
