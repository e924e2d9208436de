package ad_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/go-ldap/ldap/v3"
	"github.com/zclconf/go-cty/cty"

	"github.com/rebind-dev/rebind/lab"
	"github.com/rebind-dev/rebind/lab/ldapserver"
	"github.com/rebind-dev/rebind/steps"
	"github.com/rebind-dev/rebind/steps/ad"
)

// countingDirectory counts the searches sent through it.
type countingDirectory struct {
	ad.Directory
	searches atomic.Int64
}

func (c *countingDirectory) Search(r *ldap.SearchRequest) (*ldap.SearchResult, error) {
	c.searches.Add(1)
	return c.Directory.Search(r)
}

func (c *countingDirectory) SearchWithPaging(r *ldap.SearchRequest, n uint32) (*ldap.SearchResult, error) {
	c.searches.Add(1)
	return c.Directory.SearchWithPaging(r, n)
}

// bulkCalls builds one call of step type name per argument set, all
// against dir.
func bulkCalls(t *testing.T, name string, dir ad.Directory, given []map[string]cty.Value) (steps.Type, []steps.Call) {
	t.Helper()
	var calls []steps.Call
	var typ steps.Type
	for i, g := range given {
		r := step(t, name, dir, g)
		r.call.Address = fmt.Sprintf("step.%s.bulk[%d]", name, i)
		typ = r.step()
		calls = append(calls, r.call)
	}
	return typ, calls
}

// TestObserveManyReadsUsersInFewSearches: ad_remote_mailbox and
// ad_attribute observe 2,100 instances of a fan-out over the lab's LDAP
// server with a few paged searches whose filters OR up to 1,000 users
// (upn, sam_account_name and object_guid selectors each in their own),
// and observe exactly what Observe observes of each; an instance whose user
// does not exist, or that names it by dn, is observed on its own, with
// Observe's error.
func TestObserveManyReadsUsersInFewSearches(t *testing.T) {
	tn, err := lab.FromState(lab.State{Generate: []lab.Generator{{Count: 2100, Name: "bulk%05d"}}})
	if err != nil {
		t.Fatal(err)
	}
	d := startLabTenant(t, tn, ldapserver.Options{})
	dir := &countingDirectory{Directory: d.open(t)}
	users, _ := tn.CloudUsers(lab.CloudQuery{})
	var given []map[string]cty.Value
	for i := 0; i < 2000; i++ {
		given = append(given, map[string]cty.Value{"upn": s(fmt.Sprintf("BULK%05d@contoso.com", i)), "alias": s("a"), "routing_domain": s("contoso.mail.onmicrosoft.com")})
	}
	for i := 2000; i < 2098; i++ {
		given = append(given, map[string]cty.Value{"sam_account_name": s(fmt.Sprintf("bulk%05d", i)), "alias": s("a"), "routing_domain": s("contoso.mail.onmicrosoft.com")})
	}
	given = append(given,
		map[string]cty.Value{"upn": s("ghost@contoso.com"), "alias": s("a"), "routing_domain": s("contoso.mail.onmicrosoft.com")},
		map[string]cty.Value{"dn": s("CN=bulk02099,OU=Users," + tn.Config().DomainDN), "alias": s("a"), "routing_domain": s("contoso.mail.onmicrosoft.com")})
	if len(users) != 2100 {
		t.Fatalf("%d users", len(users))
	}
	typ, calls := bulkCalls(t, "ad_remote_mailbox", dir, given)
	bo, ok := typ.(steps.BulkObserver)
	if !ok {
		t.Fatal("ad_remote_mailbox does not observe in bulk")
	}
	res, err := bo.ObserveMany(context.Background(), calls)
	if err != nil {
		t.Fatal(err)
	}
	// 2,001 UPNs (the ghost's the last) in 3 searches, 98 sAMAccountNames
	// in 1, then the ghost, found in none, and the dn on their own.
	if n := dir.searches.Load(); n != 6 {
		t.Fatalf("ObserveMany sent %d searches for %d instances, want 6", n, len(calls))
	}
	// Every observation is of the user its instance names; one in 20 (and
	// the last four, the ghost and the dn among them) is compared whole
	// with Observe's: the lab's LDAP server scans every user for each
	// search, so 2,100 searches alone take minutes.
	objects := map[string]bool{}
	for i, r := range res {
		if r.Err != nil {
			continue
		}
		if objects[r.Observation.Object] {
			t.Fatalf("%s: %s observed twice", calls[i].Address, r.Observation.Object)
		}
		objects[r.Observation.Object] = true
		v := r.Observation.Value
		upn, sam := given[i]["upn"], given[i]["sam_account_name"]
		if (upn != cty.NilVal && !strings.EqualFold(v.GetAttr("upn").AsString(), upn.AsString())) ||
			(sam != cty.NilVal && !strings.EqualFold(v.GetAttr("sam_account_name").AsString(), sam.AsString())) {
			t.Fatalf("%s: observed %s", calls[i].Address, v.GetAttr("dn").AsString())
		}
	}
	if len(objects) != len(calls)-1 {
		t.Fatalf("%d users observed, want %d", len(objects), len(calls)-1)
	}
	dir.searches.Store(0)
	compared := 0
	for i, call := range calls {
		if i%20 != 0 && i < len(calls)-4 {
			continue
		}
		compared++
		want, werr := typ.Observe(context.Background(), call)
		got := res[i]
		if (werr == nil) != (got.Err == nil) || (werr != nil && werr.Error() != got.Err.Error()) {
			t.Fatalf("%s: bulk error %v, alone %v", call.Address, got.Err, werr)
		}
		if werr != nil {
			if !errors.Is(got.Err, steps.ErrNotFound) {
				t.Fatalf("%s: %v", call.Address, got.Err)
			}
			continue
		}
		if got.Observation.Object != want.Object || !got.Observation.Value.RawEquals(want.Value) {
			t.Fatalf("%s: bulk %s %#v\nalone %s %#v", call.Address, got.Observation.Object, got.Observation.Value, want.Object, want.Value)
		}
	}
	if n := dir.searches.Load(); n != int64(compared) {
		t.Fatalf("observing alone sent %d searches for %d instances", n, compared)
	}

	// ad_attribute by object_guid: any object, one search.
	var byGUID []map[string]cty.Value
	for i := 0; i < 50; i++ {
		v := res[i].Observation.Value
		byGUID = append(byGUID, map[string]cty.Value{"object_guid": v.GetAttr("object_guid"), "attribute": s("mail")})
	}
	typ, calls = bulkCalls(t, "ad_attribute", dir, byGUID)
	dir.searches.Store(0)
	res, err = typ.(steps.BulkObserver).ObserveMany(context.Background(), calls)
	if err != nil {
		t.Fatal(err)
	}
	if n := dir.searches.Load(); n != 1 {
		t.Fatalf("ad_attribute: %d searches for 50 instances, want 1", n)
	}
	for i, call := range calls {
		want, err := typ.Observe(context.Background(), call)
		if err != nil || res[i].Err != nil || !res[i].Observation.Value.RawEquals(want.Value) || res[i].Observation.Object != want.Object {
			t.Fatalf("%s: bulk %#v %v, alone %#v %v", call.Address, res[i].Observation, res[i].Err, want, err)
		}
	}
}
