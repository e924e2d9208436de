package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rebind-dev/rebind/internal/e2e"
)

// TestVersionCarriesTheCommit builds the binary the way `go build` and `go
// install` do inside a git checkout and runs `rebind version`: the go
// command stamps the commit, its time and whether the tree was modified
// into the binary's build information (`go help buildvcs`;
// https://pkg.go.dev/runtime/debug#BuildSetting lists vcs.revision,
// vcs.time, vcs.modified), and the output must carry them.
//
// The build runs in a fresh repository holding this checkout's files,
// committed: the go command finds no repository in a `git worktree` (its
// .git is a file), and a machine may set GOFLAGS=-buildvcs=false, so the
// test names both the repository and -buildvcs=true itself.
func TestVersionCarriesTheCommit(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	gitPath, err := exec.LookPath("git")
	if err != nil {
		t.Skip("git is not installed")
	}
	git := func(dir string, args ...string) string {
		t.Helper()
		cmd := exec.Command(gitPath, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com",
			"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com", "GIT_COMMITTER_DATE=2026-01-02T03:04:05Z")
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("git %v: %v", args, err)
		}
		return string(out)
	}
	list := exec.Command(gitPath, "ls-files", "-co", "--exclude-standard")
	list.Dir = ".."
	listed, err := list.Output()
	if err != nil {
		t.Skipf("not inside a git checkout: %v", err)
	}
	files := strings.Split(strings.TrimSpace(string(listed)), "\n")
	repo := t.TempDir()
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join("..", f))
		if err != nil {
			if os.IsNotExist(err) {
				continue // deleted in the working tree
			}
			t.Fatal(err)
		}
		e2e.WriteFile(t, filepath.Join(repo, f), string(data))
	}
	git(repo, "init", "-q")
	git(repo, "add", "-A")
	git(repo, "commit", "-q", "-m", "version test")
	commit := strings.TrimSpace(git(repo, "rev-parse", "HEAD"))

	bin := filepath.Join(t.TempDir(), "rebind")
	build := exec.Command("go", "build", "-buildvcs=true", "-o", bin, "./cmd/rebind")
	build.Dir = repo
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "version").CombinedOutput()
	if err != nil {
		t.Fatalf("rebind version: %v\n%s", err, out)
	}
	text := string(out)
	if !strings.Contains(text, "commit "+commit+"\n") {
		t.Errorf("version output does not carry the commit %s (unmodified):\n%s", commit, text)
	}
	if strings.HasPrefix(text, "rebind dev\n") {
		t.Errorf("version still prints the placeholder:\n%s", text)
	}
	if !strings.Contains(text, "committed 2026-01-02T03:04:05Z") {
		t.Errorf("version output does not carry the commit time:\n%s", text)
	}
	js, err := exec.Command(bin, "version", "--json").CombinedOutput()
	if err != nil || !strings.Contains(string(js), `"commit": "`+commit+`"`) {
		t.Errorf("version --json: %v\n%s", err, js)
	}

	// A change not committed is said.
	if err := os.WriteFile(filepath.Join(repo, "README.md"), []byte("changed\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	build = exec.Command("go", "build", "-buildvcs=true", "-o", bin, "./cmd/rebind")
	build.Dir = repo
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, _ = exec.Command(bin, "version").CombinedOutput()
	if !strings.Contains(string(out), "commit "+commit+" (with uncommitted changes)") {
		t.Errorf("a modified tree is not said:\n%s", out)
	}
}
