package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rebind-dev/rebind/diagnose"
)

// diagnoseLab runs `rebind --lab URL diagnose --json --var-dir DIR` and
// returns the report and the var files' folder.
func diagnoseLab(t *testing.T, url string) (diagnose.Report, string) {
	t.Helper()
	dir := t.TempDir()
	code, out, errs := runMain(t, "--lab", url, "--state-dir", t.TempDir(), "diagnose", "--json", "--var-dir", dir)
	if code != 0 {
		t.Fatalf("diagnose: exit %d\n%s%s", code, out, errs)
	}
	var rep diagnose.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("diagnose --json: %v\n%s", err, out)
	}
	return rep, dir
}

// copyRunbook copies a bundled runbook's main.hcl into a folder of its own,
// without its rehearsal.json, so that a rehearsal runs with the variables
// it is given and nothing else.
func copyRunbook(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "runbooks", name, "main.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "main.hcl"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestDiagnoseFindsEachSeedAndItsRunbookRehearses diagnoses each seed's lab
// scenario over the lab's public endpoints, checks the signature and the
// runbook it proposes, and rehearses that runbook against the same scenario
// with the -var-file diagnose wrote and nothing else: the rehearsal must
// succeed. The one input diagnose cannot read with the lab's app-only
// token is the Global Administrator's reading of a sync switch (Graph
// serves it delegated only); diagnose says so in the finding, and the test
// adds it as the admin would, from the scenario's organization.
func TestDiagnoseFindsEachSeedAndItsRunbookRehearses(t *testing.T) {
	cases := []struct {
		scenario  string
		signature string
		runbook   string
		objects   []string // the first finding's objects include these
		count     int      // findings with this signature
	}{
		{"restore-mistake", "seed-000-restore-mistake", "restore-mistake", []string{"nicki@contoso.com"}, 1},
		{"rebuilt-ad", "seed-001-rebuilt-ad", "rebuilt-ad-hard-match", []string{"user01@contoso.com", "user12@contoso.com"}, 1},
		{"archive-guid-mismatch", "seed-002-archive-guid", "archive-guid-mismatch", []string{"arch1@contoso.com", "arch2@contoso.com", "arch3@contoso.com"}, 3},
		{"exchange-guid-in-use", "seed-002-guid-in-use", "exchange-guid-in-use", []string{"erin@contoso.com", "erin"}, 2},
		{"offboard-relink", "seed-003-offboard-relink", "offboard-relink", []string{"dana@contoso.com", "eli@contoso.com"}, 1},
	}
	for _, c := range cases {
		t.Run(c.scenario, func(t *testing.T) {
			in := scenarioLab(t, c.scenario)
			org := in.Tenant.Organization()
			in.Close()
			in = scenarioLab(t, c.scenario)
			rep, varDir := diagnoseLab(t, in.URL)
			in.Close()
			var found []int
			for i, f := range rep.Findings {
				if f.Signature == c.signature {
					found = append(found, i)
				}
			}
			if len(found) != c.count {
				t.Fatalf("want %d findings %s, got %d: %+v", c.count, c.signature, len(found), rep.Findings)
			}
			first := rep.Findings[found[0]]
			var named []string
			for _, i := range found {
				named = append(named, rep.Findings[i].Objects...)
			}
			for _, o := range c.objects {
				if !strings.Contains(strings.Join(named, "\n"), o) {
					t.Errorf("findings %s name %v, not %s", c.signature, named, o)
				}
			}
			if first.Runbook != c.runbook || len(first.Evidence) == 0 {
				t.Fatalf("finding %s proposes %q with evidence %v, want %s", c.signature, first.Runbook, first.Evidence, c.runbook)
			}
			rb := copyRunbook(t, c.runbook)
			for _, i := range found {
				f := rep.Findings[i]
				args := []string{"rehearse", rb, "--scenario", c.scenario, "--var-file",
					filepath.Join(varDir, fmt.Sprintf("%02d-%s.json", i+1, f.Runbook))}
				for _, r := range f.Refusals {
					switch {
					case strings.HasPrefix(r, "unknown:") && strings.Contains(r, "soft_match_blocked"):
						args = append(args, "-var", "soft_match_blocked="+yesNo(org.BlockSoftMatch))
					case strings.HasPrefix(r, "unknown:") && strings.Contains(r, "takeover_blocked"):
						args = append(args, "-var", "takeover_blocked="+yesNo(org.BlockHardMatchTakeover))
					case strings.HasPrefix(r, "refuses:"):
						t.Errorf("finding %d (%s) predicts a refusal in a scenario its runbook fixes: %s", i, f.Signature, r)
					}
				}
				start := time.Now()
				code, out, errs := runMain(t, args...)
				if code != 0 || !strings.Contains(out, "Rehearsal succeeded") {
					t.Errorf("rehearsal of %s with diagnose's variables for %v: exit %d\n%s%s", f.Runbook, f.Objects, code, tail(out, 3000), errs)
				}
				t.Logf("%s for %v rehearsed in %s", f.Runbook, f.Objects, time.Since(start).Round(time.Millisecond))
			}
		})
	}
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// TestDiagnoseDuplicateAttributeResiliency finds the cloud users duplicate
// attribute resiliency created in the -dar scenarios, and predicts that the
// seed's runbook refuses while they hold the anchor.
func TestDiagnoseDuplicateAttributeResiliency(t *testing.T) {
	for _, c := range []struct{ scenario, signature string }{
		{"restore-mistake-dar", "seed-000-restore-mistake"},
		{"rebuilt-ad-dar", "seed-001-rebuilt-ad"},
	} {
		t.Run(c.scenario, func(t *testing.T) {
			in := scenarioLab(t, c.scenario)
			rep, _ := diagnoseLab(t, in.URL)
			dups, refused := 0, false
			for _, f := range rep.Findings {
				if f.Signature == "dar-duplicate" {
					dups++
					if f.Runbook != "" || len(f.Steps) == 0 || !strings.Contains(f.Objects[0], "+") {
						t.Errorf("duplicate finding: %+v", f)
					}
				}
				if f.Signature == c.signature {
					for _, r := range f.Refusals {
						refused = refused || strings.HasPrefix(r, "refuses:") && strings.Contains(r, "duplicate attribute resiliency")
					}
				}
			}
			if dups == 0 || !refused {
				t.Errorf("want duplicate findings and a predicted refusal of %s, got %+v", c.signature, rep.Findings)
			}
		})
	}
}

// TestDiagnoseHealthyReportsNothing: no finding on a healthy tenant, read
// live over the lab's endpoints, and offline from its snapshot (text and
// Markdown say so too).
func TestDiagnoseHealthyReportsNothing(t *testing.T) {
	in := scenarioLab(t, "healthy")
	rep, _ := diagnoseLab(t, in.URL)
	if len(rep.Findings) != 0 || rep.Counts.Users != 26 || rep.Counts.ADUsers != 25 {
		t.Fatalf("healthy: %+v", rep)
	}
	file := filepath.Join(t.TempDir(), "snap.json")
	if code, _, errs := runMain(t, "--lab", in.URL, "--state-dir", t.TempDir(), "snapshot", "-o", file); code != 0 {
		t.Fatal(errs)
	}
	for _, format := range []string{"", "--markdown"} {
		args := []string{"diagnose", "--snapshot", file}
		if format != "" {
			args = append(args, format)
		}
		code, out, errs := runMain(t, args...)
		if code != 0 || !strings.Contains(out, "No failure signature") || !strings.Contains(out, "Permissions used") {
			t.Errorf("diagnose %v: exit %d\n%s%s", args, code, out, errs)
		}
	}
}

// TestDiagnoseHealthy100k reads the 100,000-user tenant live, in bulk, and
// reports nothing: at most one request per 100 users.
func TestDiagnoseHealthy100k(t *testing.T) {
	in := scenarioLab(t, "healthy-100k")
	start := time.Now()
	rep, _ := diagnoseLab(t, in.URL)
	took := time.Since(start)
	requests := 0
	for _, r := range rep.Reads {
		requests += r.Requests
	}
	t.Logf("healthy-100k diagnosed in %s with %d requests: %+v", took.Round(time.Millisecond), requests, rep.Reads)
	if len(rep.Findings) != 0 {
		t.Errorf("healthy-100k: %d findings, the first %+v", len(rep.Findings), rep.Findings[0])
	}
	if rep.Counts.Users != 100_000 || rep.Counts.ADUsers != 100_000 || rep.Counts.Recipients != 100_000 {
		t.Errorf("healthy-100k: read %+v", rep.Counts)
	}
	if requests > 1000 {
		t.Errorf("healthy-100k: %d requests, more than one per 100 users", requests)
	}
}

// TestDiagnoseAndRehearseOnATwin is the whole offline flow on a tenant's
// twin: a snapshot over the public endpoints, `diagnose --snapshot` (no
// tenant contacted), and `rehearse --snapshot` of each proposed runbook
// with the -var-file diagnose wrote. The twin differs from the scenario
// where no API shows the state (duplicate attribute resiliency is on in
// the twin, as in every tenant), and the rehearsals succeed all the same.
//
// The redacted cases do the same on a redacted snapshot: the names in the
// findings and their -var-files are pseudonyms, and the rehearsals
// succeed with them.
func TestDiagnoseAndRehearseOnATwin(t *testing.T) {
	for _, c := range []struct {
		scenario string
		redact   bool
	}{{"restore-mistake", false}, {"archive-guid-mismatch", false}, {"exchange-guid-in-use", false}, {"offboard-relink", false},
		{"rebuilt-ad", false}, {"restore-mistake", true}, {"exchange-guid-in-use", true}, {"archive-guid-mismatch", true}} {
		scenario := c.scenario
		name := scenario
		if c.redact {
			name += "-redacted"
		}
		t.Run(name, func(t *testing.T) {
			in := scenarioLab(t, scenario)
			org := in.Tenant.Organization()
			file := filepath.Join(t.TempDir(), "snap.json")
			args := []string{"--lab", in.URL, "--state-dir", t.TempDir(), "snapshot", "-o", file}
			if c.redact {
				args = append(args, "--redact", "--redact-key", "test-key")
			}
			code, _, errs := runMain(t, args...)
			in.Close() // the rest works offline
			if code != 0 {
				t.Fatal(errs)
			}
			varDir := t.TempDir()
			code, out, errs := runMain(t, "diagnose", "--snapshot", file, "--json", "--var-dir", varDir)
			if code != 0 {
				t.Fatalf("diagnose --snapshot: exit %d\n%s%s", code, out, errs)
			}
			var rep diagnose.Report
			if err := json.Unmarshal([]byte(out), &rep); err != nil {
				t.Fatal(err)
			}
			if c.redact && strings.Contains(out, "contoso") {
				t.Errorf("diagnose of a redacted snapshot names contoso:\n%s", out)
			}
			rehearsed := 0
			for i, f := range rep.Findings {
				if f.Runbook == "" {
					continue
				}
				args := []string{"rehearse", f.Runbook, "--snapshot", file, "--var-file", filepath.Join(varDir, fmt.Sprintf("%02d-%s.json", i+1, f.Runbook))}
				for _, r := range f.Refusals {
					if strings.HasPrefix(r, "unknown:") && strings.Contains(r, "soft_match_blocked") {
						args = append(args, "-var", "soft_match_blocked="+yesNo(org.BlockSoftMatch))
					}
					if strings.HasPrefix(r, "unknown:") && strings.Contains(r, "takeover_blocked") {
						args = append(args, "-var", "takeover_blocked="+yesNo(org.BlockHardMatchTakeover))
					}
				}
				code, out, errs := runMain(t, args...)
				if code != 0 || !strings.Contains(out, "Rehearsal succeeded") || !strings.Contains(out, "against snapshot") {
					t.Errorf("rehearse %s on the twin for %v: exit %d\n%s%s", f.Runbook, f.Objects, code, tail(out, 3000), errs)
				}
				rehearsed++
			}
			if rehearsed == 0 {
				t.Errorf("diagnose proposed no runbook on the twin of %s: %+v", scenario, rep.Findings)
			}
		})
	}
}

// TestDiagnosePredictsHoldRefusal: in exchange-guid-in-use-held, frank's
// old mailbox is kept by an organization-wide retention policy, which
// exchange-guid-in-use does not remove: diagnose predicts the refusal, and
// the plan refuses.
func TestDiagnosePredictsHoldRefusal(t *testing.T) {
	in := scenarioLab(t, "exchange-guid-in-use-held")
	rep, varDir := diagnoseLab(t, in.URL)
	for i, f := range rep.Findings {
		if f.Vars["upn"] != "frank@contoso.com" {
			continue
		}
		if !strings.Contains(strings.Join(f.Refusals, "\n"), "refuses: frank.old is kept by the hold mbx") {
			t.Errorf("no predicted refusal: %+v", f)
		}
		code, out, errs := runMain(t, "--lab", in.URL, "--state-dir", t.TempDir(), "plan", f.Runbook, "-var-file", filepath.Join(varDir, fmt.Sprintf("%02d-%s.json", i+1, f.Runbook)))
		if code == 0 || !strings.Contains(out+errs, "mbx7cfb30345d454ac0a989ab3041051209") {
			t.Errorf("the plan did not refuse on the hold: exit %d\n%s%s", code, out, errs)
		}
		return
	}
	t.Fatalf("frank not found: %+v", rep.Findings)
}
