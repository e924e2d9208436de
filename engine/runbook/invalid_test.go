package runbook

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
)

// TestInvalidRunbooks loads each file under testdata/invalid and compares its
// error diagnostics with the `# ERROR: <Summary>` markers in it, by line: a
// marker stands on the line where the diagnostic's Subject starts.
func TestInvalidRunbooks(t *testing.T) {
	paths, err := filepath.Glob("testdata/invalid/*.hcl")
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) == 0 {
		t.Fatal("no invalid runbooks found")
	}
	for _, p := range paths {
		t.Run(filepath.Base(p), func(t *testing.T) {
			src, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			want := expectedErrors(src)
			if len(want) == 0 {
				t.Fatal("fixture has no # ERROR: marker")
			}
			_, diags := LoadSources("testdata/invalid", map[string][]byte{filepath.Base(p): src})
			var got []string
			for _, d := range diags {
				if d.Subject == nil {
					t.Errorf("diagnostic %q has no Subject", d.Summary)
					continue
				}
				if d.Severity == hcl.DiagError {
					got = append(got, fmt.Sprintf("%d: %s", d.Subject.Start.Line, d.Summary))
				}
				if d.Detail == "" {
					t.Errorf("diagnostic %q has no Detail", d.Summary)
				}
			}
			sort.Strings(got)
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("diagnostics differ\ngot:\n  %s\nwant:\n  %s\nall:\n%s",
					strings.Join(got, "\n  "), strings.Join(want, "\n  "), diags.Error())
			}
		})
	}
}

func expectedErrors(src []byte) []string {
	var want []string
	sc := bufio.NewScanner(bytes.NewReader(src))
	for line := 1; sc.Scan(); line++ {
		_, after, ok := strings.Cut(sc.Text(), "# ERROR: ")
		if ok {
			want = append(want, fmt.Sprintf("%d: %s", line, strings.TrimSpace(after)))
		}
	}
	sort.Strings(want)
	return want
}
