package adversarial

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The attacks in this file put text that acts on a terminal where rebind
// prints it: ESC sequences that move the cursor up and erase what a
// reviewer was reading (ESC[8A ESC[J), an OSC that retitles the window, C1
// controls, and bidi overrides that reorder a line (Trojan Source). They
// come in through a runbook's title, a variable, a fan-out key that ends
// up in addresses and file paths, an author's error message, and a
// command's stderr standing in for what a directory answers. Every output
// of every command must show them as escapes.

// terminalRunbook writes its runbook to a file byte for byte: the hostile
// characters are written as HCL escapes, so the file itself is plain text.
const terminalRunbook = `runbook "terminal" {
  title = "Routine fix \u001b[8A\u001b[J\u202egnp.exe\u2066"
}

variable "note" {
  type    = string
  default = "n\u001b]0;pwned\u0007"
}

step "file" "keys" {
  for_each = toset(["ok\u001b[2K\u202e", "plain\u009b1m"])
  path     = "out/${each.key}.txt"
  content  = "c\u001b[8A ${var.note}"
}

step "assert" "fails" {
  condition     = false
  error_message = "stop \u001b[8A\u001b[J\u009b2J\u2066hidden\u2069"
}
`

// execRunbook fails on a command whose stderr carries escapes, as a
// directory's error text could.
const execRunbook = `runbook "stderr" {
  title = "stderr"
}

step "file" "before" {
  path    = "out/before.txt"
  content = "x"
}

step "exec" "noisy" {
  command = ["sh", "-c", "printf 'denied \\033[8A\\033[J\\342\\200\\256 and \\302\\233' >&2; exit 3"]
}
`

// assertShowsNoControls fails when r wrote a character that acts on a
// terminal or reorders text (anything but newline and tab), or a Go
// panic. NO_COLOR is set, so not even rebind's own colours may appear.
func assertShowsNoControls(t *testing.T, r result) {
	t.Helper()
	for _, stream := range []struct{ name, text string }{{"stdout", r.Stdout}, {"stderr", r.Stderr}} {
		for i, line := range strings.Split(stream.text, "\n") {
			if bad := hiddenIn(line); bad != "" {
				t.Errorf("rebind %q: %s line %d holds %s raw: %q", r.Args, stream.name, i+1, bad, clip(line))
			}
		}
	}
	assertNoPanic(t, r)
}

// hiddenIn names the first character in s that must not reach a terminal
// raw, "" when there is none.
func hiddenIn(s string) string {
	for i, c := range s {
		switch {
		case c == '\t':
		case c == 0xfffd && strings.HasPrefix(s[i:], "\xef\xbf\xbd"):
			// U+FFFD written as such is a visible character.
		case c == 0xfffd:
			return "a byte that is not UTF-8"
		case c < 0x20 || c == 0x7f || (c >= 0x80 && c <= 0x9f):
			return fmt.Sprintf("control %U", c)
		case c >= 0x202a && c <= 0x202e, c >= 0x2066 && c <= 0x2069, c == 0x200e, c == 0x200f, c == 0x061c:
			return "a bidi control"
		}
	}
	return ""
}

var goPanic = regexp.MustCompile(`(?m)^(panic: |fatal error: |goroutine \d+ \[|runtime\.)`)

// assertNoPanic fails when r's output holds a Go panic or stack trace.
func assertNoPanic(t *testing.T, r result) {
	t.Helper()
	if goPanic.MatchString(r.Output()) {
		t.Errorf("rebind %q: a panic or a stack trace:\n%s", r.Args, clip(r.Output()))
	}
}

// clip keeps a failure message readable when an output is huge.
func clip(s string) string {
	if len(s) > 2000 {
		return s[:1000] + "\n[...]\n" + s[len(s)-1000:]
	}
	return s
}

