package core

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/rebind-dev/rebind/steps"
)

func readFile(t *testing.T, p string) (string, os.FileMode) {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b), fi.Mode().Perm()
}

// existingFile writes data to name in a new temporary directory with
// exactly mode (os.WriteFile leaves out the umask's bits, so the mode is
// set again) and returns its path: the file a step finds before it runs.
func existingFile(t *testing.T, name string, data []byte, mode os.FileMode) string {
	t.Helper()
	abs := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(abs, data, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(abs, mode); err != nil {
		t.Fatal(err)
	}
	return abs
}

func TestFileCreateIsIdempotentAndReverts(t *testing.T) {
	run := &fakeRun{id: "r", dir: t.TempDir()}
	call := newCall(t, File{}, "step.file.notes", run, map[string]cty.Value{
		"path": str("notes.txt"), "content": str("hello\n"),
	})
	abs := filepath.Join(run.dir, "notes.txt")

	obs, ch := plan(t, File{}, call)
	if obs.Object != "file:"+abs {
		t.Errorf("Object = %q, want file:%s", obs.Object, abs)
	}
	if obs.Value.GetAttr("exists").True() || !obs.Value.GetAttr("content").IsNull() {
		t.Errorf("observed a missing file as %#v", obs.Value)
	}
	if ch.Action != steps.Create {
		t.Fatalf("Action = %s, want create", ch.Action)
	}
	if _, err := (File{}).Apply(context.Background(), call, ch); err != nil {
		t.Fatal(err)
	}
	got, mode := readFile(t, abs)
	if got != "hello\n" || mode != 0o644 {
		t.Errorf("file = %q %04o, want \"hello\\n\" 0644", got, mode)
	}
	// Applying the same change again (a resume) is harmless.
	if _, err := (File{}).Apply(context.Background(), call, ch); err != nil {
		t.Fatalf("second Apply: %v", err)
	}
	if _, again := plan(t, File{}, call); again.Action != steps.NoOp {
		t.Errorf("after apply, Action = %s, want no-op", again.Action)
	}
	entries, _ := os.ReadDir(run.dir)
	if len(entries) != 1 {
		t.Errorf("temporary files left behind: %v", entries)
	}

	if err := (File{}).Revert(context.Background(), call, ch); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(abs); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("after revert of a create, the file still exists (%v)", err)
	}
	if err := (File{}).Revert(context.Background(), call, ch); err != nil {
		t.Errorf("second Revert: %v", err)
	}
}

func TestFileUpdateRevertsContentAndMode(t *testing.T) {
	abs := existingFile(t, "cfg", []byte("old"), 0o600)
	call := newCall(t, File{}, "step.file.cfg", nil, map[string]cty.Value{
		"path": str(abs), "content": str("new"), "mode": str("0640"),
	})
	obs, ch := plan(t, File{}, call)
	if got := obs.Value.GetAttr("mode").AsString(); got != "0600" {
		t.Errorf("observed mode %q, want 0600", got)
	}
	if ch.Action != steps.Update {
		t.Fatalf("Action = %s, want update", ch.Action)
	}
	if ch.Before.GetAttr("content").AsString() != "old" || ch.After.GetAttr("mode").AsString() != "0640" {
		t.Errorf("change = %#v -> %#v", ch.Before, ch.After)
	}
	if _, err := (File{}).Apply(context.Background(), call, ch); err != nil {
		t.Fatal(err)
	}
	if got, mode := readFile(t, abs); got != "new" || mode != 0o640 {
		t.Errorf("file = %q %04o, want new 0640", got, mode)
	}
	if err := (File{}).Revert(context.Background(), call, ch); err != nil {
		t.Fatal(err)
	}
	if got, mode := readFile(t, abs); got != "old" || mode != 0o600 {
		t.Errorf("after revert file = %q %04o, want old 0600", got, mode)
	}
}

