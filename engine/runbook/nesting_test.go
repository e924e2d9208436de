package runbook

import (
	"strings"
	"testing"
)

// deep is each kind of nesting a hostile runbook can pile up, n deep.
func deep(n int) map[string]string {
	return map[string]string{
		"parentheses":    strings.Repeat("(", n) + "1" + strings.Repeat(")", n),
		"brackets":       strings.Repeat("[", n) + strings.Repeat("]", n),
		"braces":         strings.Repeat("{a = ", n) + "1" + strings.Repeat("}", n),
		"interpolations": strings.Repeat(`"${`, n) + "1" + strings.Repeat(`}"`, n),
		"directives":     `"` + strings.Repeat("%{ if true }", n) + "x" + strings.Repeat("%{ endif }", n) + `"`,
		"heredocs":       strings.Repeat("<<EOT\n${", n) + "1" + strings.Repeat("}\nEOT\n", n),
		"plus":           strings.Repeat("1 + ", n) + "1",
		"not":            strings.Repeat("!", n) + "true",
		"minus":          strings.Repeat("-", n) + "1",
		"conditionals":   strings.Repeat("true ? 1 : ", n) + "0",
		"indexes":        "local.a" + strings.Repeat("[local.i]", n),
		"calls":          strings.Repeat("abs(", n) + "1" + strings.Repeat(")", n),
	}
}

// TestDeepNestingIsRefusedBeforeParsing gives the parser 100,000 levels of
// each kind: the parser would overflow its stack (parentheses took 1.1 GB
// and crashed) or build a tree a walk cannot descend; it is refused
// at the first level too deep, with its line. (The size limits also refuse
// most of these for their size.)
func TestDeepNestingIsRefusedBeforeParsing(t *testing.T) {
	for kind, expr := range deep(100_000) {
		t.Run(kind, func(t *testing.T) {
			src := "runbook \"x\" {}\n\nlocals {\n  x = " + expr + "\n}\n"
			_, diags := parseNative([]byte(src), "main.hcl")
			if len(diags) != 1 || diags[0].Summary != "Nested too deeply" {
				t.Fatalf("diagnostics: %v", diags)
			}
			if s := diags[0].Subject; s == nil || s.Filename != "main.hcl" || s.Start.Line < 4 {
				t.Errorf("subject %v, want main.hcl from line 4", s)
			}
		})
	}
	t.Run("blocks", func(t *testing.T) {
		src := "runbook \"x\" {}\nstep \"file\" \"f\" {\n" + strings.Repeat("a {\n", 100_000) + strings.Repeat("}\n", 100_001)
		_, diags := parseNative([]byte(src), "main.hcl")
		if len(diags) != 1 || diags[0].Summary != "Nested too deeply" || diags[0].Subject.Start.Line != 2+MaxNesting {
			t.Fatalf("diagnostics: %v", diags)
		}
	})
}

// TestNestingWithinTheLimitParses checks that the limit leaves room: every
// kind, a quarter of MaxNesting deep, parses (a string with an
// interpolation in it is two levels, as it is to the parser).
func TestNestingWithinTheLimitParses(t *testing.T) {
	for kind, expr := range deep(MaxNesting / 4) {
		src := "runbook \"x\" {}\n\nlocals {\n  a = [1]\n  i = 0\n  x = " + expr + "\n}\n"
		if _, diags := LoadSources(".", map[string][]byte{"main.hcl": []byte(src)}); diags.HasErrors() {
			t.Errorf("%s, %d deep: %v", kind, MaxNesting/4, diags)
		}
	}
	// A long list or object is not deep: items reset the count.
	long := "[" + strings.Repeat("local.a.b.c + 1,\n", 10_000) + "]"
	if _, diags := ParseExpression([]byte(long), "long"); diags.HasErrors() {
		t.Errorf("a long list: %v", diags)
	}
	obj := "{\n" + strings.Repeat("k = a.b.c == 1 && d.e != 2\n", 10_000) + "}"
	if _, diags := ParseExpression([]byte(obj), "obj"); diags.HasErrors() {
		t.Errorf("a long object: %v", diags)
	}
}

func TestParseExpressionRefusesDeepNesting(t *testing.T) {
	_, diags := ParseExpression([]byte(strings.Repeat("[", 100_000)), "-var users")
	if len(diags) == 0 || diags[len(diags)-1].Summary != "Nested too deeply" || diags[len(diags)-1].Subject.Filename != "-var users" {
		t.Fatalf("diagnostics: %v", diags)
	}
}

func TestParseFileChecksJSON(t *testing.T) {
	for _, c := range []struct{ src, summary string }{
		{strings.Repeat(`{"a":`, 100_000) + "1" + strings.Repeat("}", 100_000), "Nested too deeply"},
		{strings.Repeat("[", 100_000), "Nested too deeply"},
		{`{"n": 1e999999999}`, "Number out of range"},
		{`{"n": "1e999999999 in a string is text", "m": -1e-999999999}`, "Number out of range"},
	} {
		_, diags := ParseFile([]byte(c.src), "vars.json")
		if len(diags) != 1 || diags[0].Summary != c.summary {
			t.Errorf("%.40s: %v", c.src, diags)
			continue
		}
		if s := diags[0].Subject; s == nil || s.Filename != "vars.json" {
			t.Errorf("subject %v", s)
		}
	}
	if _, diags := ParseFile([]byte(`{"users": [{"upn": "a@b.c", "n": [1, 2.5, -3e10]}]}`), "vars.json"); diags.HasErrors() {
		t.Errorf("a plain JSON file: %v", diags)
	}
}
