package addrs

import (
	"strings"
	"testing"
)

func TestParseFormatRoundTrip(t *testing.T) {
	for _, s := range []string{
		`step.entra_user.u`,
		`data.ad_users.new`,
		`step.entra_user.u["a@x.com"]`,
		`step.file.f[""]`,
		`step.file.f["with \"quote\" and ] and ."]`,
		`module.sync.step.entra_dir_sync.off`,
		`module.sync["a.b"].step.adsync_cycle.initial`,
		`module.outer.module.inner["k"].data.entra_user.cloud`,
		`module.m["x"].step.entra_user_state.bound["u@x"]`,
	} {
		in, err := ParseInstance(s)
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		if got := in.String(); got != s {
			t.Errorf("round trip: %s became %s", s, got)
		}
	}
}

func TestParts(t *testing.T) {
	in, err := ParseInstance(`module.a["k1"].module.b.step.entra_user.u["k2"]`)
	if err != nil {
		t.Fatal(err)
	}
	want := Module{{Name: "a", Key: "k1", Keyed: true}, {Name: "b"}}
	if !in.Step.Module.Equal(want) {
		t.Errorf("module = %#v, want %#v", in.Step.Module, want)
	}
	if in.Step.Mode != StepMode || in.Step.Type != "entra_user" || in.Step.Name != "u" || in.Key != "k2" || !in.Keyed {
		t.Errorf("parts = %#v", in)
	}
	if got := in.Step.String(); got != `module.a["k1"].module.b.step.entra_user.u` {
		t.Errorf("step = %s", got)
	}
	// The step of an instance is cut at the instance key, not at the
	// first bracket: a module's key comes before it.
	if got := StepOf(`module.a["k"].step.t.n["x"]`); got != `module.a["k"].step.t.n` {
		t.Errorf("StepOf = %s", got)
	}
	if got := TypeOf(`module.a.data.entra_users.all`); got != "entra_users" {
		t.Errorf("TypeOf = %s", got)
	}
}

func TestParseErrors(t *testing.T) {
	for s, want := range map[string]string{
		``:                        "expected a step or data",
		`step.t`:                  `expected '.'`,
		`resource.t.n`:            "neither step, data nor module",
		`step.t.n[k]`:             "expected a quoted key",
		`step.t.n["k"`:            `expected ']'`,
		`step.t.n["k"]x`:          "unexpected",
		`module..step.t.n`:        "expected a module name",
		`module.m["k"]step.t.n`:   `expected '.'`,
		`step.t.n["k"].more`:      "unexpected",
		`module.m.module.n.x.y.z`: "neither step, data nor module",
	} {
		_, err := ParseInstance(s)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseInstance(%q) = %v, want an error containing %q", s, err, want)
		}
	}
	if _, err := ParseStep(`step.t.n["k"]`); err == nil || !strings.Contains(err.Error(), "not the step") {
		t.Errorf("ParseStep of an instance: %v", err)
	}
	if got := StepOf("not an address["); got != "not an address[" {
		t.Errorf("StepOf of a non-address = %q", got)
	}
}

func TestCompare(t *testing.T) {
	a, _ := ParseInstance(`step.t.n["a"]`)
	b, _ := ParseInstance(`step.t.n["b"]`)
	if a.Compare(b) >= 0 || b.Compare(a) <= 0 || a.Compare(a) != 0 {
		t.Error("Compare does not order by address")
	}
}
