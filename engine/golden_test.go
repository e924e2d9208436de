package engine

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/zclconf/go-cty/cty"
	"golang.org/x/tools/txtar"

	"github.com/rebind-dev/rebind/engine/journal"
	"github.com/rebind-dev/rebind/engine/plan"
	"github.com/rebind-dev/rebind/engine/runbook"
	"github.com/rebind-dev/rebind/internal/e2e"
)

var update = flag.Bool("update", false, "rewrite the golden sections of testdata/plans/*.txtar")

// goldenNow is the fixed clock of the golden plans.
var goldenNow = time.Date(2026, 11, 21, 9, 30, 0, 0, time.UTC)

// goldenAuthor is the fixed author of the golden plans.
const goldenAuthor = "alice@contoso.com"

// Sections of a golden archive that are not runbook files.
const (
	sectionVars  = "vars"         // one name=value a line: -var inputs
	sectionWorld = "world"        // one key=value a line: the test world before planning
	sectionPlan  = "plan.golden"  // the plan as RenderText shows it
	sectionApply = "apply.golden" // optional: how applying the plan ends
)

// digestRE matches the plan digest RenderText prints. The digest covers the
// work dir's absolute path (in the runbook's Dir and every file step's
// observed path and fingerprint), so it differs on every run; the test
// checks instead that planning twice gives the same digest.
var digestRE = regexp.MustCompile(`sha256:[0-9a-f]{64}`)

// TestGoldenPlans plans each runbook under testdata/plans and compares the
// terminal rendering with the archive's plan.golden; when the archive has an
// apply.golden, it applies the plan with a durable journal and compares how
// the run ended and what it left in the world and the work dir. Run with
// -update to rewrite the golden sections after checking the differences by
// eye.
func TestGoldenPlans(t *testing.T) {
	paths, err := filepath.Glob("testdata/plans/*.txtar")
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) == 0 {
		t.Fatal("no golden plans found")
	}
	for _, path := range paths {
		t.Run(strings.TrimSuffix(filepath.Base(path), ".txtar"), func(t *testing.T) {
			ar, err := txtar.ParseFile(path)
			if err != nil {
				t.Fatal(err)
			}
			g := newGolden(t, ar)
			got := map[string]string{sectionPlan: g.renderPlan()}
			if _, ok := g.sections[sectionApply]; ok {
				got[sectionApply] = g.renderApply()
			}
			if *update {
				writeGolden(t, path, ar, got)
				return
			}
			for _, name := range []string{sectionPlan, sectionApply} {
				want, ok := g.sections[name]
				if !ok && name == sectionPlan {
					t.Fatalf("%s has no %s section; run with -update to create it", path, name)
				}
				if ok && got[name] != want {
					t.Errorf("%s differs (run with -update to accept):\n%s", name, lineDiff(want, got[name]))
				}
			}
		})
	}
}

// golden is one archive laid out in a work dir.
type golden struct {
	t        *testing.T
	dir      string
	sections map[string]string
	files    map[string]string // runbook and data files, as in the archive
	vars     map[string]string
	world    map[string]string
}

func newGolden(t *testing.T, ar *txtar.Archive) *golden {
	t.Helper()
	g := &golden{t: t, dir: t.TempDir(), sections: map[string]string{}, files: map[string]string{}}
	for _, f := range ar.Files {
		switch f.Name {
		case sectionVars, sectionWorld, sectionPlan, sectionApply:
			g.sections[f.Name] = string(f.Data)
			continue
		}
		g.files[f.Name] = string(f.Data)
		e2e.WriteFile(t, filepath.Join(g.dir, filepath.FromSlash(f.Name)), string(f.Data))
	}
	g.vars = pairs(t, g.sections[sectionVars])
	g.world = pairs(t, g.sections[sectionWorld])
	return g
}

// pairs reads name=value lines; blank lines and # comments are skipped.
func pairs(t *testing.T, text string) map[string]string {
	out := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("%q is not name=value", line)
		}
		out[k] = v
	}
	return out
}

// engine returns an engine with the fixed clock over the work dir; store
// may be nil for planning only.
func (g *golden) engine(store journal.Journal) *Engine {
	return &Engine{Store: store, WorkDir: g.dir, Now: func() time.Time { return goldenNow },
		Getenv: func(string) string { return "" }, PollInterval: time.Millisecond}
}

// runbook loads the runbook from the work dir.
func (g *golden) runbook() *runbook.Runbook {
	g.t.Helper()
	rb, diags := runbook.Load(g.dir)
	if diags.HasErrors() {
		g.t.Fatalf("load: %s", diags.Error())
	}
	return rb
}

// plan resets the test world to the archive's and plans the runbook.
func (g *golden) plan() *plan.Plan {
	g.t.Helper()
	theWorld.reset()
	for k, v := range g.world {
		theWorld.set(k, v)
	}
	p, diags := g.engine(nil).Plan(context.Background(), g.runbook(), Inputs{Vars: g.vars}, PlanOptions{Author: goldenAuthor})
	if diags.HasErrors() {
		g.t.Fatalf("plan: %s", diags.Error())
	}
	return p
}

