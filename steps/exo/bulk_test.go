package exo

import (
	"context"
	"net/http"
	"reflect"
	"sync/atomic"
	"testing"

	"github.com/rebind-dev/rebind/lab"
	"github.com/rebind-dev/rebind/steps"
)

// countingTransport counts the requests a client sends.
type countingTransport struct {
	next http.RoundTripper
	n    atomic.Int64
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return c.next.RoundTrip(r)
}

// counted makes c count its requests.
func counted(c *Client) *countingTransport {
	hc := *c.HTTP
	ct := &countingTransport{next: hc.Transport}
	if ct.next == nil {
		ct.next = http.DefaultTransport
	}
	hc.Transport = ct
	c.HTTP = &hc
	return ct
}

// identities are every way a fan-out may name the recipients of tn: each
// one's UPN, ExchangeGuid (upper case), ArchiveGuid, ExchangeObjectId and
// user object id, and names that are not there or that are not GUIDs or
// addresses, which bulk reads leave to Observe.
func identities(tn *lab.Tenant) []string {
	ids := []string{"nobody@contoso.com", "00000000-0000-0000-0000-00000000abcd", "not an address"}
	for _, r := range tn.Recipients(lab.RecipientQuery{IncludeSoftDeleted: true}) {
		ids = append(ids, r.UserPrincipalName, r.ExchangeObjectID, r.Alias)
		if !r.ExchangeGUID.IsZero() {
			ids = append(ids, upper(r.ExchangeGUID.String()))
		}
		if !r.ArchiveGUID.IsZero() {
			ids = append(ids, r.ArchiveGUID.String())
		}
		if r.ExternalDirectoryObjectID != "" {
			ids = append(ids, r.ExternalDirectoryObjectID)
		}
	}
	return ids
}

func upper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'f' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}

// TestObserveManyAsObserve holds the bulk reads of exo_hold,
// exo_delay_hold and exo_recipient_purge to what Observe reads of each
// instance alone, observation and error, on the scenarios with soft-deleted,
// inactive and held recipients, both by a listing (a fan-out larger than the
// filters' cost) and by -Filter (filterChunk large enough for one filter),
// and checks that they spent fewer requests than one per instance.
func TestObserveManyAsObserve(t *testing.T) {
	for _, scenario := range []string{"exchange-guid-in-use", "healthy"} {
		tn, _, c := labExchange(t, scenario)
		ct := counted(c)
		ids := identities(tn)
		for _, tc := range []struct {
			name  string
			given func(id string) map[string]any
		}{
			{"exo_hold", func(id string) map[string]any { return map[string]any{"identity": id, "enabled": true} }},
			{"exo_delay_hold", func(id string) map[string]any { return map[string]any{"identity": id} }},
			{"exo_recipient_purge", func(id string) map[string]any { return map[string]any{"identity": id} }},
		} {
			for _, mode := range []struct {
				chunk    int
				guidOnly bool
			}{{2, false}, {1000, true}} {
				// filterChunk 2: the filters would cost more than the
				// one page that lists the scenario, which is read
				// instead. 1000 and only GUIDs: one -Filter.
				chunk := mode.chunk
				filterChunk = chunk
				var calls []steps.Call
				var typ steps.Type
				for _, id := range ids {
					if mode.guidOnly && bulkKind(id) != "guid" {
						continue
					}
					var call steps.Call
					typ, call = newCall(t, tc.name, c, tc.given(id))
					call.Address = tc.name + "[" + id + "]"
					calls = append(calls, call)
				}
				bo, ok := typ.(steps.BulkObserver)
				if !ok {
					t.Fatalf("%s does not observe in bulk", tc.name)
				}
				before := ct.n.Load()
				res, err := bo.ObserveMany(context.Background(), calls)
				if err != nil {
					t.Fatalf("%s %s: %v", scenario, tc.name, err)
				}
				bulk := ct.n.Load() - before
				before = ct.n.Load()
				bulkFound := 0
				for i, call := range calls {
					obs, err := typ.Observe(context.Background(), call)
					if (err == nil) != (res[i].Err == nil) || err != nil && err.Error() != res[i].Err.Error() {
						t.Fatalf("%s %s %s: bulk error %v, alone %v", scenario, tc.name, call.Address, res[i].Err, err)
					}
					if err == nil && (obs.Object != res[i].Observation.Object || !obs.Value.RawEquals(res[i].Observation.Value)) {
						t.Fatalf("%s %s %s:\nbulk  %s %#v\nalone %s %#v", scenario, tc.name, call.Address,
							res[i].Observation.Object, res[i].Observation.Value, obs.Object, obs.Value)
					}
					if err == nil {
						bulkFound++
					}
				}
				alone := ct.n.Load() - before
				t.Logf("%s %s (filterChunk %d): %d instances, %d found: %d requests in bulk, %d alone", scenario, tc.name, chunk, len(calls), bulkFound, bulk, alone)
				if bulk*2 > alone {
					t.Errorf("%s %s (filterChunk %d): %d requests in bulk against %d alone", scenario, tc.name, chunk, bulk, alone)
				}
			}
		}
	}
	filterChunk = 50
}