func TestTerminalControlsInPlanShowApplyAndRuns(t *testing.T) {
	w := newWorkspace(t)
	rb := w.write("terminal.hcl", terminalRunbook)
	check := func(args ...string) result {
		t.Helper()
		r := w.run(args...)
		assertShowsNoControls(t, r)
		return r
	}

	mustSucceed(t, check("validate", rb))
	r := check("plan", rb, "-var", "note=v\x1b[8A\x1b[J\u202e", "-out", "p.plan")
	mustSucceed(t, r)
	if !strings.Contains(r.Stdout, `\x1b[8A`) {
		t.Errorf("the plan does not show the escapes it hides:\n%s", r.Stdout)
	}
	mustSucceed(t, check("plan", rb, "-json"))
	for _, format := range []string{"text", "json", "markdown", "html"} {
		r := check("show", "p.plan", "--format", format)
		mustSucceed(t, r)
		if format == "json" {
			var v map[string]any
			if err := json.Unmarshal([]byte(r.Stdout), &v); err != nil {
				t.Errorf("show --format json is not JSON: %v", err)
			}
		}
	}
	mustSucceed(t, check("show", "p.plan", "--format", "markdown", "--redact"))

	// The assert step fails with the author's message; the file steps
	// are rolled back, each reported by its address.
	mustFail(t, check("apply", rb, "-auto-approve"))
	runs := check("runs")
	mustSucceed(t, runs)
	mustSucceed(t, check("runs", "--json"))
	id := lastRunID(t, w)
	mustSucceed(t, check("runs", "show", id))
	mustSucceed(t, check("runs", "show", id, "--json"))
	check("rollback", id)
	check("resume", id)

	ex := w.write("stderr.hcl", execRunbook)
	mustFail(t, check("apply", ex, "-auto-approve"))
	id = lastRunID(t, w)
	r = check("runs", "show", id)
	if !strings.Contains(r.Output(), `denied \x1b[8A`) {
		t.Errorf("runs show does not show the command's error escaped:\n%s", r.Output())
	}
}

// TestTerminalControlsInPaths gives rebind a runbook and a plan whose file
// names hold escapes: they come back in errors and diagnostics.
func TestTerminalControlsInPaths(t *testing.T) {
	w := newWorkspace(t)
	name := "evil\x1b[8A\x1b[J\u202e.hcl"
	w.write(name, "runbook \"x\" {\n  title = = 1\n}\n")
	// Raw bytes in the lines a diagnostic's snippet shows, and in a label
	// the context line names.
	w.write("raw.hcl", "runbook \"x\" {\n  title = \"\x1b[8A\x1b[J\u202e\" = \x9b2J\n}\n")
	w.write("label.hcl", "runbook \"x\" {}\nstep \"file\" \"a\x1b[2K\u202e\" {\n  path = \"p\"\n  content = \"c\"\n  bogus = 1\n}\n")
	for _, args := range [][]string{
		{"validate", "raw.hcl"},
		{"validate", "label.hcl"},
		{"validate", name},
		{"plan", name},
		{"show", "missing\x1b[2J.plan"},
		{"apply", "missing\x1b[2J\u202e.plan"},
		{"runs", "show", "run\x1b[2J"},
		{"plan", filepath.Join(w.Dir, "none\x1b[J"+".hcl")},
	} {
		r := w.run(args...)
		mustFail(t, r)
		assertShowsNoControls(t, r)
	}
	if _, err := os.Stat(filepath.Join(w.Dir, name)); err != nil {
		t.Fatal(err)
	}
}

// lastRunID is the newest run's id, from runs --json.
func lastRunID(t *testing.T, w *workspace) string {
	t.Helper()
	r := w.run("runs", "--json")
	mustSucceed(t, r)
	var runs []struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal([]byte(r.Stdout), &runs); err != nil || len(runs) == 0 {
		t.Fatalf("runs --json: %v\n%s", err, r.Stdout)
	}
	return runs[len(runs)-1].ID
}
