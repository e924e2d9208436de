package runbook

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoadSources checks that no input, however malformed, makes the parser
// panic, and that every diagnostic it returns points somewhere.
func FuzzLoadSources(f *testing.F) {
	for _, pattern := range []string{"testdata/valid/*.hcl", "testdata/valid/*/*.hcl", "testdata/invalid/*.hcl"} {
		paths, err := filepath.Glob(pattern)
		if err != nil {
			f.Fatal(err)
		}
		for _, p := range paths {
			src, err := os.ReadFile(p)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(src)
		}
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		rb, diags := LoadSources(".", map[string][]byte{"main.hcl": src})
		if rb == nil {
			t.Fatal("LoadSources returned a nil runbook")
		}
		for _, d := range diags {
			if d.Subject == nil {
				t.Fatalf("diagnostic %q has no Subject", d.Summary)
			}
		}
	})
}
