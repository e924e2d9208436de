package plan

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/zclconf/go-cty/cty"
)

// A plan read back from its file must have the digest printed when it was
// written: reviewers compare the two.
func TestDigestSurvivesWriteAndRead(t *testing.T) {
	p := &Plan{
		FormatVersion: FormatVersion,
		Runbook:       Runbook{Name: "r", Digest: "d", Sources: map[string]string{"main.hcl": "x"}},
		Inputs:        map[string]Value{"upn": EncodeValue(cty.StringVal("a@b.c")), "none": EncodeValue(cty.NullVal(cty.String))},
		Targets:       []Target{{Type: "entra", Name: "t", Config: EncodeValue(cty.EmptyObjectVal)}},
		Steps: []Step{{Address: "step.x.y", Mode: "step", Type: "x", Kind: "action", Reversibility: "irreversible",
			Instances: []Instance{{Address: "step.x.y", Action: "run",
				Before: EncodeValue(cty.NullVal(cty.DynamicPseudoType)),
				After:  EncodeValue(cty.ObjectVal(map[string]cty.Value{"n": cty.NumberFloatVal(1.5), "u": cty.UnknownVal(cty.String)}))}}}},
		Permissions: []string{},
		Created:     time.Date(2026, 11, 21, 5, 0, 0, 0, time.UTC),
		Expires:     time.Date(2026, 11, 22, 5, 0, 0, 0, time.UTC),
	}
	want := p.Digest()
	path := filepath.Join(t.TempDir(), "p.plan")
	if err := p.Write(path); err != nil {
		t.Fatal(err)
	}
	back, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := back.Digest(); got != want {
		t.Fatalf("digest after write and read = %s, want %s\nwritten: %s\nread:    %s", got, want, p.CanonicalBytes(), back.CanonicalBytes())
	}
}
