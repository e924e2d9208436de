package core

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"unicode/utf8"

	"github.com/zclconf/go-cty/cty"

	"github.com/rebind-dev/rebind/steps"
)

// This file holds what file and export share: reading a file's state,
// computing the change to a wanted state, and writing it atomically and
// durably.

// fileWanter is a step type that ensures a file's content (file, export):
// it says what a call wants, the absolute path and what the file must hold.
type fileWanter interface {
	Info() steps.Info
	want(call steps.Call) (abs string, want fileWant, err error)
}

// fileSteps gives the step type W, which embeds it, the Observe, Diff,
// Apply and Revert of a step type that ensures a file's content: file and
// export differ only in how a call says what the file must hold (W's want).
//
// Observe reads the file: its existence, content, SHA-256 and mode. Diff
// compares it with what the call wants (when that is a secret, the engine
// hides the content and its SHA-256 wherever they appear: Reflects). Apply
// writes or removes the file atomically, and writes nothing when it is
// already as wanted; its result is {path, exists, sha256}. Revert brings
// the file back to change.Before.
type fileSteps[W fileWanter] struct{}

// fail prefixes err with the step type and the file, or the step's address
// when the path itself is the problem.
func (fileSteps[W]) fail(call steps.Call, abs string, err error) error {
	if abs == "" {
		abs = call.Address
	}
	var w W
	return fmt.Errorf("core: %s: %s: %w", w.Info().Name, abs, err)
}

// Observe reads the file the call names.
func (s fileSteps[W]) Observe(ctx context.Context, call steps.Call) (steps.Observation, error) {
	abs, err := callPath(call)
	if err != nil {
		return steps.Observation{}, s.fail(call, "", err)
	}
	st, err := readFileState(abs)
	if err != nil {
		return steps.Observation{}, s.fail(call, abs, fmt.Errorf("read: %w", err))
	}
	return steps.Observation{Object: "file:" + abs, Value: st.observed(abs)}, nil
}

// Diff compares the observed file with what the call wants.
func (s fileSteps[W]) Diff(ctx context.Context, call steps.Call, obs steps.Observation) (steps.Change, error) {
	var w W
	var ch steps.Change
	abs, want, err := w.want(call)
	if err == nil {
		ch, err = diffFile(obs, want)
	}
	if err != nil {
		return steps.Change{}, s.fail(call, abs, err)
	}
	return ch, nil
}

// Apply writes or removes the file, unless it is already as wanted.
func (s fileSteps[W]) Apply(ctx context.Context, call steps.Call, change steps.Change) (steps.Result, error) {
	var w W
	abs, want, err := w.want(call)
	if err != nil {
		return steps.Result{}, s.fail(call, abs, err)
	}
	st, err := applyFile(abs, want)
	if err != nil {
		return steps.Result{}, s.fail(call, abs, fmt.Errorf("write: %w", err))
	}
	sum := cty.NullVal(cty.String)
	if st.exists {
		sum = cty.StringVal(st.sha256())
	}
	return steps.Result{Value: cty.ObjectVal(map[string]cty.Value{
		"path":   cty.StringVal(abs),
		"exists": cty.BoolVal(st.exists),
		"sha256": sum,
	})}, nil
}

// Revert brings the file back to change.Before.
func (s fileSteps[W]) Revert(ctx context.Context, call steps.Call, change steps.Change) error {
	abs, err := changedPath(call, change)
	if err != nil {
		return s.fail(call, "", err)
	}
	if err := revertFile(abs, change.Before); err != nil {
		return s.fail(call, abs, fmt.Errorf("revert: %w", err))
	}
	return nil
}

// fileState is a file as it is on disk, or as a step wants it.
type fileState struct {
	exists bool
	data   []byte
	mode   os.FileMode
}

