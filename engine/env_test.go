package engine

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/rebind-dev/rebind/engine/environment"
	"github.com/rebind-dev/rebind/engine/plan"
	"github.com/rebind-dev/rebind/steps"
)

func init() { steps.RegisterTarget(envTarget{}) }

// envTarget ("test_env") stands for a directory found through an
// environment: a required host, a non-host default and a secret.
type envTarget struct{}

func (envTarget) Info() steps.TargetInfo {
	return steps.TargetInfo{Name: "test_env", Schema: steps.Schema{
		"host":      {Type: cty.String, Required: true, Doc: "Where the directory is."},
		"batch":     {Type: cty.Bool, Doc: "A setting that does not depend on where it runs."},
		"token":     {Type: cty.String, Sensitive: true, Doc: "A secret."},
		"tenant_id": {Type: cty.String, Doc: "Which directory it is."},
	}}
}

func (envTarget) Open(ctx context.Context, cfg steps.TargetConfig) (any, error) {
	return cfg.Config, nil
}

const envRunbook = header + `
target "test_env" "corp" {
  batch = true
}

step "file" "note" {
  path    = "note.txt"
  content = "hello"
}
`

func mustEnv(t *testing.T, src string) *environment.Environment {
	t.Helper()
	env, diags := environment.Parse([]byte(src), "prod.hcl")
	if diags.HasErrors() {
		t.Fatalf("environment: %s", diags.Error())
	}
	return env
}

// corpEnv is an environment (prod.hcl) that binds envRunbook's target
// test_env.corp to host.
func corpEnv(t *testing.T, host string) *environment.Environment {
	t.Helper()
	return mustEnv(t, `target "test_env" "corp" { host = "`+host+`" }`)
}

// diagAt finds the diagnostic with summary, and checks where it points and
// what its detail says.
func diagAt(t *testing.T, diags hcl.Diagnostics, summary string, sev hcl.DiagnosticSeverity, file string, line int, detail ...string) {
	t.Helper()
	for _, d := range diags {
		if d.Summary != summary {
			continue
		}
		if d.Severity != sev {
			t.Errorf("%s: severity %v, want %v", summary, d.Severity, sev)
		}
		if d.Subject == nil || d.Subject.Filename != file || d.Subject.Start.Line != line {
			t.Errorf("%s: subject %v, want %s:%d", summary, d.Subject, file, line)
		}
		for _, x := range detail {
			if !strings.Contains(d.Detail, x) {
				t.Errorf("%s: detail %q does not say %q", summary, d.Detail, x)
			}
		}
		return
	}
	t.Errorf("no %q diagnostic in:\n%s", summary, diags.Error())
}

func TestEnvironmentDiagnostics(t *testing.T) {
	h := newHarness(t)
	rb := h.load(envRunbook)
	cases := []struct {
		name, env, summary string
		sev                hcl.DiagnosticSeverity
		file               string
		line               int
		detail             []string
	}{
		{"missing target", `target "test_env" "other" { host = "a" }`,
			"Target not in the environment", hcl.DiagError, "main.hcl", 3, []string{`"test_env" "corp"`, "prod.hcl", "host = ..."}},
		{"type mismatch", `target "test_conn" "corp" { name = "a" }`,
			"Target type mismatch", hcl.DiagError, "main.hcl", 3, []string{"main.hcl:3", "prod.hcl:1", `"test_conn" "corp"`}},
		{"unknown setting", "target \"test_env\" \"corp\" {\n  host = \"a\"\n  hots = \"b\"\n}",
			"Unsupported setting", hcl.DiagError, "prod.hcl", 3, []string{`"hots"`, "batch, host, tenant_id, token"}},
		{"secret", "target \"test_env\" \"corp\" {\n  host  = \"a\"\n  token = \"s3cret\"\n}",
			"Secret in an environment file", hcl.DiagError, "prod.hcl", 3, []string{`"token"`, "process environment"}},
		{"given twice", "target \"test_env\" \"corp\" {\n  host  = \"a\"\n  batch = false\n}",
			"Setting given twice", hcl.DiagError, "main.hcl", 4, []string{"main.hcl:4", "prod.hcl:3"}},
		{"unknown type", "target \"test_env\" \"corp\" { host = \"a\" }\ntarget \"nope\" \"x\" {}",
			"Unknown target type", hcl.DiagError, "prod.hcl", 2, []string{`"nope"`}},
		{"unused", "target \"test_env\" \"corp\" { host = \"a\" }\ntarget \"test_conn\" \"spare\" {}",
			"Target not used", hcl.DiagWarning, "prod.hcl", 2, []string{`"test_conn" "spare"`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := &Engine{Env: mustEnv(t, c.env)}
			diags := e.Validate(rb)
			diagAt(t, diags, c.summary, c.sev, c.file, c.line, c.detail...)
			// The same at plan, before anything is opened.
			h.e.Env = e.Env
			_, pd := h.e.Plan(context.Background(), rb, Inputs{}, PlanOptions{Author: "t"})
			diagAt(t, pd, c.summary, c.sev, c.file, c.line, c.detail...)
			if c.sev == hcl.DiagWarning && pd.HasErrors() {
				t.Errorf("a warning stopped the plan: %s", pd.Error())
			}
		})
	}
	h.e.Env = nil
}

