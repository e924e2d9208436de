package steps

import (
	"testing"
)

type fakeClient struct{}

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
