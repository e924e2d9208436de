package cli

import (
	"bytes"
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
