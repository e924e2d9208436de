package runbook

import (
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

func mustLoad(t *testing.T, path string) *Runbook {
	t.Helper()
	rb, diags := Load(path)
	if diags.HasErrors() {
		t.Fatalf("Load(%s): %s", path, diags.Error())
	}
	return rb
}

func TestLoadSingleFile(t *testing.T) {
	rb := mustLoad(t, "testdata/valid/restore-mistake.hcl")

	if rb.Dir != "testdata/valid" {
		t.Errorf("Dir = %q, want testdata/valid", rb.Dir)
	}
	if _, ok := rb.Sources["restore-mistake.hcl"]; !ok || len(rb.Sources) != 1 {
		t.Errorf("Sources keys = %v, want [restore-mistake.hcl]", slices.Sorted(maps.Keys(rb.Sources)))
	}
	if rb.Files["restore-mistake.hcl"] == nil {
		t.Errorf("Files lacks restore-mistake.hcl")
	}

	m := rb.Meta
	if m.Name != "restore-mistake" || m.Approvals != 1 || m.IrreversibleApprovals != 2 ||
		!strings.HasPrefix(m.Title, "Re-bind") || !strings.HasPrefix(m.Description, "Restore the cloud user") {
		t.Errorf("Meta = %+v", m)
	}
	if m.DeclRange.Filename != "restore-mistake.hcl" || m.DeclRange.Start.Line != 1 {
		t.Errorf("Meta.DeclRange = %s, want restore-mistake.hcl line 1", m.DeclRange)
	}

	if got := names(rb.Variables, func(v *Variable) string { return v.Name }); got != "upn bind_password attempts" {
		t.Errorf("variables = %s", got)
	}
	upn := rb.Variables[0]
	if upn.Type != cty.String || upn.Default != cty.NilVal || !upn.PII || upn.Sensitive || len(upn.Validations) != 1 {
		t.Errorf("upn = %+v", upn)
	}
	pw := rb.Variables[1]
	if !pw.Sensitive || pw.Default == cty.NilVal || !pw.Default.IsNull() || !pw.Default.Type().Equals(cty.String) {
		t.Errorf("bind_password = %+v, want sensitive with a null string default", pw)
	}
	if got := rb.Variables[2].Default; !got.RawEquals(cty.NumberIntVal(3)) {
		t.Errorf("attempts default = %#v, want the number 3 converted from \"3\"", got)
	}

	if got := names(rb.Locals, func(l *Local) string { return l.Name }); got != "tenant_domain alias" {
		t.Errorf("locals = %s", got)
	}
	if got := names(rb.Targets, func(x *Target) string { return x.Type + "." + x.Name }); got != "entra.tenant ad.corp adsync.connect" {
		t.Errorf("targets = %s", got)
	}
	if attrs, _ := rb.Targets[1].Config.JustAttributes(); len(attrs) != 2 {
		t.Errorf("target ad.corp keeps %d attributes, want url and base_dn", len(attrs))
	}

	if len(rb.Data) != 1 {
		t.Fatalf("data = %d blocks, want 1", len(rb.Data))
	}
	d := rb.Data[0]
	if d.Mode != DataMode || d.Address() != "data.ad_user.new" || len(d.Postconditions) != 1 || d.Timeout == nil {
		t.Errorf("data block = %+v", d)
	}
	if got := traversalString(d.Target); got != "target.ad.corp" {
		t.Errorf("data target = %s", got)
	}
	assertConfig(t, d, "upn")

	if got := names(rb.Steps, (*Step).Address); got != "step.entra_user_restored.restore step.entra_immutable_id.clear step.adsync_cycle.initial step.entra_user.bound" {
		t.Errorf("steps = %s", got)
	}
	restore, clear, cycle, bound := rb.Steps[0], rb.Steps[1], rb.Steps[2], rb.Steps[3]
	if restore.Retry == nil || restore.Retry.Attempts == nil || restore.Retry.Backoff == nil || len(restore.Preconditions) != 1 {
		t.Errorf("restore = %+v", restore)
	}
	assertConfig(t, restore, "upn")
	if clear.OnFailure != OnFailureAbort || clear.OnFailureRange.Start.Line == 0 {
		t.Errorf("clear.OnFailure = %q at %s, want abort", clear.OnFailure, clear.OnFailureRange)
	}
	if len(clear.DependsOn) != 1 || traversalString(clear.DependsOn[0]) != "step.entra_user_restored.restore" {
		t.Errorf("clear.DependsOn = %v", clear.DependsOn)
	}
	assertConfig(t, clear, "immutable_id", "upn")
	if cycle.OnFailure != OnFailureContinue {
		t.Errorf("cycle.OnFailure = %q, want continue (from a string)", cycle.OnFailure)
	}
	if bound.OnFailure != OnFailureDefault || bound.Await == nil || bound.ForEach != nil {
		t.Errorf("bound = %+v", bound)
	}
	assertConfig(t, bound, "immutable_id", "sync_enabled", "upn")
}

func TestLoadFolder(t *testing.T) {
	rb := mustLoad(t, "testdata/valid/multi")
	if rb.Dir != "testdata/valid/multi" {
		t.Errorf("Dir = %q", rb.Dir)
	}
	if got := strings.Join(slices.Sorted(maps.Keys(rb.Sources)), " "); got != "01-main.hcl 02-steps.hcl" {
		t.Errorf("Sources = %s, want the two .hcl files only", got)
	}
	if rb.Meta == nil || rb.Meta.Name != "relink" {
		t.Fatalf("Meta = %+v", rb.Meta)
	}
	if !rb.Variables[0].Type.IsListType() || rb.Variables[0].Default.LengthInt() != 0 {
		t.Errorf("users = %+v", rb.Variables[0])
	}
	anchor := rb.Steps[0]
	if anchor.ForEach == nil || anchor.MaxConcurrency == nil || anchor.MaxErrors == nil || anchor.Await == nil {
		t.Errorf("anchor fan-out settings missing: %+v", anchor)
	}
	if anchor.DeclRange.Filename != "02-steps.hcl" {
		t.Errorf("anchor declared in %q, want 02-steps.hcl", anchor.DeclRange.Filename)
	}
	assertConfig(t, anchor, "consistency_guid", "upn")
}

func TestLoadFSAndSourcesAgree(t *testing.T) {
	disk := mustLoad(t, "testdata/valid/multi")
	fsys := fstest.MapFS{}
	for name, src := range disk.Sources {
		fsys["runbooks/relink/"+name] = &fstest.MapFile{Data: src}
	}
	embedded, diags := LoadFS(fsys, "runbooks/relink")
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	if embedded.Dir != "runbooks/relink" {
		t.Errorf("Dir = %q", embedded.Dir)
	}
	saved, diags := LoadSources("elsewhere", disk.Sources)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	for _, rb := range []*Runbook{embedded, saved} {
		if !reflect.DeepEqual(rb.Sources, disk.Sources) {
			t.Errorf("Sources differ from the disk copy")
		}
		if rb.Steps[1].DeclRange != disk.Steps[1].DeclRange {
			t.Errorf("step range %s, want %s as loaded from disk", rb.Steps[1].DeclRange, disk.Steps[1].DeclRange)
		}
	}
}

func TestLoadErrors(t *testing.T) {
	empty := t.TempDir()
	if err := os.WriteFile(filepath.Join(empty, "README.md"), []byte("no runbook"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path, summary string
	}{
		{filepath.Join(empty, "missing.hcl"), "Cannot read runbook"},
		{empty, "No runbook files"},
	} {
		rb, diags := Load(tc.path)
		if rb == nil {
			t.Errorf("Load(%s) returned a nil runbook", tc.path)
		}
		if len(diags) != 1 || diags[0].Summary != tc.summary || diags[0].Subject == nil {
			t.Errorf("Load(%s) = %v, want one %q with a Subject", tc.path, diags, tc.summary)
		}
	}
	if _, diags := LoadSources("x", nil); len(diags) != 1 || diags[0].Summary != "No runbook files" {
		t.Errorf("LoadSources with no files = %v", diags)
	}
}

// TestDuplicateNamesFirstDeclaration checks that a duplicate points back at
// the first declaration, in whichever file it is.
func TestDuplicateNamesFirstDeclaration(t *testing.T) {
	_, diags := LoadSources(".", map[string][]byte{
		"a.hcl": []byte("runbook \"x\" {}\nstep \"entra_user\" \"bound\" {}\n"),
		"b.hcl": []byte("step \"entra_user\" \"bound\" {}\n"),
	})
	if len(diags) != 1 {
		t.Fatalf("diags = %v, want one", diags)
	}
	d := diags[0]
	if d.Summary != `Duplicate step "entra_user" "bound"` || d.Subject.Filename != "b.hcl" || !strings.Contains(d.Detail, "a.hcl:2") {
		t.Errorf("got %q at %s: %s", d.Summary, d.Subject, d.Detail)
	}
}

// TestStepOrderAcrossFiles checks that file name order is run order: a
// reference from an earlier file to a step in a later one is refused.
func TestStepOrderAcrossFiles(t *testing.T) {
	_, diags := LoadSources(".", map[string][]byte{
		"1.hcl": []byte("runbook \"x\" {}\nstep \"a\" \"first\" {\n  v = step.b.second.result\n}\n"),
		"2.hcl": []byte("step \"b\" \"second\" {\n  v = step.a.first.result\n}\n"),
	})
	if len(diags) != 1 || diags[0].Summary != "Reference to a later step" || diags[0].Subject.Filename != "1.hcl" {
		t.Errorf("diags = %v, want one later-step reference in 1.hcl", diags)
	}
}

func assertConfig(t *testing.T, s *Step, want ...string) {
	t.Helper()
	// Decode as the engine does, with the step type's schema: what is left
	// must be exactly the step's own arguments, no meta-argument and no
	// meta block.
	schema := &hcl.BodySchema{}
	for _, name := range want {
		schema.Attributes = append(schema.Attributes, hcl.AttributeSchema{Name: name, Required: true})
	}
	content, diags := s.Config.Content(schema)
	if diags.HasErrors() {
		t.Errorf("%s: Config does not decode with only %v: %s", s.Address(), want, diags.Error())
	}
	if got := slices.Sorted(maps.Keys(content.Attributes)); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("%s: Config attributes = %v, want %v", s.Address(), got, want)
	}
}

func names[T any](xs []T, f func(T) string) string {
	var out []string
	for _, x := range xs {
		out = append(out, f(x))
	}
	return strings.Join(out, " ")
}

func traversalString(t hcl.Traversal) string {
	var sb strings.Builder
	for i, s := range t {
		switch s := s.(type) {
		case hcl.TraverseRoot:
			sb.WriteString(s.Name)
		case hcl.TraverseAttr:
			if i > 0 {
				sb.WriteString(".")
			}
			sb.WriteString(s.Name)
		}
	}
	return sb.String()
}

// TestParseErrorHidesMissingRunbook checks that a file that does not parse
// is not also blamed for lacking the runbook block it may well hold.
func TestParseErrorHidesMissingRunbook(t *testing.T) {
	_, diags := LoadSources(".", map[string][]byte{
		"a.hcl": []byte("runbook \"x\" {\n  title = = \"t\"\n}\n"),
		"b.hcl": []byte("variable \"upn\" {}\n"),
	})
	for _, d := range diags {
		if d.Summary == "Missing runbook block" {
			t.Errorf("got %q although a.hcl did not parse", d.Summary)
		}
	}
	if !diags.HasErrors() {
		t.Errorf("no parse error reported")
	}
}
