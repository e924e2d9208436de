package cli

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func runMain(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	// Without a state directory of its own, a test would write into the
	// package's folder (a lab binding writes the lab's CA there).
	if !slices.ContainsFunc(args, func(a string) bool { return strings.HasPrefix(a, "--state-dir") }) && os.Getenv("REBIND_STATE_DIR") == "" {
		args = append([]string{"--state-dir", t.TempDir()}, args...)
	}
	var out, errb bytes.Buffer
	code := Main(args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

// The bundled runbooks name no hosts: they validate against the sample
// production environment, and a plan without an environment (or a lab)
// says which settings are missing and where to put them.
func TestBundledRunbooksAgainstSampleEnvironment(t *testing.T) {
	env, err := filepath.Abs("../examples/environments/prod.hcl")
	if err != nil {
		t.Fatal(err)
	}
	rbDir, err := filepath.Abs("../runbooks")
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(t.TempDir())
	for _, name := range bundled() {
		code, out, errs := runMain(t, "--env", env, "validate", name)
		if code != 0 || !strings.Contains(out, "is valid") || strings.Contains(errs, "Error") {
			t.Errorf("%s against the sample environment: exit %d\n%s%s", name, code, out, errs)
		}
		src, err := os.ReadFile(filepath.Join(rbDir, name, "main.hcl"))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(src), "corp.example.com") || strings.Contains(string(src), "onmicrosoft.com\"") {
			t.Errorf("%s names a host", name)
		}
	}
	code, _, errs := runMain(t, "--state-dir", t.TempDir(), "plan", "restore-mistake", "-var", "upn=a@contoso.com")
	if code != 1 || !strings.Contains(errs, "Target setting missing") || !strings.Contains(errs, "--env FILE") {
		t.Errorf("plan without an environment: exit %d\n%s", code, errs)
	}
	// A broken environment file is reported with its line.
	bad := filepath.Join(t.TempDir(), "bad.hcl")
	if err := os.WriteFile(bad, []byte("target \"ad\" \"corp\" {\n  url  = \"ldaps://dc01\"\n  host = \"x\"\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errs = runMain(t, "--env", bad, "validate", "restore-mistake")
	if code != 1 || !strings.Contains(errs, "Unsupported setting") || !strings.Contains(errs, "bad.hcl line 3") {
		t.Errorf("a bad environment: exit %d\n%s", code, errs)
	}
	t.Setenv("REBIND_ENV", bad)
	code, _, errs = runMain(t, "validate", "restore-mistake")
	if code != 1 || !strings.Contains(errs, "bad.hcl line 3") {
		t.Errorf("REBIND_ENV is not read: exit %d\n%s", code, errs)
	}
}

// A target the runbook needs that the environment lacks, and one of the
// same name and another type, are errors at validate naming the runbook's
// file and line, and the environment's for the mismatch.
func TestValidateNamesMissingAndMismatchedTargets(t *testing.T) {
	src, err := os.ReadFile("../runbooks/restore-mistake/main.hcl")
	if err != nil {
		t.Fatal(err)
	}
	lineOf := func(decl string) int {
		for i, l := range strings.Split(string(src), "\n") {
			if strings.HasPrefix(l, decl) {
				return i + 1
			}
		}
		t.Fatalf("restore-mistake declares no %s", decl)
		return 0
	}
	env := filepath.Join(t.TempDir(), "partial.hcl")
	if err := os.WriteFile(env, []byte(`target "entra" "tenant" {
  tenant_id = "contoso.onmicrosoft.com"
}
target "ad" "connect" {
  url     = "ldaps://dc01.corp.example.com"
  base_dn = "DC=corp,DC=example,DC=com"
}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errs := runMain(t, "--env", env, "validate", "restore-mistake")
	if code != 1 || strings.Contains(out, "is valid") {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	for _, want := range []string{
		"Error: Target not in the environment",
		fmt.Sprintf("on restore-mistake/main.hcl line %d, in target \"ad\" \"corp\"", lineOf(`target "ad" "corp"`)),
		"Error: Target type mismatch",
		fmt.Sprintf("on restore-mistake/main.hcl line %d, in target \"adsync\" \"connect\"", lineOf(`target "adsync" "connect"`)),
		"partial.hcl declares \"ad\" \"connect\" (" + env + ":4)",
	} {
		if !strings.Contains(errs, want) {
			t.Errorf("validate does not say %q:\n%s", want, errs)
		}
	}
}
