package termtext

import (
	"bytes"
	"regexp"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// FuzzWriteDiagnostics parses any text as a runbook and writes its
// diagnostics: the writer must not panic, whatever ranges the parser
// gives it, and must write no character that acts on a terminal besides
// its own colours.
func FuzzWriteDiagnostics(f *testing.F) {
	for _, s := range []string{
		"runbook \"x\" {\n  title = = 1\n}\n",
		"a = \"\x1b[8A\u202e\" + = \x9b\r\n\tb {\n",
		"locals {\n x = [1,\n 2 +\n}\n",
		"\xff\xfe\x00\n\n\n = ${ %{ <<EOT\n",
	} {
		f.Add([]byte(s), true)
	}
	colours := regexp.MustCompile(`\x1b\[(?:0|31|33|1;4)m`)
	f.Fuzz(func(t *testing.T, src []byte, color bool) {
		file, diags := hclsyntax.ParseConfig(src, "f.hcl", hcl.InitialPos)
		if file != nil {
			_, more := file.Body.Content(&hcl.BodySchema{})
			diags = append(diags, more...)
		}
		var buf bytes.Buffer
		if err := WriteDiagnostics(&buf, map[string]*hcl.File{"f.hcl": file}, diags, DiagnosticOptions{Color: color, Width: 80}); err != nil {
			t.Fatal(err)
		}
		if out := colours.ReplaceAllString(buf.String(), ""); !IsSafe(out) {
			t.Fatalf("hidden characters in %q", out)
		}
	})
}
