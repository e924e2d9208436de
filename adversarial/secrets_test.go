package adversarial

import (
	"crypto/md5"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// canary returns a fresh secret that appears nowhere by chance.
func canary(t *testing.T, tag string) string {
	t.Helper()
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "Canary-" + tag + "-" + hex.EncodeToString(b)
}

// secretForms are the ways a secret can be written down without being
// hidden: as is, base64 (with and without padding, standard and URL
// alphabets), hex in both cases, URL-escaped, and its unsalted hashes (a
// hash of a secret is brute-forceable).
func secretForms(s string) map[string]string {
	b := []byte(s)
	sum256, sum1, sum5, sum512 := sha256.Sum256(b), sha1.Sum(b), md5.Sum(b), sha512.Sum512(b)
	forms := map[string]string{
		"raw":             s,
		"base64":          base64.StdEncoding.EncodeToString(b),
		"base64url":       base64.URLEncoding.EncodeToString(b),
		"base64raw":       base64.RawStdEncoding.EncodeToString(b),
		"hex":             hex.EncodeToString(b),
		"HEX":             strings.ToUpper(hex.EncodeToString(b)),
		"urlescaped":      url.QueryEscape(s),
		"sha256":          hex.EncodeToString(sum256[:]),
		"sha256-base64":   base64.StdEncoding.EncodeToString(sum256[:]),
		"sha1":            hex.EncodeToString(sum1[:]),
		"md5":             hex.EncodeToString(sum5[:]),
		"sha512":          hex.EncodeToString(sum512[:]),
		"sha256-prefix16": hex.EncodeToString(sum256[:8]),
	}
	return forms
}

// leakFinder searches everything rebind wrote for the forms of secrets.
type leakFinder struct {
	t       *testing.T
	secrets map[string]string // name -> secret
}

// check reports each form of each secret found in text, said to come from
// where.
func (f *leakFinder) check(where, text string) {
	f.t.Helper()
	for name, s := range f.secrets {
		for form, v := range secretForms(s) {
			if i := strings.Index(text, v); i >= 0 {
				lo, hi := max(0, i-80), min(len(text), i+len(v)+40)
				f.t.Errorf("secret %s leaks (%s form) in %s: …%q…", name, form, where, text[lo:hi])
			}
		}
	}
}

// checkTree searches every file under dir, skipping those keep says hold
// the secret on purpose (what the runbook was asked to write).
func (f *leakFinder) checkTree(dir string, keep func(rel string) bool) {
	f.t.Helper()
	_ = filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		if keep != nil && keep(rel) {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			f.t.Errorf("read %s: %v", p, err)
			return nil
		}
		f.check(rel, string(b))
		return nil
	})
}

// checkOutputs searches every byte every rebind process printed.
func (f *leakFinder) checkOutputs(w *workspace) {
	f.t.Helper()
	for _, r := range w.outputs() {
		f.check(fmt.Sprintf("the output of rebind %s", strings.Join(r.Args, " ")), r.Output())
	}
}

// runIDs lists the runs in the workspace's journal.
func runIDs(t *testing.T, w *workspace) []string {
	t.Helper()
	r := w.run("runs", "--json")
	mustSucceed(t, r)
	var runs []struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal([]byte(r.Stdout), &runs); err != nil {
		t.Fatalf("runs --json: %v\n%s", err, r.Stdout)
	}
	var ids []string
	for _, x := range runs {
		ids = append(ids, x.ID)
	}
	return ids
}

// readEverything has rebind print every plan and run it knows of, in every
// format, so that the leak finder sees them.
func readEverything(t *testing.T, w *workspace, plans ...string) {
	t.Helper()
	for _, p := range plans {
		for _, format := range []string{"text", "json", "markdown", "html", "digest"} {
			w.run("show", p, "--format", format)
		}
		w.run("show", p, "--format", "markdown", "--redact")
		w.run("show", p, "--full")
	}
	w.run("runs")
	for _, id := range runIDs(t, w) {
		w.run("runs", "show", id)
		w.run("runs", "show", id, "--json")
	}
}