func (g *golden) renderPlan() string {
	g.t.Helper()
	// What plans must validate: `rebind validate` may not reject it.
	if diags := g.engine(nil).Validate(g.runbook()); diags.HasErrors() {
		g.t.Errorf("Validate rejects a runbook that plans: %s", diags.Error())
	}
	p := g.plan()
	if again := g.plan(); again.Digest() != p.Digest() {
		g.t.Errorf("planning twice gave two digests: the plan is not deterministic\nfirst:\n%s\nsecond:\n%s", p.CanonicalBytes(), again.CanonicalBytes())
	}
	var buf bytes.Buffer
	if err := plan.RenderText(&buf, p, plan.TextOptions{}); err != nil {
		g.t.Fatal(err)
	}
	out := digestRE.ReplaceAllString(buf.String(), "sha256:$$DIGEST")
	// A sensitive input must not reach the plan, however it was used; a
	// golden accepted by eye could miss it inside a long value.
	for _, v := range g.runbook().Variables {
		if !v.Sensitive {
			continue
		}
		secret := g.vars[v.Name]
		if secret == "" && v.Default != cty.NilVal && v.Default.Type() == cty.String && !v.Default.IsNull() {
			secret = v.Default.AsString()
		}
		if secret != "" && strings.Contains(out, secret) {
			g.t.Errorf("the plan shows the value of the sensitive variable %q", v.Name)
		}
	}
	return g.scrubDir(out)
}

func (g *golden) scrubDir(s string) string {
	return strings.ReplaceAll(s, g.dir, "$WORK")
}

// renderApply plans again from the archive's world, applies the plan with a
// durable journal outside the work dir, and describes the end state.
func (g *golden) renderApply() string {
	g.t.Helper()
	store, err := journal.Open(g.t.TempDir())
	if err != nil {
		g.t.Fatal(err)
	}
	defer store.Close()
	p := g.plan()
	rep, diags := g.engine(store).Apply(context.Background(), p, Inputs{Vars: g.vars}, ApplyOptions{Author: goldenAuthor, Policy: approveAll(g.t, p)})
	if diags.HasErrors() {
		g.t.Fatalf("apply: %s", diags.Error())
	}
	var b strings.Builder
	fmt.Fprintf(&b, "status: %s\n", rep.Status)
	fmt.Fprintf(&b, "applied: %d, unchanged: %d\n", rep.Applied, rep.Unchanged)
	for _, f := range rep.Failures {
		fmt.Fprintf(&b, "failed: %s: %s\n", f.Address, f.Err)
	}
	for _, a := range rep.Reverted {
		fmt.Fprintf(&b, "reverted: %s\n", a)
	}
	for _, f := range rep.NotReverted {
		fmt.Fprintf(&b, "not reverted: %s: %s\n", f.Address, f.Err)
	}
	if rep.Paused != "" {
		fmt.Fprintf(&b, "paused: %s\n", rep.Paused)
	}
	for _, a := range rep.InDoubt {
		fmt.Fprintf(&b, "in doubt: %s\n", a)
	}
	b.WriteString("world:\n")
	theWorld.mu.Lock()
	var keys []string
	for k, v := range theWorld.values {
		if v != "" {
			keys = append(keys, k+"="+v)
		}
	}
	theWorld.mu.Unlock()
	sort.Strings(keys)
	for _, kv := range keys {
		fmt.Fprintf(&b, "  %s\n", kv)
	}
	b.WriteString("files changed:\n")
	b.WriteString(g.changedFiles())
	out := b.String()
	if rep.RunID != "" {
		out = strings.ReplaceAll(out, rep.RunID, "$RUN")
	}
	return g.scrubDir(out)
}

// changedFiles lists the files of the work dir that the run created,
// changed or removed, with their mode and content.
func (g *golden) changedFiles() string {
	g.t.Helper()
	var b strings.Builder
	seen := map[string]bool{}
	err := filepath.WalkDir(g.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(g.dir, p)
		rel = filepath.ToSlash(rel)
		seen[rel] = true
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if orig, ok := g.files[rel]; ok && orig == string(data) {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "  %s (%04o):\n", rel, info.Mode().Perm())
		for _, line := range strings.SplitAfter(string(data), "\n") {
			if line != "" {
				fmt.Fprintf(&b, "    |%s", strings.TrimRight(line, "\n"))
				b.WriteString("\n")
			}
		}
		return nil
	})
	if err != nil {
		g.t.Fatal(err)
	}
	var gone []string
	for name := range g.files {
		if !seen[name] {
			gone = append(gone, name)
		}
	}
	sort.Strings(gone)
	for _, name := range gone {
		fmt.Fprintf(&b, "  %s: removed\n", name)
	}
	return b.String()
}

// writeGolden replaces (or appends) the golden sections of the archive.
func writeGolden(t *testing.T, path string, ar *txtar.Archive, got map[string]string) {
	t.Helper()
	for _, name := range []string{sectionPlan, sectionApply} {
		text, ok := got[name]
		if !ok {
			continue
		}
		found := false
		for i := range ar.Files {
			if ar.Files[i].Name == name {
				ar.Files[i].Data = []byte(text)
				found = true
			}
		}
		if !found {
			ar.Files = append(ar.Files, txtar.File{Name: name, Data: []byte(text)})
		}
	}
	if err := os.WriteFile(path, txtar.Format(ar), 0o644); err != nil {
		t.Fatal(err)
	}
}

// lineDiff shows want and got line by line, marking the lines that differ.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for i := 0; i < len(w) || i < len(g); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl == gl {
			fmt.Fprintf(&b, "    %s\n", wl)
			continue
		}
		if i < len(w) {
			fmt.Fprintf(&b, "  - %s\n", wl)
		}
		if i < len(g) {
			fmt.Fprintf(&b, "  + %s\n", gl)
		}
	}
	return b.String()
}
