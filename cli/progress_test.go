package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vbauerster/mpb/v8"

	"github.com/rebind-dev/rebind/engine"
)

// progressRunbook has one step that is no fan-out, and a fan-out of 24
// commands that take 50 ms each, 4 at a time (about 0.3 s in all).
const progressRunbook = `runbook "progress" { title = "progress" }

step "file" "one" {
  path    = "out/one.txt"
  content = "one\n"
}

step "exec" "slow" {
  for_each        = toset([for i in range(24) : format("k%02d", i)])
  max_concurrency = 4
  command         = ["sleep", "0.05"]
}
`

// runOutput is what apply printed from the start of the run on (before
// it, the plan it shows).
func runOutput(t *testing.T, errs string) string {
	t.Helper()
	i := strings.Index(errs, "\nRun ")
	if i < 0 {
		t.Fatalf("no run started:\n%s", errs)
	}
	return errs[i:]
}

func writeRunbook(t *testing.T, src string) string {
	t.Helper()
	dir := t.TempDir()
	t.Chdir(dir)
	if err := os.WriteFile(filepath.Join(dir, "main.hcl"), []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestProgressOffATerminal checks what apply prints when its output is no
// terminal (a file, a pipe, CI): the step that is no fan-out prints its
// lines as before; the fan-out prints none per instance, but a summary line
// (done / total, rate, ETA, failed, throttled) every --progress-interval
// while it runs and one when it ends. With --verbose, every instance
// prints its lines, each naming the instance.
func TestProgressOffATerminal(t *testing.T) {
	dir := writeRunbook(t, progressRunbook)
	code, _, errs := runMain(t, "apply", "main.hcl", "-auto-approve", "--state-dir", filepath.Join(dir, "state"), "--progress-interval", "20ms")
	if code != 0 {
		t.Fatalf("apply: exit %d\n%s", code, errs)
	}
	errs = runOutput(t, errs)
	if !strings.Contains(errs, "+ step.file.one (create)") || !strings.Contains(errs, "step.file.one done in ") {
		t.Errorf("the single step's lines are missing:\n%s", errs)
	}
	if strings.Contains(errs, `step.exec.slow["`) {
		t.Errorf("fan-out instances printed lines without --verbose:\n%s", errs)
	}
	running := regexp.MustCompile(`(?m)^  \[progress\] step\.exec\.slow: (\d+)/24 done \(\d+\.\d%\) running, [\d.]+/s, ETA (\S+), 0 failed, 0 throttled$`)
	ticks := running.FindAllStringSubmatch(errs, -1)
	if len(ticks) == 0 {
		t.Errorf("no interval line while the fan-out ran:\n%s", errs)
	}
	for i := 1; i < len(ticks); i++ {
		prev, _ := strconv.Atoi(ticks[i-1][1])
		cur, _ := strconv.Atoi(ticks[i][1])
		if cur < prev {
			t.Errorf("the count went back: %q then %q", ticks[i-1][0], ticks[i][0])
		}
	}
	final := regexp.MustCompile(`(?m)^  \[progress\] step\.exec\.slow: 24/24 done \(100\.0%\) finished, [\d.]+/s, took \S+, 0 failed, 0 throttled$`)
	if n := len(final.FindAllString(errs, -1)); n != 1 {
		t.Errorf("%d final lines of the fan-out, want 1:\n%s", n, errs)
	}
	if strings.Contains(errs, "step.file.one: ") {
		t.Errorf("a step that is no fan-out printed a progress line:\n%s", errs)
	}

	// --verbose: a line per instance, each naming it; the summary lines too.
	dir = writeRunbook(t, progressRunbook)
	code, _, errs = runMain(t, "apply", "main.hcl", "-auto-approve", "--state-dir", filepath.Join(dir, "state"), "--verbose")
	if code != 0 {
		t.Fatalf("apply --verbose: exit %d\n%s", code, errs)
	}
	for i := range 24 {
		addr := fmt.Sprintf(`step.exec.slow["k%02d"]`, i)
		if !strings.Contains(errs, "! "+addr+" (run)") || !strings.Contains(errs, addr+" done in ") {
			t.Errorf("--verbose: no lines for %s:\n%s", addr, errs)
		}
	}
	if !final.MatchString(errs) {
		t.Errorf("--verbose: no final line of the fan-out:\n%s", errs)
	}
}

// TestProgressOnATerminal draws the bars as on a terminal (mpb refreshing
// them in a buffer, which has no terminal size to ask) from a run's events: the bar of a fan-out shows its
// name, done / total, rate, failed and throttled counts, and the engine's
// lines print above it.
func TestProgressOnATerminal(t *testing.T) {
	var buf bytes.Buffer
	p := newTTYProgress(&buf, mpb.WithAutoRefresh())
	start := time.Now()
	p.event(engine.Event{Kind: engine.StepStarted, Phase: "apply", Step: "step.entra_immutable_id.bind", Total: 10, FanOut: true, Time: start})
	fmt.Fprintf(p.log(), "a line from the engine\n")
	for i := range 10 {
		oc := engine.OutcomeApplied
		if i == 3 {
			oc = engine.OutcomeFailed
		}
		if i == 5 {
			p.event(engine.Event{Kind: engine.Throttled, Phase: "apply", Step: "step.entra_immutable_id.bind", Wait: time.Second})
		}
		p.event(engine.Event{Kind: engine.InstanceDone, Phase: "apply", Step: "step.entra_immutable_id.bind", Outcome: oc})
	}
	p.event(engine.Event{Kind: engine.StepFinished, Phase: "apply", Step: "step.entra_immutable_id.bind"})
	p.stop()
	out := buf.String()
	for _, want := range []string{"a line from the engine", "step.entra_immutable_id.bind", "10/10", "1 failed, 1 throttled"} {
		if !strings.Contains(out, want) {
			t.Errorf("the terminal shows no %q:\n%q", want, out)
		}
	}
}

// TestRunsShowPages checks `runs show` of a run: the instances of each
// step counted by state, then the records a page at a time, the pages
// adding up to the whole journal; --json carries the same.
func TestRunsShowPages(t *testing.T) {
	dir := writeRunbook(t, `runbook "many" { title = "many" }

step "file" "each" {
  for_each = toset([for i in range(60) : format("f%02d", i)])
  path     = "out/${each.key}.txt"
  content  = "${each.key}\n"
}
`)
	state := filepath.Join(dir, "state")
	if code, _, errs := runMain(t, "apply", "main.hcl", "-auto-approve", "--state-dir", state); code != 0 {
		t.Fatalf("apply: %s", errs)
	}
	code, out, errs := runMain(t, "runs", "--json", "--state-dir", state)
	var runs []runJSON
	if code != 0 || json.Unmarshal([]byte(out), &runs) != nil || len(runs) != 1 {
		t.Fatalf("runs: %d %s %s", code, out, errs)
	}
	id := runs[0].ID

	// The whole journal, for reference.
	code, out, errs = runMain(t, "runs", "show", id, "--json", "--limit", "0", "--state-dir", state)
	type shown struct {
		Steps []struct {
			Step            string
			Instances, Done int
			Failed          int
			InDoubt         int `json:"in_doubt"`
		} `json:"steps"`
		RecordsTotal int `json:"records_total"`
		Page, Pages  int
		Records      []recordJSON `json:"records"`
	}
	var all shown
	if code != 0 || json.Unmarshal([]byte(out), &all) != nil {
		t.Fatalf("runs show --json --limit 0: %d %s %s", code, out, errs)
	}
	if len(all.Steps) != 1 || all.Steps[0].Step != "step.file.each" || all.Steps[0].Instances != 60 || all.Steps[0].Done != 60 {
		t.Errorf("summary %+v, want 60 instances of step.file.each, all done", all.Steps)
	}
	if all.RecordsTotal != len(all.Records) || all.RecordsTotal < 120 || all.Pages != 1 {
		t.Fatalf("%d records of %d on %d pages; want every one of at least 120 on one", len(all.Records), all.RecordsTotal, all.Pages)
	}

	// Pages of 50, as JSON: they add up to the journal.
	var paged []recordJSON
	pages := (all.RecordsTotal + 49) / 50
	for page := 1; page <= pages; page++ {
		code, out, errs := runMain(t, "runs", "show", id, "--json", "--limit", "50", "--page", fmt.Sprint(page), "--state-dir", state)
		var s shown
		if code != 0 || json.Unmarshal([]byte(out), &s) != nil {
			t.Fatalf("page %d: %d %s %s", page, code, out, errs)
		}
		if s.Page != page || s.Pages != pages || s.RecordsTotal != all.RecordsTotal {
			t.Errorf("page %d says page %d of %d, %d records", page, s.Page, s.Pages, s.RecordsTotal)
		}
		paged = append(paged, s.Records...)
	}
	if len(paged) != len(all.Records) {
		t.Fatalf("the pages hold %d records, the journal %d", len(paged), len(all.Records))
	}
	for i := range paged {
		if paged[i].Seq != all.Records[i].Seq {
			t.Fatalf("record %d of the pages is seq %d, want %d", i, paged[i].Seq, all.Records[i].Seq)
		}
	}

	// As text: the summary, then page 2 of 50 records.
	code, out, errs = runMain(t, "runs", "show", id, "--page", "2", "--state-dir", state)
	if code != 0 {
		t.Fatalf("runs show --page 2: %s", errs)
	}
	row := regexp.MustCompile(`(?m)^step\.file\.each\s+60\s+60\s+0\s+0\s+0\s+0\s+0\s*$`)
	if !row.MatchString(out) {
		t.Errorf("no summary row for step.file.each:\n%s", out)
	}
	head := fmt.Sprintf("Records 51-100 of %d (page 2 of %d;", all.RecordsTotal, pages)
	if !strings.Contains(out, head) {
		t.Errorf("no %q:\n%s", head, out)
	}
	lines := regexp.MustCompile(`(?m)^\d+\s+\d\d:\d\d:\d\d\.\d{3}\s+`).FindAllString(out, -1)
	if len(lines) != 50 {
		t.Errorf("%d record lines on page 2, want 50:\n%s", len(lines), out)
	}
	if !strings.Contains(out, fmt.Sprintf("\n%d ", all.Records[50].Seq)) || strings.Contains(out, fmt.Sprintf("\n%d ", all.Records[49].Seq)) {
		t.Errorf("page 2 does not start at the 51st record (seq %d):\n%s", all.Records[50].Seq, out)
	}

	// A page past the end names how many there are.
	code, _, errs = runMain(t, "runs", "show", id, "--page", "99", "--state-dir", state)
	if code != 2 || !strings.Contains(errs, fmt.Sprintf("has %d records, %d pages of 50", all.RecordsTotal, pages)) {
		t.Errorf("--page 99: exit %d, %s", code, errs)
	}
}
