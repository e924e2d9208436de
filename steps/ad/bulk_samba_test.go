package ad

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/rebind-dev/rebind/steps"
)

// TestObserveManyOnSamba: the OR filters bulk observation sends are
// answered by a Samba AD DC as by the lab: 25 users named by UPN (in
// chunks of 10 here), by sAMAccountName in upper case and by object_guid,
// plus a UPN nobody holds, observed as Observe observes each.
func TestObserveManyOnSamba(t *testing.T) {
	c := needSamba(t).open(t)
	old := maxOrTerms
	maxOrTerms = 10
	t.Cleanup(func() { maxOrTerms = old })
	var given []map[string]any
	for range 25 {
		u := newUser(t, c, map[string][]string{"mail": {"bulk@corp.example"}})
		given = append(given, map[string]any{"upn": u.upn, "attribute": "mail"})
		given = append(given, map[string]any{"sam_account_name": strings.ToUpper(u.sam), "attribute": "mail"})
	}
	given = append(given, map[string]any{"upn": "nobody-bulk@rebind.test", "attribute": "mail"})
	var calls []steps.Call
	var typ steps.Type
	for _, g := range given {
		var call steps.Call
		typ, call = newCall(t, "ad_attribute", c, g)
		calls = append(calls, call)
	}
	res, err := typ.(steps.BulkObserver).ObserveMany(context.Background(), calls)
	if err != nil {
		t.Fatal(err)
	}
	for i, call := range calls {
		want, werr := typ.Observe(context.Background(), call)
		if werr != nil {
			if !errors.Is(res[i].Err, steps.ErrNotFound) || res[i].Err.Error() != werr.Error() {
				t.Fatalf("%v: bulk %v, alone %v", given[i], res[i].Err, werr)
			}
			continue
		}
		if res[i].Err != nil || res[i].Observation.Object != want.Object || !res[i].Observation.Value.RawEquals(want.Value) {
			t.Fatalf("%v: bulk %#v %v\nalone %#v", given[i], res[i].Observation, res[i].Err, want)
		}
	}
}