const rotationRunbook = `
runbook "rotate" {
  title = "Rotate a service password"
}

variable "pw" {
  type      = string
  sensitive = true
}

step "file" "cred" {
  path    = "out/cred.txt"
  content = var.pw
}

step "file" "named" {
  path    = "out/by-name/${var.pw}.txt"
  content = "the file's name is the secret\n"
}

step "file" "wrapped" {
  path    = "out/wrapped.txt"
  content = "password=${var.pw}\n"
}

step "file" "noted" {
  path    = "out/noted.txt"
  content = step.file.cred.observed.content == null ? "none" : "seen ${step.file.cred.observed.content}"
}
`

// TestSecretsNeverStoredAcrossRotation applies a runbook with secret A,
// then plans, shows, applies and rolls back a rotation to secret B. Neither
// secret, in any form, may appear in a plan, the journal (the database, its
// WAL and shared memory), `runs`, or anything any verb printed; the files
// the runbook writes hold them on purpose and are skipped. The old secret
// is observed in the file before the rotation, which used to put it in the
// new plan in clear, and rollback, from the journal's copy, wrote it back.
func TestSecretsNeverStoredAcrossRotation(t *testing.T) {
	w := newWorkspace(t)
	a, b := canary(t, "A"), canary(t, "B")
	f := &leakFinder{t: t, secrets: map[string]string{"A": a, "B": b}}
	w.write("rb/main.hcl", rotationRunbook)
	envA := []string{"REBIND_VAR_pw=" + a}
	envB := []string{"REBIND_VAR_pw=" + b}

	w.Env = envA
	mustSucceed(t, w.run("validate", "rb"))
	mustSucceed(t, w.run("apply", "rb", "-auto-approve"))
	if got := w.read("out/cred.txt"); got != a {
		t.Fatalf("out/cred.txt = %q after the first apply", got)
	}

	w.Env = envB
	mustSucceed(t, w.run("plan", "rb", "-out", "rotate.plan"))
	r := w.run("apply", "rotate.plan")
	mustSucceed(t, r)
	if got := w.read("out/cred.txt"); got != b {
		t.Fatalf("out/cred.txt = %q after the rotation", got)
	}
	ids := runIDs(t, w)
	if len(ids) != 2 {
		t.Fatalf("runs: %v", ids)
	}
	// Rolling the rotation back cannot bring A back: the journal never had
	// it. It must say so, and leave B in place.
	rb := w.run("rollback", ids[1])
	if got := w.read("out/cred.txt"); got == a {
		t.Error("rollback wrote the old secret back: the journal kept it")
	}
	if !strings.Contains(rb.Output(), "NOT reverted: step.file.cred") {
		t.Errorf("rollback of a secret's rotation does not say it cannot restore it:\n%s", rb.Output())
	}
	readEverything(t, w, "rotate.plan")

	f.checkOutputs(w)
	f.checkTree(w.Dir, func(rel string) bool {
		return strings.HasPrefix(rel, "out"+string(filepath.Separator)) || rel == "rb/main.hcl"
	})
	// The journal's WAL and shared memory were checked with the tree; make
	// sure they were there to check.
	if _, err := os.Stat(filepath.Join(w.StateDir, "journal.db")); err != nil {
		t.Fatalf("no journal: %v", err)
	}
}

// leakHeader starts each of errorRunbooks: a runbook with the sensitive
// variable pw whose value must not come out.
const leakHeader = `
runbook "leak" {}
variable "pw" {
  type      = string
  sensitive = true
}
`