func TestEnvironmentSettingsAreLiterals(t *testing.T) {
	_, diags := environment.Parse([]byte("target \"test_env\" \"corp\" {\n  host = var.host\n}"), "prod.hcl")
	diagAt(t, diags, "Not a literal value", hcl.DiagError, "prod.hcl", 2, `"var.host"`)
	_, diags = environment.Parse([]byte("variable \"x\" {}\n"), "prod.hcl")
	diagAt(t, diags, "Unsupported block type", hcl.DiagError, "prod.hcl", 1, "only target")
	_, diags = environment.Parse([]byte("target \"a\" \"b\" {}\ntarget \"a\" \"b\" {}\n"), "prod.hcl")
	diagAt(t, diags, "Duplicate target", hcl.DiagError, "prod.hcl", 2, "prod.hcl:1")
}

// A runbook that names no host needs an environment at plan; validate
// alone does not, and a lab supplies the endpoints instead.
func TestTargetSettingRequired(t *testing.T) {
	h := newHarness(t)
	rb := h.load(envRunbook)
	if diags := (&Engine{}).Validate(rb); diags.HasErrors() {
		t.Fatalf("validate without an environment: %s", diags.Error())
	}
	_, diags := h.e.Plan(context.Background(), rb, Inputs{}, PlanOptions{Author: "t"})
	diagAt(t, diags, "Target setting missing", hcl.DiagError, "main.hcl", 3, "host", "--env FILE", "Where the directory is.")
	e := &Engine{Env: mustEnv(t, `target "test_env" "corp" {}`)}
	diagAt(t, e.Validate(rb), "Target setting missing", hcl.DiagError, "main.hcl", 3, "host", "prod.hcl:1")
	if diags := (&Engine{Lab: "http://127.0.0.1:1"}).Validate(rb); diags.HasErrors() {
		t.Fatalf("validate against a lab: %s", diags.Error())
	}
}

