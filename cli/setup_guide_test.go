package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/rebind-dev/rebind/lab/instance"
)

// guideSection returns the shell lines of the fenced sh blocks of the
// section of docs/setup.md whose heading starts with heading, comments
// after "   #" cut.
func guideSection(t *testing.T, heading string) []string {
	t.Helper()
	src, err := os.ReadFile("../docs/setup.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(src)
	i := strings.Index(text, "\n"+heading)
	if i < 0 {
		t.Fatalf("docs/setup.md has no section %q", heading)
	}
	text = text[i+1:]
	if j := strings.Index(text, "\n## "); j >= 0 {
		text = text[:j]
	}
	var lines []string
	in := false
	for _, l := range strings.Split(text, "\n") {
		switch {
		case strings.HasPrefix(l, "```sh"):
			in = true
		case strings.HasPrefix(l, "```"):
			in = false
		case in && strings.TrimSpace(l) != "":
			if k := strings.Index(l, "   #"); k >= 0 {
				l = l[:k]
			}
			lines = append(lines, strings.TrimSpace(l))
		}
	}
	return lines
}

var doctorSignedIn = regexp.MustCompile(`(?m)^✓\s+entra\.tenant\s+sign-in\s+app-only token`)

var exportLine = regexp.MustCompile(`(?m)^  export (.*)$`)

// parseExports reads NAME=VALUE pairs of export lines, values as
// shellQuote wrote them.
func parseExports(t *testing.T, lines string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, m := range exportLine.FindAllStringSubmatch(lines, -1) {
		rest := m[1]
		for rest != "" {
			name, after, ok := strings.Cut(rest, "=")
			if !ok {
				t.Fatalf("export line %q", m[0])
			}
			var val string
			if strings.HasPrefix(after, "'") {
				end := strings.Index(after[1:], "'")
				if end < 0 {
					t.Fatalf("export line %q", m[0])
				}
				val, rest = after[1:1+end], strings.TrimSpace(after[2+end:])
			} else {
				val, rest, _ = strings.Cut(after, " ")
			}
			out[strings.TrimSpace(name)] = val
		}
	}
	return out
}

// TestSetupGuideAgainstTheLab walks section 1 of docs/setup.md as a new
// admin would, each command as the guide writes it: rehearse, serve a lab
// that writes an environment file, take the credentials it prints into
// the process environment, run doctor and plan with --env against it, show
// the plan, and validate a copy of the sample production environment. Every
// command must succeed; doctor must find nothing missing. The go install
// line is TestVersionCarriesTheCommit's (and scripts/test.sh builds the
// module); it is not run here.
func TestSetupGuideAgainstTheLab(t *testing.T) {
	lines := guideSection(t, "## 1. Try it against the lab first")
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	t.Chdir(dir)
	for _, k := range []string{"AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_CLIENT_CERTIFICATE_PATH",
		"REBIND_AD_BIND_DN", "REBIND_AD_PASSWORD", "REBIND_ENV", "REBIND_LAB", "REBIND_ACCESS_TOKEN"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	serveLine := regexp.MustCompile(`^rebind lab serve --scenario (\S+) --env-file (\S+)$`)
	var printed map[string]string
	ran := map[string]bool{}
	for _, line := range lines {
		args := strings.Fields(line)
		switch {
		case args[0] == "go":
			continue
		case args[0] == "cp":
			if len(args) != 3 {
				t.Fatalf("guide line %q", line)
			}
			data, err := os.ReadFile(filepath.Join(root, args[1]))
			if err != nil {
				t.Fatalf("guide line %q: %v", line, err)
			}
			if err := os.WriteFile(args[2], data, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		case args[0] == "export":
			// The guide shows what lab serve prints; the values are the
			// lab's. Each variable it names must be one lab serve printed.
			if printed == nil {
				t.Fatalf("guide line %q comes before lab serve", line)
			}
			for _, a := range args[1:] {
				name, _, _ := strings.Cut(a, "=")
				if _, ok := printed[name]; !ok {
					t.Errorf("the guide exports %s, which lab serve did not print (it printed %v)", name, printed)
				}
			}
			continue
		case args[0] != "rebind":
			t.Fatalf("guide line %q: the test knows no such command", line)
		}
		if m := serveLine.FindStringSubmatch(line); m != nil {
			var errb bytes.Buffer
			ios := &IO{In: strings.NewReader(""), Out: &bytes.Buffer{}, Err: &errb}
			ready := make(chan *instance.Instance, 1)
			stop := make(chan struct{})
			done := make(chan error, 1)
			opts := &labServeOptions{IO: ios, Scenario: m[1], EnvFile: m[2], Listen: "127.0.0.1:0", LDAPListen: "127.0.0.1:0",
				ready: func(in *instance.Instance) { ready <- in }, stop: stop}
			go func() { done <- runLabServe(opts) }()
			select {
			case <-ready:
			case err := <-done:
				t.Fatalf("%s: %v\n%s", line, err, errb.String())
			}
			var once sync.Once
			t.Cleanup(func() { once.Do(func() { close(stop); <-done }) })
			printed = parseExports(t, errb.String())
			for k, v := range printed {
				t.Setenv(k, v)
			}
			if len(printed) < 5 {
				t.Fatalf("lab serve printed %v; want the Azure and AD variables:\n%s", printed, errb.String())
			}
			ran["serve"] = true
			continue
		}
		if strings.HasPrefix(line, "rebind lab serve") {
			t.Fatalf("guide line %q: the test runs lab serve as `rebind lab serve --scenario NAME --env-file FILE` only", line)
		}
		code, out, errs := runMain(t, args[1:]...)
		if code != 0 {
			t.Fatalf("guide line %q: exit %d\n%s%s", line, code, out, errs)
		}
		switch {
		case strings.Contains(line, " doctor "):
			if strings.Contains(out, "✗") || !doctorSignedIn.MatchString(out) || !strings.Contains(out, "✓  ad.corp") {
				t.Errorf("%s:\n%s", line, out)
			}
			ran["doctor"] = true
		case strings.Contains(line, " plan "):
			if _, err := os.Stat(filepath.Join(dir, "c.plan")); err != nil {
				t.Errorf("%s wrote no plan: %v\n%s", line, err, errs)
			}
			ran["plan"] = true
		case strings.Contains(line, " show "):
			if !strings.Contains(out, "Environment  lab.hcl (settings sha256:") {
				t.Errorf("%s does not name the environment:\n%s", line, out)
			}
		case strings.Contains(line, " rehearse "):
			if !strings.Contains(out, "Rehearsal succeeded") {
				t.Errorf("%s:\n%s", line, out)
			}
		}
	}
	for _, want := range []string{"serve", "doctor", "plan"} {
		if !ran[want] {
			t.Errorf("section 1 of docs/setup.md no longer runs %s", want)
		}
	}
	// The lab's app and account hold what every bundled runbook needs
	// (the runbooks rehearse against it): doctor through the same file
	// finds nothing missing for any of them, AD write rights and the
	// Graph permissions a call's page accepts included.
	for _, name := range bundled() {
		code, out, errs := runMain(t, "--env", "lab.hcl", "doctor", name)
		if code != 0 || strings.Contains(out, "✗") {
			t.Errorf("doctor %s against the lab: exit %d\n%s%s", name, code, out, errs)
		}
	}
}
