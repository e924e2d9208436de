// Package diagtest runs corpora of invalid runbooks: each fixture marks the
// line where a diagnostic's Subject must start with `# ERROR: <Summary>`
// (as terraform's internal/configs tests do), and the diagnostics a check
// returns are compared with the markers, line by line.
package diagtest

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

// Corpus runs check on every file glob matches, as a subtest named after
// the file. check gets the file's base name and bytes and returns the
// diagnostics to compare. Every diagnostic must have a Subject in that file
// and a Detail; the errors must be exactly the ones the markers name.
func Corpus(t *testing.T, glob string, check func(t *testing.T, name string, src []byte) hcl.Diagnostics) {
	t.Helper()
	paths, err := filepath.Glob(glob)
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) == 0 {
		t.Fatalf("no fixtures match %s", glob)
	}
	for _, p := range paths {
		name := filepath.Base(p)
		t.Run(strings.TrimSuffix(name, filepath.Ext(name)), func(t *testing.T) {
			src, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			want := Markers(src)
			if len(want) == 0 {
				t.Fatal("fixture has no # ERROR: marker")
			}
			diags := check(t, name, src)
			var got []string
			for _, d := range diags {
				if d.Subject == nil {
					t.Errorf("diagnostic %q has no Subject", d.Summary)
					continue
				}
				if d.Subject.Filename != name {
					t.Errorf("diagnostic %q names file %q, want %q", d.Summary, d.Subject.Filename, name)
				}
				if d.Detail == "" {
					t.Errorf("diagnostic %q has no Detail", d.Summary)
				}
				if d.Severity == hcl.DiagError {
					got = append(got, fmt.Sprintf("%d: %s", d.Subject.Start.Line, d.Summary))
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

// Markers returns "LINE: Summary" for every `# ERROR: Summary` in src,
// sorted.
func Markers(src []byte) []string {
	var want []string
	sc := bufio.NewScanner(bytes.NewReader(src))
	for line := 1; sc.Scan(); line++ {
		if _, after, ok := strings.Cut(sc.Text(), "# ERROR: "); ok {
			want = append(want, fmt.Sprintf("%d: %s", line, strings.TrimSpace(after)))
		}
	}
	sort.Strings(want)
	return want
}
