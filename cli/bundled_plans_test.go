package cli

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rebind-dev/rebind/engine"
	"github.com/rebind-dev/rebind/engine/plan"
)

var updateBundled = flag.Bool("update", false, "rewrite testdata/bundled/*.golden")

// TestBundledRunbookPlans plans every runbook built into rebind against the
// lab scenario it is rehearsed on, and compares the text and markdown
// renderings with golden files: what a reviewer of each documented
// procedure sees. Run with -update to accept a change after reading it.
var (
	settingsDigest = regexp.MustCompile("settings (`)?sha256:[0-9a-f]{64}")
	labCAFileName  = regexp.MustCompile(`lab-ca-[0-9a-f]{12}\.pem`)
)

func TestBundledRunbookPlans(t *testing.T) {
	names := bundled()
	if len(names) == 0 {
		t.Fatal("no runbooks are built into rebind")
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			reh, err := readRehearsal(name)
			if err != nil || reh.Scenario == "" {
				t.Fatalf("%s: rehearsal.json: %v (scenario %q)", name, err, reh.Scenario)
			}
			in := scenarioLab(t, reh.Scenario)
			rb, diags := loadRunbook(name)
			if diags.HasErrors() {
				t.Fatal(diags.Error())
			}
			work := t.TempDir()
			e := &engine.Engine{Now: func() time.Time { return time.Date(2026, 11, 21, 9, 30, 0, 0, time.UTC) },
				Getenv: func(string) string { return "" }, WorkDir: work}
			if err := bindLab(context.Background(), e, in.URL, filepath.Join(work, ".rebind")); err != nil {
				t.Fatal(err)
			}
			p, diags := e.Plan(context.Background(), rb, engine.Inputs{Vars: reh.Vars}, engine.PlanOptions{Author: "alice@contoso.com"})
			if diags.HasErrors() {
				t.Fatalf("plan against scenario %s: %s", reh.Scenario, diags.Error())
			}
			norm := func(s string) string {
				s = strings.ReplaceAll(s, in.LDAPSURL, "$LDAPS")
				s = strings.ReplaceAll(s, in.URL, "$LAB")
				s = strings.ReplaceAll(s, work, "$WORK")
				s = strings.ReplaceAll(s, p.Digest(), "$DIGEST")
				// The lab's ports, and so its settings' digest and the name
				// of its CA file, change from run to run.
				s = settingsDigest.ReplaceAllString(s, "settings ${1}sha256:$$SETTINGS")
				s = labCAFileName.ReplaceAllString(s, "lab-ca-$$ORIGIN.pem")
				return s
			}
			var text, md bytes.Buffer
			if err := plan.RenderText(&text, p, plan.TextOptions{}); err != nil {
				t.Fatal(err)
			}
			if err := plan.RenderMarkdown(&md, p, plan.RenderOptions{}); err != nil {
				t.Fatal(err)
			}
			for _, g := range []struct{ file, got string }{
				{name + ".txt.golden", norm(text.String())},
				{name + ".md.golden", norm(md.String())},
			} {
				path := filepath.Join("testdata", "bundled", g.file)
				if *updateBundled {
					if err := os.WriteFile(path, []byte(g.got), 0o644); err != nil {
						t.Fatal(err)
					}
					continue
				}
				want, err := os.ReadFile(path)
				if err != nil {
					t.Fatalf("%v (run go test ./cli -run TestBundledRunbookPlans -update to create it)", err)
				}
				if string(want) != g.got {
					t.Errorf("%s differs from the rendering (read it, then -update):\n%s", path, g.got)
				}
			}
		})
	}
}