// readFileState reads the file at abs; a missing file is a state, not an
// error.
func readFileState(abs string) (fileState, error) {
	fi, err := os.Stat(abs)
	if errors.Is(err, fs.ErrNotExist) {
		return fileState{}, nil
	}
	if err != nil {
		return fileState{}, err
	}
	if !fi.Mode().IsRegular() {
		return fileState{}, fmt.Errorf("%s is not a regular file", abs)
	}
	data, err := os.ReadFile(abs)
	if err != nil {
		return fileState{}, err
	}
	return fileState{exists: true, data: data, mode: fi.Mode().Perm()}, nil
}

// contentValue is the content as a cty string, or null when the file is
// absent or its bytes do not survive as a cty string (invalid UTF-8, or
// text that Unicode normalisation would change): a plan must never show
// content that differs from what is on disk.
func (s fileState) contentValue() cty.Value {
	if !s.exists || !utf8.Valid(s.data) {
		return cty.NullVal(cty.String)
	}
	v := cty.StringVal(string(s.data))
	if v.AsString() != string(s.data) {
		return cty.NullVal(cty.String)
	}
	return v
}

func (s fileState) sha256() string {
	sum := sha256.Sum256(s.data)
	return hex.EncodeToString(sum[:])
}

// observed is the Observation.Value of file and export.
func (s fileState) observed(abs string) cty.Value {
	sum, mode := cty.NullVal(cty.String), cty.NullVal(cty.String)
	if s.exists {
		sum, mode = cty.StringVal(s.sha256()), cty.StringVal(formatMode(s.mode))
	}
	return cty.ObjectVal(map[string]cty.Value{
		"path":    cty.StringVal(abs),
		"exists":  cty.BoolVal(s.exists),
		"content": s.contentValue(),
		"sha256":  sum,
		"mode":    mode,
	})
}

// stateValue is the Before/After form of s: the same object type on both
// sides of a change, with exists = false and null content and mode for an
// absent file, so that Revert knows to remove it.
func (s fileState) stateValue() cty.Value {
	mode := cty.NullVal(cty.String)
	if s.exists {
		mode = cty.StringVal(formatMode(s.mode))
	}
	return cty.ObjectVal(map[string]cty.Value{
		"exists":  cty.BoolVal(s.exists),
		"content": s.contentValue(),
		"mode":    mode,
	})
}

// equal reports whether the file is already as wanted.
func (s fileState) equal(want fileState) bool {
	if !want.exists || !s.exists {
		return s.exists == want.exists
	}
	return s.mode == want.mode && bytes.Equal(s.data, want.data)
}

// fileWant is what a step asks of a file. A nil mode keeps the mode of an
// existing file and uses the step's default on create.
type fileWant struct {
	exists      bool
	data        []byte
	mode        *os.FileMode
	defaultMode os.FileMode
}

// resolve turns the want into a full state against the current one.
func (w fileWant) resolve(cur fileState) fileState {
	if !w.exists {
		return fileState{}
	}
	mode := w.defaultMode
	switch {
	case w.mode != nil:
		mode = *w.mode
	case cur.exists:
		mode = cur.mode
	}
	return fileState{exists: true, data: w.data, mode: mode}
}

// observedState rebuilds the parts of a fileState Diff needs from an
// observation: existence, mode and the content's digest (the content itself
// may be null in the observation, so the digest is what is compared).
func observedState(obs cty.Value) (exists bool, sum string, mode os.FileMode, err error) {
	exists, _ = steps.Bool(obs, "exists")
	if !exists {
		return false, "", 0, nil
	}
	sum, _ = steps.String(obs, "sha256")
	ms, _ := steps.String(obs, "mode")
	mode, err = parseMode(ms)
	return exists, sum, mode, err
}