func TestFileWithoutModeKeepsExistingMode(t *testing.T) {
	abs := existingFile(t, "keep", []byte("a"), 0o600)
	call := newCall(t, File{}, "step.file.keep", nil, map[string]cty.Value{
		"path": str(abs), "content": str("b"),
	})
	apply(t, File{}, call)
	if _, mode := readFile(t, abs); mode != 0o600 {
		t.Errorf("mode = %04o, want the existing 0600", mode)
	}
}

func TestFileNullContentDeletesAndRevertRestores(t *testing.T) {
	abs := existingFile(t, "gone", []byte("keep me"), 0o644)
	call := newCall(t, File{}, "step.file.gone", nil, map[string]cty.Value{
		"path": str(abs), "content": cty.NullVal(cty.String),
	})
	ch, _ := apply(t, File{}, call)
	if ch.Action != steps.Delete {
		t.Fatalf("Action = %s, want delete", ch.Action)
	}
	if _, err := os.Stat(abs); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("file not removed: %v", err)
	}
	if _, err := (File{}).Apply(context.Background(), call, ch); err != nil {
		t.Errorf("second Apply of a delete: %v", err)
	}
	if _, again := plan(t, File{}, call); again.Action != steps.NoOp {
		t.Errorf("Action = %s, want no-op", again.Action)
	}
	if err := (File{}).Revert(context.Background(), call, ch); err != nil {
		t.Fatal(err)
	}
	if got, _ := readFile(t, abs); got != "keep me" {
		t.Errorf("after revert content = %q", got)
	}
}

func TestFileRefusesBadMode(t *testing.T) {
	for _, mode := range []string{"rw-r--r--", "0999", "", "10644"} {
		call := newCall(t, File{}, "step.file.x", nil, map[string]cty.Value{
			"path": str("x"), "content": str(""), "mode": str(mode),
		})
		obs, err := (File{}).Observe(context.Background(), call)
		if err != nil {
			t.Fatal(err)
		}
		_, err = (File{}).Diff(context.Background(), call, obs)
		if err == nil || !strings.Contains(err.Error(), `"mode"`) || !strings.HasPrefix(err.Error(), "core: file: ") {
			t.Errorf("mode %q: Diff err = %v, want a core: file error naming \"mode\"", mode, err)
		}
		if _, err := (File{}).Apply(context.Background(), call, steps.Change{}); err == nil {
			t.Errorf("mode %q: Apply wrote the file", mode)
		}
	}
}

func TestFileBinaryContentIsNotShownButCompared(t *testing.T) {
	abs := existingFile(t, "bin", []byte{0xff, 0xfe, 0x00}, 0o644)
	call := newCall(t, File{}, "step.file.bin", nil, map[string]cty.Value{
		"path": str(abs), "content": str("text"),
	})
	obs, ch := plan(t, File{}, call)
	if !obs.Value.GetAttr("content").IsNull() || obs.Value.GetAttr("sha256").IsNull() {
		t.Errorf("observed binary file as %#v, want null content and a digest", obs.Value)
	}
	if ch.Action != steps.Update {
		t.Fatalf("Action = %s, want update", ch.Action)
	}
	if _, err := (File{}).Apply(context.Background(), call, ch); err != nil {
		t.Fatal(err)
	}
	err := (File{}).Revert(context.Background(), call, ch)
	if !errors.Is(err, steps.ErrIrreversible) {
		t.Errorf("Revert of unrecorded binary content: err = %v, want ErrIrreversible", err)
	}
}

func TestFileRevertUsesThePathItWrote(t *testing.T) {
	dir := t.TempDir()
	call := newCall(t, File{}, "step.file.x", nil, map[string]cty.Value{
		"path": str(filepath.Join(dir, "a")), "content": str("a"),
	})
	ch, _ := apply(t, File{}, call)
	// At rollback the arguments evaluate to another path; the file written
	// is the one to revert.
	moved := newCall(t, File{}, "step.file.x", nil, map[string]cty.Value{
		"path": str(filepath.Join(dir, "b")), "content": str("a"),
	})
	if err := (File{}).Revert(context.Background(), moved, ch); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "a")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the written file was not reverted: %v", err)
	}
}
