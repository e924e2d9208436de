package runbook

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// TestRunbookSizeIsCapped checks the limit that bounds what HCL's lexer
// and parser may cost: a 1 MiB file of commas took 450 MB. A device that
// never ends (/dev/zero) is read no further than the limit.
func TestRunbookSizeIsCapped(t *testing.T) {
	dense := strings.Repeat(",", MaxRunbookSize+1)
	if _, diags := LoadSources(".", map[string][]byte{"main.hcl": []byte(dense)}); len(diags) != 1 || diags[0].Summary != "Runbook too large" {
		t.Errorf("one file: %v", diags)
	}
	half := []byte("# " + strings.Repeat("x", MaxRunbookSize/2) + "\n")
	if _, diags := LoadSources(".", map[string][]byte{"a.hcl": half, "b.hcl": half}); len(diags) != 1 || diags[0].Summary != "Runbook too large" {
		t.Errorf("two files together: %v", diags)
	}
	dir := t.TempDir()
	for _, n := range []string{"a.hcl", "b.hcl", "c.hcl"} {
		if err := os.WriteFile(filepath.Join(dir, n), half, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if _, diags := Load(dir); len(diags) != 1 || diags[0].Summary != "Runbook too large" {
		t.Errorf("a folder: %v", diags)
	}
	if _, err := os.Stat("/dev/zero"); err == nil {
		if _, diags := Load("/dev/zero"); len(diags) != 1 || diags[0].Summary != "Runbook too large" {
			t.Errorf("/dev/zero: %v", diags)
		}
		if _, err := ReadFile("/dev/zero", 1<<20); err == nil || !strings.Contains(err.Error(), "at most 1 MiB") {
			t.Errorf("ReadFile(/dev/zero): %v", err)
		}
	}
}

// TestRandomBytesGetOneDiagnostic checks that a file that is not UTF-8
// gets one diagnostic, at its first bad byte, not one for each.
func TestRandomBytesGetOneDiagnostic(t *testing.T) {
	src := []byte("runbook \"x\" {}\n# é\n\xff\xfe and more \xff\n")
	_, diags := LoadSources(".", map[string][]byte{"main.hcl": src})
	if len(diags) != 1 || diags[0].Summary != "Invalid character encoding" {
		t.Fatalf("diagnostics: %v", diags)
	}
	if s := diags[0].Subject; s.Start.Line != 3 || s.Start.Column != 1 || s.Start.Byte != len("runbook \"x\" {}\n# é\n") {
		t.Errorf("subject %#v", s)
	}
	if !utf8.Valid(src[:diags[0].Subject.Start.Byte]) {
		t.Error("the subject is not the first bad byte")
	}
}