// TestBulkReadFilters checks what a bulk read sends: -Filter criteria
// chained with -or in chunks, no UserPrincipalName on Get-Recipient (not
// filterable there), quotation marks doubled, and a listing cut short
// when it costs more than the filters.
func TestBulkReadFilters(t *testing.T) {
	if got := criteria("Get-Recipient", "o'brien@contoso.com"); got != nil {
		t.Fatalf("Get-Recipient address criteria: %v", got)
	}
	if got := criteria("Get-Mailbox", "o'brien@contoso.com"); !reflect.DeepEqual(got, []string{
		"UserPrincipalName -eq 'o''brien@contoso.com'", "EmailAddresses -eq 'o''brien@contoso.com'"}) {
		t.Fatalf("Get-Mailbox address criteria: %v", got)
	}
	if got := criteria("Get-Mailbox", "alias-only"); got != nil {
		t.Fatalf("alias criteria: %v", got)
	}
	tn, _, c := labExchange(t, "healthy")
	ct := counted(c)
	var ids []string
	for _, r := range tn.Recipients(lab.RecipientQuery{}) {
		ids = append(ids, r.ExchangeGUID.String())
	}
	filterChunk = 5
	defer func() { filterChunk = 50 }()
	found, err := c.readBulk(context.Background(), "Get-Mailbox", map[string]any{"IncludeInactiveMailbox": true}, ids[:10])
	if err != nil {
		t.Fatal(err)
	}
	// Two filters cost less than... the listing is allowed one page, which
	// holds the 25 mailboxes: one request.
	if n := ct.n.Load(); n != 1 || len(found) == 0 {
		t.Fatalf("%d requests, %d keys", n, len(found))
	}
	for _, id := range ids[:10] {
		if len(found[matchKey(id)]) != 1 {
			t.Fatalf("%s: %d found", id, len(found[matchKey(id)]))
		}
	}
	ct.n.Store(0)
	found, err = c.readBulk(context.Background(), "Get-Mailbox", nil, ids[:4])
	if err != nil {
		t.Fatal(err)
	}
	// One filter: no listing.
	if n := ct.n.Load(); n != 1 || len(found[matchKey(ids[3])]) != 1 || len(found[matchKey(ids[5])]) != 0 {
		t.Fatalf("%d requests; %v", n, found)
	}
}

// TestBulkReadAddsOnce: a recipient two chunks' filters both return (its
// ExchangeGuid named in one, its ArchiveGuid in the other) is one
// recipient, as Get-Recipient -Identity returns it once.
func TestBulkReadAddsOnce(t *testing.T) {
	tn, _, _ := labExchange(t, "archive-guid-mismatch")
	var r recipient
	for _, x := range tn.Recipients(lab.RecipientQuery{IncludeSoftDeleted: true}) {
		if !x.ArchiveGUID.IsZero() && !x.ExchangeGUID.IsZero() {
			r = recipient{ExchangeObjectID: x.ExchangeObjectID, ExchangeGUID: x.ExchangeGUID.String(), ArchiveGUID: x.ArchiveGUID.String()}
			break
		}
	}
	if r.ExchangeObjectID == "" {
		t.Fatal("archive-guid-mismatch has no recipient with an archive")
	}
	found := bulkRead{}
	found.add(r) // from the filter naming its ExchangeGuid
	found.add(r) // from the filter naming its ArchiveGuid
	for _, id := range []string{r.ExchangeGUID, r.ArchiveGUID} {
		if n := len(found[matchKey(id)]); n != 1 {
			t.Fatalf("%s: %d recipients, want 1", id, n)
		}
	}
}
