package engine

import (
	"context"
	"errors"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/rebind-dev/rebind/engine/runbook"
	"github.com/rebind-dev/rebind/engine/runbook/diagtest"
	"github.com/rebind-dev/rebind/steps"
)

// TestInvalidRunbooks validates each runbook under testdata/invalid and
// compares the error diagnostics of Engine.Validate with the
// `# ERROR: <Summary>` markers in it, by line: a marker stands on the line
// where the diagnostic's Subject starts. Each runbook must load without
// error: what loading alone rejects belongs to engine/runbook's corpus;
// these are the diagnostics that need the step and target types' schemas,
// or an evaluation.
func TestInvalidRunbooks(t *testing.T) {
	diagtest.Corpus(t, "testdata/invalid/*.hcl", func(t *testing.T, name string, src []byte) hcl.Diagnostics {
		rb, diags := runbook.LoadSources("testdata/invalid", map[string][]byte{name: src})
		if diags.HasErrors() {
			t.Fatalf("the runbook does not load, so the engine never sees it (a fixture for engine/runbook?):\n%s", diags.Error())
		}
		e := &Engine{WorkDir: t.TempDir(), Getenv: func(string) string { return "" }}
		return e.Validate(rb)
	})
}

func init() {
	steps.RegisterTarget(dirTarget{})
	steps.Register(targetedType{})
}

// dirTarget ("test_dir") is a target type for the tests of target
// references; it opens nothing.
type dirTarget struct{}

func (dirTarget) Info() steps.TargetInfo {
	return steps.TargetInfo{Name: "test_dir", Doc: "Test: a directory that needs no connection.",
		Schema: steps.Schema{
			"root":  {Type: cty.String, Required: true},
			"token": {Type: cty.String, Sensitive: true},
		}}
}

func (dirTarget) Open(ctx context.Context, cfg steps.TargetConfig) (any, error) {
	return cfg.Config, nil
}

// targetedType ("test_targeted") is a step type that needs a test_dir
// target. The tests only validate it.
type targetedType struct{}

func (targetedType) Info() steps.Info {
	return steps.Info{Name: "test_targeted", Doc: "Test: a step that needs a test_dir target.", Kind: steps.KindEnsure,
		Target: "test_dir", Schema: steps.Schema{"key": {Type: cty.String, Required: true}}}
}

func (targetedType) Observe(ctx context.Context, c steps.Call) (steps.Observation, error) {
	return steps.Observation{}, errors.New("test_targeted: validation only")
}

func (targetedType) Diff(ctx context.Context, c steps.Call, obs steps.Observation) (steps.Change, error) {
	return steps.Change{}, errors.New("test_targeted: validation only")
}

func (targetedType) Apply(ctx context.Context, c steps.Call, ch steps.Change) (steps.Result, error) {
	return steps.Result{}, errors.New("test_targeted: validation only")
}
