package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// FileRunbook fans a file step out over 24 keys, then writes a summary
// that depends on every instance, then one more file: enough steps that a
// kill lands anywhere in the run. It needs no tenant, so the suites that
// kill the rebind binary (and the PostgreSQL state store's) use it.
const FileRunbook = `
runbook "crash" {
  title = "Files written under fire"
}

variable "keys" {
  type    = list(string)
  default = ["a","b","c","d","e","f","g","h","i","j","k","l","m","n","o","p","q","r","s","t","u","v","w","x"]
}

step "file" "first" {
  path    = "out/first.txt"
  content = "first\n"
}

step "file" "each" {
  for_each        = toset(var.keys)
  max_concurrency = 4
  path            = "out/each-${each.key}.txt"
  content         = "value ${each.key}\n"
}

step "file" "summary" {
  path    = "out/summary.txt"
  content = join(",", sort(keys(step.file.each)))
}

step "file" "last" {
  path    = "out/last.txt"
  content = "last\n"
}
`

// ExpectedFiles is the out/ folder an uninterrupted run of FileRunbook
// leaves.
func ExpectedFiles() map[string]string {
	want := map[string]string{"first.txt": "first\n", "last.txt": "last\n"}
	var keys []string
	for c := 'a'; c <= 'x'; c++ {
		k := string(c)
		keys = append(keys, k)
		want["each-"+k+".txt"] = "value " + k + "\n"
	}
	want["summary.txt"] = strings.Join(keys, ",")
	return want
}

// ReadOut returns dir/out's files and contents.
func ReadOut(t testing.TB, dir string) map[string]string {
	t.Helper()
	got := map[string]string{}
	entries, _ := os.ReadDir(filepath.Join(dir, "out"))
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			continue // a temporary file left by a write the kill interrupted
		}
		b, err := os.ReadFile(filepath.Join(dir, "out", e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		got[e.Name()] = string(b)
	}
	return got
}

// Inodes returns the inode of each file of dir/out that already has its
// final content: the file step replaces files by rename, so a file written
// again gets a new inode.
func Inodes(t testing.TB, dir string) map[string]uint64 {
	t.Helper()
	out := map[string]uint64{}
	for name, content := range ExpectedFiles() {
		p := filepath.Join(dir, "out", name)
		b, err := os.ReadFile(p)
		if err != nil || string(b) != content {
			continue
		}
		st, err := os.Stat(p)
		if err != nil {
			continue
		}
		out[name] = st.Sys().(*syscall.Stat_t).Ino
	}
	return out
}