// A plan records the environment's settings; apply refuses the plan with
// an environment that points its targets elsewhere, naming the target and
// the setting, and runs it with the same settings from another file.
func TestPlanBoundToItsEnvironment(t *testing.T) {
	h := newHarness(t)
	h.e.Env = corpEnv(t, "dc01.corp.example.com")
	p := h.plan(envRunbook, nil)
	if p.Environment == nil || p.Environment.File != "prod.hcl" || len(p.Environment.Digest) != 64 {
		t.Fatalf("plan environment: %+v", p.Environment)
	}
	if got := string(p.Environment.Settings["test_env.corp"]["host"]); !strings.Contains(got, "dc01.corp.example.com") {
		t.Errorf("recorded host: %s", got)
	}
	if !strings.Contains(string(p.CanonicalBytes()), p.Environment.Digest) {
		t.Error("the environment is not in the plan's digested bytes")
	}
	var text, md bytes.Buffer
	if err := plan.RenderText(&text, p, plan.TextOptions{}); err != nil {
		t.Fatal(err)
	}
	if want := "Environment  prod.hcl (settings sha256:" + p.Environment.Digest + ")\n"; !strings.Contains(text.String(), want) {
		t.Errorf("show does not name the environment (%q):\n%s", want, text.String())
	}
	if err := plan.RenderMarkdown(&md, p, plan.RenderOptions{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(md.String(), "| Environment | `prod.hcl`") {
		t.Errorf("markdown does not name the environment:\n%s", md.String())
	}
	// Targets point elsewhere.
	h.e.Env = corpEnv(t, "dc02.corp.example.com")
	_, diags := h.e.Apply(context.Background(), p, Inputs{}, ApplyOptions{Rehearsal: false})
	if !diags.HasErrors() || !strings.Contains(diags.Error(), "Plan made against other targets") ||
		!strings.Contains(diags.Error(), `target test_env.corp, setting host: planned with "dc01.corp.example.com", now "dc02.corp.example.com"`) {
		t.Fatalf("apply against another environment: %v", diags)
	}
	// No environment at all.
	h.e.Env = nil
	_, diags = h.e.Apply(context.Background(), p, Inputs{}, ApplyOptions{})
	if !diags.HasErrors() || !strings.Contains(diags.Error(), "give it with --env") {
		t.Fatalf("apply without the environment: %v", diags)
	}
	if _, ok := h.file("note.txt"); ok {
		t.Fatal("a refused apply wrote")
	}
	// The same settings from another file run (the approvals a plan
	// needs are a separate check: this runbook asks for none).
	h.e.Env = corpEnv(t, "dc01.corp.example.com")
	h.e.Env.Path = "copy-of-prod.hcl"
	rep, diags := h.e.Apply(context.Background(), p, Inputs{}, ApplyOptions{})
	if diags.HasErrors() || rep.Status != "succeeded" {
		t.Fatalf("apply with the same settings: %v %+v", diags, rep)
	}
}

// Rollback (and resume, through the same path) of a run refuses an
// environment that points the run's targets elsewhere.
func TestRollbackBoundToItsEnvironment(t *testing.T) {
	h := newHarness(t)
	h.e.Env = corpEnv(t, "dc01")
	p := h.plan(envRunbook, nil)
	rep, diags := h.e.Apply(context.Background(), p, Inputs{}, ApplyOptions{})
	if diags.HasErrors() || rep.Status != "succeeded" {
		t.Fatalf("apply: %v %+v", diags, rep)
	}
	h.e.Env = corpEnv(t, "dc02")
	_, diags = h.e.Rollback(context.Background(), rep.RunID, Inputs{})
	if !diags.HasErrors() || !strings.Contains(diags.Error(), "target test_env.corp, setting host") {
		t.Fatalf("rollback against another environment: %v", diags)
	}
	if _, ok := h.file("note.txt"); !ok {
		t.Fatal("a refused rollback removed the file")
	}
	h.e.Env = corpEnv(t, "dc01")
	if _, diags = h.e.Rollback(context.Background(), rep.RunID, Inputs{}); diags.HasErrors() {
		t.Fatalf("rollback with the same environment: %v", diags)
	}
	if _, ok := h.file("note.txt"); ok {
		t.Fatal("rollback did not remove the file")
	}
}

// TestLabRunAfterTheLabRestarted: a run bound to a lab can be rolled back
// (or resumed) against the same lab restarted from its state file at new
// addresses, and not against another tenant.
func TestLabRunAfterTheLabRestarted(t *testing.T) {
	h := newHarness(t)
	rb := h.load(envRunbook)
	bindTo := func(lab, tenant string) {
		h.e.Lab = lab
		h.e.Bind = func(keys []string) (*environment.Environment, error) {
			env, diags := environment.Parse([]byte(`target "test_env" "corp" {
  host      = "`+lab+`"
  tenant_id = "`+tenant+`"
}`), "the lab at "+lab)
			if diags.HasErrors() {
				return nil, diags
			}
			return env, nil
		}
	}
	bindTo("https://127.0.0.1:1001", "t1")
	p, diags := h.e.Plan(context.Background(), rb, Inputs{}, PlanOptions{Author: "t"})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	rep, diags := h.e.Apply(context.Background(), p, Inputs{}, ApplyOptions{})
	if diags.HasErrors() || rep.Status != "succeeded" {
		t.Fatalf("apply: %v %+v", diags, rep)
	}
	bindTo("https://127.0.0.1:2002", "t2")
	if _, diags = h.e.Rollback(context.Background(), rep.RunID, Inputs{}); !diags.HasErrors() ||
		!strings.Contains(diags.Error(), "target test_env.corp, setting tenant_id") {
		t.Fatalf("rollback against another lab tenant: %v", diags)
	}
	bindTo("https://127.0.0.1:2002", "t1")
	if _, diags = h.e.Rollback(context.Background(), rep.RunID, Inputs{}); diags.HasErrors() {
		t.Fatalf("rollback against the same tenant at a new address: %v", diags)
	}
	if _, ok := h.file("note.txt"); ok {
		t.Fatal("rollback did not remove the file")
	}
}
