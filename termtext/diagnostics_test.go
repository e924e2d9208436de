package termtext

import (
	"bytes"
	"math/rand"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// parse parses src as one file and returns the file map and diagnostics
// a CLI would print.
func parse(t *testing.T, name string, src []byte) (map[string]*hcl.File, hcl.Diagnostics) {
	t.Helper()
	f, diags := hclsyntax.ParseConfig(src, name, hcl.InitialPos)
	return map[string]*hcl.File{name: f}, diags
}

func write(t *testing.T, files map[string]*hcl.File, diags hcl.Diagnostics, color bool) string {
	t.Helper()
	var buf bytes.Buffer
	if err := WriteDiagnostics(&buf, files, diags, DiagnosticOptions{Color: color}); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// TestWriteDiagnosticsAsHCLDoes checks that, for ordinary runbooks, what
// WriteDiagnostics writes is what hcl's writer writes: the same snippets,
// line numbers and highlights.
func TestWriteDiagnosticsAsHCLDoes(t *testing.T) {
	paths, _ := filepath.Glob("../engine/runbook/testdata/invalid/*.hcl")
	if len(paths) == 0 {
		t.Fatal("no fixtures")
	}
	srcs := map[string][]byte{
		"multi.hcl": []byte("runbook \"x\" {\n  title = \"a\"\n}\nlocals {\n  a = [\n    1,\n    2 +,\n  ]\n}\n"),
		"crlf.hcl":  []byte("runbook \"x\" {\r\n  title = = 1\r\n}\r\n"),
		"tabs.hcl":  []byte("runbook \"x\" {\n\ttitle = = \"日本\"\n}\n"),
	}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if !utf8.Valid(b) {
			continue // not ordinary: its bytes are shown escaped
		}
		srcs[filepath.Base(p)] = b
	}
	for name, src := range srcs {
		files, diags := parse(t, name, src)
		// Diagnostics with a context range too, as decoding makes them.
		if f := files[name]; f != nil {
			_, more := f.Body.Content(&hcl.BodySchema{})
			diags = append(diags, more...)
		}
		if len(diags) > MaxDiagnostics {
			diags = diags[:MaxDiagnostics]
		}
		for _, color := range []bool{false, true} {
			var want bytes.Buffer
			if err := hcl.NewDiagnosticTextWriter(&want, files, 0, color).WriteDiagnostics(diags); err != nil {
				t.Fatal(err)
			}
			if got := write(t, files, diags, color); got != want.String() {
				t.Errorf("%s (colour %v): differs from hcl's writer\ngot:\n%s\nwant:\n%s", name, color, got, want.String())
			}
		}
	}
}

func TestWriteDiagnosticsEscapesWhatTheyQuote(t *testing.T) {
	name := "evil\x1b[8A\u202e.hcl"
	src := []byte("runbook \"x\" {\n  title = \"\x1b[8A\x1b[J\u202e\" + = \x9b2J\n}\n")
	files, diags := parse(t, name, src)
	if !diags.HasErrors() {
		t.Fatal("no diagnostics")
	}
	diags = append(diags, &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  "Bad \x1b[2K summary",
		Detail:   "A detail\nover two lines \x1b]0;title\x07 \u2066.",
		Subject:  diags[0].Subject,
	})
	for _, color := range []bool{false, true} {
		out := write(t, files, diags, color)
		if color {
			out = regexp.MustCompile(`\x1b\[(?:0|31|33|1;4)m`).ReplaceAllString(out, "")
		}
		if !IsSafe(out) {
			t.Errorf("colour %v: the output holds hidden characters:\n%q", color, out)
		}
		for _, want := range []string{`evil\x1b[8A\u202e.hcl line 2`, `   2:   title = "\x1b[8A\x1b[J\u202e" + = \x9b2J`, "A detail\nover two lines"} {
			if !strings.Contains(out, want) {
				t.Errorf("colour %v: the output lacks %q:\n%s", color, want, out)
			}
		}
	}
	// The highlight still covers the subject (the byte that is not
	// UTF-8), now escaped.
	out := write(t, files, diags[:1], true)
	if !strings.Contains(out, "\x1b[1;4m\\x9b\x1b[0m2J") {
		t.Errorf("the subject is not highlighted:\n%q", out)
	}
}

func TestWriteDiagnosticsCountsWhatItLeavesOut(t *testing.T) {
	var diags hcl.Diagnostics
	for i := 0; i < 5000; i++ {
		sev := hcl.DiagWarning
		if i%2 == 1 {
			sev = hcl.DiagError
		}
		diags = append(diags, &hcl.Diagnostic{Severity: sev, Summary: "S", Detail: "D."})
	}
	out := write(t, nil, diags, false)
	if n := strings.Count(out, "Error: S"); n != MaxDiagnostics {
		t.Errorf("%d errors written, want %d", n, MaxDiagnostics)
	}
	if strings.Contains(out, "Warning") {
		t.Error("a warning was written before every error")
	}
	if !strings.Contains(out, "...and 2490 more errors and 2500 more warnings.") {
		t.Errorf("the rest are not counted:\n%s", out[len(out)-200:])
	}
}

// TestWriteDiagnosticsOfRandomBytes is the input that took minutes: a
// file of random bytes, each bad character a diagnostic that echoed the
// whole line. What is written is bounded by the number shown, not by the
// file.
func TestWriteDiagnosticsOfRandomBytes(t *testing.T) {
	src := make([]byte, 1<<20)
	rand.New(rand.NewSource(1)).Read(src)
	files, diags := parse(t, "random.hcl", src)
	if len(diags) < 1000 {
		t.Fatalf("only %d diagnostics", len(diags))
	}
	out := write(t, files, diags, false)
	if len(out) > 20000 {
		t.Errorf("%d bytes written for %d diagnostics", len(out), len(diags))
	}
	if !IsSafe(out) {
		t.Error("the output holds hidden characters")
	}
}

func TestWriteDiagnosticsCutsLongLinesAndValues(t *testing.T) {
	long := strings.Repeat("a", 10<<20)
	src := []byte("runbook \"x\" {\n  title = \"" + long + "\" = 1\n}\n")
	files, diags := parse(t, "long.hcl", src)
	if !diags.HasErrors() {
		t.Fatal("no diagnostics")
	}
	expr, _ := hclsyntax.ParseExpression([]byte("var.big"), "expr.hcl", hcl.InitialPos)
	diags = append(diags, &hcl.Diagnostic{
		Severity: hcl.DiagError, Summary: "Bad " + long, Detail: "The value " + long + " is wrong.",
		Subject: diags[0].Subject, Expression: expr,
		EvalContext: &hcl.EvalContext{Variables: map[string]cty.Value{"var": cty.ObjectVal(map[string]cty.Value{"big": cty.StringVal(long)})}},
	})
	out := write(t, files, diags, true)
	if len(out) > 10000 {
		t.Fatalf("%d bytes written", len(out))
	}
	for _, want := range []string{"   2: ...aaa", "aaa\" \x1b[1;4m=\x1b[0m 1\n", "10485780 characters in all; cut", "with var.big as \"aaa"} {
		if !strings.Contains(out, want) {
			t.Errorf("the output lacks %q:\n%s", want, out)
		}
	}
}