// diffFile computes the change from an observation to the want. The before
// side is taken from the observation so that the plan shows exactly what was
// seen.
func diffFile(obs steps.Observation, want fileWant) (steps.Change, error) {
	exists, sum, mode, err := observedState(obs.Value)
	if err != nil {
		return steps.Change{}, fmt.Errorf("observation %s: %w", obs.Object, err)
	}
	before := cty.ObjectVal(map[string]cty.Value{
		"exists":  cty.BoolVal(exists),
		"content": obs.Value.GetAttr("content"),
		"mode":    obs.Value.GetAttr("mode"),
	})
	cur := fileState{exists: exists, mode: mode}
	after := want.resolve(cur)
	// The absolute path goes with the change, so that rollback works on the
	// file that was written even if the arguments would now evaluate to
	// another path.
	abs, _ := steps.String(obs.Value, "path")
	ch := steps.Change{Before: before, After: after.stateValue(), Private: []byte(abs)}
	switch {
	case !after.exists && !exists:
		ch.Action = steps.NoOp
	case !after.exists:
		ch.Action = steps.Delete
	case !exists:
		ch.Action = steps.Create
	case after.mode == mode && after.sha256() == sum:
		ch.Action = steps.NoOp
	default:
		ch.Action = steps.Update
	}
	return ch, nil
}

// applyFile makes the file at abs as wanted, reading it again first so that
// a repeated apply (after a crash, on resume) writes nothing when the file
// is already so.
func applyFile(abs string, want fileWant) (fileState, error) {
	cur, err := readFileState(abs)
	if err != nil {
		return fileState{}, err
	}
	target := want.resolve(cur)
	if cur.equal(target) {
		return target, nil
	}
	return target, writeState(abs, target)
}

// changedPath is the file a recorded change was made to: the path Diff kept
// in Change.Private, or else the call's own path.
func changedPath(call steps.Call, change steps.Change) (string, error) {
	if len(change.Private) > 0 {
		return string(change.Private), nil
	}
	return callPath(call)
}

// callPath is the call's `path` argument, made absolute.
func callPath(call steps.Call) (string, error) {
	p, _ := steps.String(call.Config, "path")
	return resolvePath(call, p)
}

// revertFile brings the file back to a recorded before-value.
func revertFile(abs string, before cty.Value) error {
	if before == cty.NilVal || before.IsNull() {
		return fmt.Errorf("no recorded before-value for %s: %w", abs, steps.ErrIrreversible)
	}
	want := fileState{}
	if exists, _ := steps.Bool(before, "exists"); exists {
		content, ok := steps.String(before, "content")
		if !ok {
			return fmt.Errorf("the previous content of %s was not text and was not recorded: %w", abs, steps.ErrIrreversible)
		}
		ms, _ := steps.String(before, "mode")
		mode, err := parseMode(ms)
		if err != nil {
			return fmt.Errorf("recorded before-value for %s: %w", abs, err)
		}
		want = fileState{exists: true, data: []byte(content), mode: mode}
	}
	cur, err := readFileState(abs)
	if err != nil {
		return err
	}
	if cur.equal(want) {
		return nil
	}
	return writeState(abs, want)
}

// writeState writes or removes the file, durably either way.
func writeState(abs string, s fileState) error {
	if !s.exists {
		if err := os.Remove(abs); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return syncDir(filepath.Dir(abs))
	}
	return writeAtomic(abs, s.data, s.mode)
}

// writeAtomic replaces the file at abs with data so that a crash leaves
// either the old file or the new one, never a torn one: it writes a
// temporary file in the same directory, syncs it, renames it over abs and
// syncs the directory so that the rename itself is durable.
//
// Missing parent folders are created (0755), as an admin writing a
// baseline to "baselines/users.csv" expects; rollback removes the file but
// leaves the folders.
func writeAtomic(abs string, data []byte, mode os.FileMode) (err error) {
	dir := filepath.Dir(abs)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(abs)+".rebind-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if _, err = f.Write(data); err != nil {
		return err
	}
	// Chmod, not the create mode, so that the umask does not change it.
	if err = f.Chmod(mode); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp, abs); err != nil {
		return err
	}
	return syncDir(dir)
}

// syncDir makes a rename or remove in dir durable. Windows cannot open a
// directory for syncing; NTFS journals the rename itself.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		// Some platforms and file systems cannot sync a directory; the
		// rename has happened, and there is nothing better to do.
		return err
	}
	return nil
}
