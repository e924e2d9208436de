package steps

import "testing"

func TestParsePermission(t *testing.T) {
	for in, want := range map[string]Permission{
		"Graph: User.ReadWrite.All":                                                        {Service: "Graph", Name: "User.ReadWrite.All"},
		"Graph: Synchronization.ReadWrite.All (driver cloudsync)":                          {Service: "Graph", Name: "Synchronization.ReadWrite.All", Note: "driver cloudsync"},
		"AD: read deleted objects (Domain Admins, or List Contents on CN=Deleted Objects)": {Service: "AD", Name: "read deleted objects", Note: "Domain Admins, or List Contents on CN=Deleted Objects"},
		"Test: Values.Read": {Service: "Test", Name: "Values.Read"},
	} {
		got := ParsePermission(in)
		if got != want {
			t.Errorf("ParsePermission(%q) = %+v, want %+v", in, got, want)
		}
		if got.String() != in {
			t.Errorf("String() = %q, want %q", got.String(), in)
		}
	}
	if d := ParsePermission("Graph: X (driver cloudsync)").Driver(); d != "cloudsync" {
		t.Errorf("Driver = %q", d)
	}
	if !ParsePermission("Graph: OnPremDirectorySynchronization.Read.All (delegated only; x)").DelegatedOnly() {
		t.Error("DelegatedOnly")
	}
}

func TestGraphImplies(t *testing.T) {
	for _, c := range []struct {
		have, want string
		ok         bool
	}{
		{"User.ReadWrite.All", "User.Read.All", true},
		{"User.Read.All", "User.Read.All", true},
		{"User.Read.All", "User.ReadWrite.All", false},
		{"Directory.ReadWrite.All", "User.Read.All", false},
		{"Organization.ReadWrite.All", "Organization.Read.All", true},
	} {
		if got := GraphImplies(c.have, c.want); got != c.ok {
			t.Errorf("GraphImplies(%s, %s) = %v", c.have, c.want, got)
		}
	}
}
