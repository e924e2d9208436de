package steps

import (
	"fmt"
	"testing"
)

type fakeClient struct{ tenant string }

type fakeDriver interface{ Name() string }

func (*fakeClient) Name() string { return "fake" }

// TestTargetOf: the call's target as the client type asked for; another
// type, nil, or a nil client is an error naming the step, the target type
// and what was there.
func TestTargetOf(t *testing.T) {
	c := &fakeClient{}
	if got, err := TargetOf[*fakeClient](Call{Address: "step.x.y", Target: c}, "entra"); err != nil || got != c {
		t.Fatalf("TargetOf = %v, %v; want the client", got, err)
	}
	if got, err := TargetOf[fakeDriver](Call{Address: "step.x.y", Target: c}, "adsync"); err != nil || got != fakeDriver(c) {
		t.Fatalf("TargetOf as an interface = %v, %v; want the client", got, err)
	}
	cases := []struct {
		target any
		typ    string
		want   string
	}{
		{"not a client", "entra", "entra: step.x.y: the target is not an entra target (got string)"},
		{nil, "exo", "exo: step.x.y: the target is not an exo target (got <nil>)"},
		{(*fakeClient)(nil), "file", "file: step.x.y: the target is not a file target (got *steps.fakeClient)"},
	}
	for _, tc := range cases {
		if _, err := TargetOf[*fakeClient](Call{Address: "step.x.y", Target: tc.target}, tc.typ); err == nil || err.Error() != tc.want {
			t.Errorf("TargetOf(%#v) error %v, want %q", tc.target, err, tc.want)
		}
	}
}

// TestBulkCalls: the fan-out's shared client, each call's argument, and a
// call whose argument is refused holding its error while the others go
// on; no calls is no client and no error; a first call without the
// client, or a later one with another, fails the whole set, naming it.
func TestBulkCalls(t *testing.T) {
	c, other := &fakeClient{tenant: "contoso"}, &fakeClient{tenant: "fabrikam"}
	upn := func(call Call) (string, error) {
		if call.Key == "" {
			return "", fmt.Errorf("%s: upn is empty", call.Address)
		}
		return call.Key + "@contoso.com", nil
	}
	calls := []Call{
		{Address: `step.x.y["a"]`, Key: "a", Target: c},
		{Address: `step.x.y[""]`, Target: c},
		{Address: `step.x.y["b"]`, Key: "b", Target: c},
	}
	got, args, out, err := BulkCalls[*fakeClient](calls, "entra", upn)
	if err != nil || got != c || len(out) != 3 || len(args) != 3 {
		t.Fatalf("BulkCalls = %v, %v, %v, %v; want the client and three results", got, args, out, err)
	}
	if args[0] != "a@contoso.com" || args[2] != "b@contoso.com" || out[0].Err != nil || out[2].Err != nil {
		t.Fatalf("args = %q, results %+v; want a and b read, with no error", args, out)
	}
	if out[1].Err == nil || out[1].Err.Error() != `step.x.y[""]: upn is empty` {
		t.Fatalf("the call without a upn: %v", out[1].Err)
	}

	if got, args, out, err := BulkCalls[*fakeClient](nil, "entra", upn); err != nil || got != nil || len(args) != 0 || len(out) != 0 {
		t.Fatalf("no calls: %v, %v, %v, %v", got, args, out, err)
	}

	mixed := []Call{calls[0], {Address: `step.x.y["c"]`, Key: "c", Target: other}}
	if _, _, _, err := BulkCalls[*fakeClient](mixed, "exo", upn); err == nil ||
		err.Error() != `exo: step.x.y["c"]: the instances of one fan-out use different targets` {
		t.Fatalf("two targets: %v", err)
	}
	notOne := []Call{{Address: `step.x.y["a"]`, Key: "a", Target: "not a client"}, calls[0]}
	if _, _, _, err := BulkCalls[*fakeClient](notOne, "ad", upn); err == nil ||
		err.Error() != `ad: step.x.y["a"]: the target is not an ad target (got string)` {
		t.Fatalf("a first call without a client: %v", err)
	}
}
