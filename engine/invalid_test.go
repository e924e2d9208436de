package engine

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/rebind-dev/rebind/engine/runbook"
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
	paths, err := filepath.Glob("testdata/invalid/*.hcl")
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) == 0 {
		t.Fatal("no invalid runbooks found")
	}
	for _, p := range paths {
		t.Run(strings.TrimSuffix(filepath.Base(p), ".hcl"), func(t *testing.T) {
			src, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			want := expectedErrors(src)
			if len(want) == 0 {
				t.Fatal("fixture has no # ERROR: marker")
			}
			name := filepath.Base(p)
			rb, diags := runbook.LoadSources("testdata/invalid", map[string][]byte{name: src})
			if diags.HasErrors() {
				t.Fatalf("the runbook does not load, so the engine never sees it (a fixture for engine/runbook?):\n%s", diags.Error())
			}
			e := &Engine{WorkDir: t.TempDir(), Getenv: func(string) string { return "" }}
			diags = e.Validate(rb)
			var got []string
			for _, d := range diags {
				if d.Severity != hcl.DiagError {
					continue
				}
				if d.Subject == nil {
					t.Errorf("diagnostic %q has no Subject", d.Summary)
					continue
				}
				if d.Subject.Filename != name {
					t.Errorf("diagnostic %q names file %q, want %q", d.Summary, d.Subject.Filename, name)
				}
				if d.Detail == "" {
					t.Errorf("diagnostic %q has no Detail", d.Summary)
				}
				got = append(got, fmt.Sprintf("%d: %s", d.Subject.Start.Line, d.Summary))
			}
			sort.Strings(got)
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("diagnostics differ\ngot:\n  %s\nwant:\n  %s\nall:\n%s",
					strings.Join(got, "\n  "), strings.Join(want, "\n  "), diags.Error())
			}
		})
	}
}

func expectedErrors(src []byte) []string {
	var want []string
	sc := bufio.NewScanner(bytes.NewReader(src))
	for line := 1; sc.Scan(); line++ {
		if _, after, ok := strings.Cut(sc.Text(), "# ERROR: "); ok {
			want = append(want, fmt.Sprintf("%d: %s", line, strings.TrimSpace(after)))
		}
	}
	sort.Strings(want)
	return want
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