// errorRunbooks each fail, at validate, plan or apply, on a path that
// carries the secret: a command's stderr, its arguments, a condition's
// error message, a function's error, a for_each key, a validation.
var errorRunbooks = map[string]string{
	"stderr": leakHeader + `
step "exec" "echo" {
  command = ["sh", "-c", "echo \"token $PW\" >&2; printf %s \"$PW\" | base64 >&2; exit 3"]
  env     = { PW = var.pw }
}
`,
	"argument": leakHeader + `
step "exec" "arg" {
  command = ["sh", "-c", "exit 2", "placeholder", var.pw]
}
`,
	"error_message": leakHeader + `
step "assert" "check" {
  condition     = var.pw == "something else"
  error_message = "the password ${var.pw} is not the expected one"
}
`,
	"precondition": leakHeader + `
step "file" "f" {
  path    = "out/f.txt"
  content = "x"
  precondition {
    condition     = self.observed.exists && var.pw == "x"
    error_message = "bad ${var.pw}"
  }
}
`,
	"tonumber": leakHeader + `
step "file" "f" {
  path    = "out/f.txt"
  content = tostring(tonumber(var.pw) + 1)
}
`,
	"for_each": leakHeader + `
step "file" "f" {
  for_each = toset([var.pw])
  path     = "out/${substr(each.key, 0, 2)}.txt"
  content  = "x"
}
`,
	"validation": `
runbook "leak" {}
variable "pw" {
  type      = string
  sensitive = true
  validation {
    condition     = var.pw == "the expected one"
    error_message = "not the expected one: ${var.pw}"
  }
}
step "file" "f" {
  path    = "out/f.txt"
  content = "x"
}
`,
	"local": leakHeader + `locals {
  bundle = { user = "svc", pw = var.pw, n = 1 }
}
step "file" "f" {
  path    = "out/f.txt"
  content = "x"
  precondition {
    condition     = local.bundle == { user = "svc", pw = "x", n = 1 }
    error_message = "the bundle differs"
  }
}
`,
	"observed": leakHeader + `
step "file" "cred" {
  path    = "out/cred.txt"
  content = var.pw
}
step "assert" "check" {
  condition     = step.file.cred.observed.content == "nope"
  error_message = "the credential file does not hold the expected content"
}
`,
}

// errorPathShows is what each failing runbook's apply must say, to show
// that the path it tests was taken.
var errorPathShows = map[string]string{
	"stderr":        "its stderr is not shown, because the command was given a secret",
	"argument":      "exited with code 2",
	"error_message": "its error message refers to sensitive values, so it is not shown",
	"precondition":  "Precondition failed",
	"tonumber":      "the argument is sensitive, so the error is not shown",
	"for_each":      "Invalid for_each argument",
	"validation":    "Validation failed",
	"local":         "the bundle differs",
	"observed":      "does not hold the expected content",
}

// TestSecretsNeverStoredOnErrorPaths runs each failing runbook through
// validate, plan and apply, then reads every run back. A secret must not
// appear in any form in anything printed or stored.
func TestSecretsNeverStoredOnErrorPaths(t *testing.T) {
	for name, src := range errorRunbooks {
		t.Run(name, func(t *testing.T) {
			w := newWorkspace(t)
			s := canary(t, "E")
			f := &leakFinder{t: t, secrets: map[string]string{"pw": s}}
			w.write("rb/main.hcl", src)
			w.Env = []string{"REBIND_VAR_pw=" + s}
			w.run("validate", "rb")
			w.run("plan", "rb", "-out", "p.plan")
			r := w.run("apply", "rb", "-auto-approve")
			if r.Code == 0 || !strings.Contains(r.Output(), errorPathShows[name]) {
				t.Errorf("the %s runbook did not fail saying %q (exit %d):\n%s", name, errorPathShows[name], r.Code, r.Output())
			}
			if regexp.MustCompile(`panic|goroutine \d+`).MatchString(r.Output()) {
				t.Errorf("apply crashed:\n%s", r.Output())
			}
			plans := []string{}
			if _, err := os.Stat(filepath.Join(w.Dir, "p.plan")); err == nil {
				plans = append(plans, "p.plan")
				w.run("apply", "p.plan")
			}
			readEverything(t, w, plans...)
			f.checkOutputs(w)
			f.checkTree(w.Dir, func(rel string) bool {
				return strings.HasPrefix(rel, "out"+string(filepath.Separator)) || rel == "rb/main.hcl"
			})
		})
	}
}
