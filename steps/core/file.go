package core

import (
	"context"
	"fmt"
	"os"

	"github.com/zclconf/go-cty/cty"

	"github.com/rebind-dev/rebind/steps"
)

// fileDefaultMode is the mode of a file the file step creates without a
// `mode`.
const fileDefaultMode os.FileMode = 0o644

// File is the `file` step type: it ensures that a file has the given content
// (and mode), or that it does not exist when content is null.
//
// Relative paths resolve against the run's directory. Writes are atomic and
// durable (a temporary file in the same directory, synced, renamed over the
// path, then the directory synced), so a crash leaves the old file or the
// new one. Without `mode`, an existing file keeps its mode and a new one
// gets 0644. Revert restores the recorded content and mode, or removes the
// file when it did not exist.
type File struct{}

var _ steps.Reverter = File{}

func init() { steps.Register(File{}) }

// Info describes the file step type.
func (File) Info() steps.Info {
	return steps.Info{
		Name: "file",
		Doc:  "Ensures that a file has the given content and mode, or does not exist when content is null.",
		Kind: steps.KindEnsure,
		Schema: steps.Schema{
			"path": {Type: cty.String, Required: true,
				Doc: "The file's path; a relative path is resolved against the runbook's directory."},
			"content": {Type: cty.String, Required: true, Nullable: true,
				Doc: "The file's whole content; null means the file must not exist."},
			"mode": {Type: cty.String,
				Doc: "Octal permissions such as \"0600\"; without it a new file gets \"0644\" and an existing one keeps its mode."},
		},
		Reversibility: steps.Reversible,
		RepeatSafe:    true,
	}
}

// Observe reads the file: its existence, content, SHA-256 and mode.
func (File) Observe(ctx context.Context, call steps.Call) (steps.Observation, error) {
	abs, _, err := fileArgs(call)
	if err != nil {
		return steps.Observation{}, err
	}
	st, err := readFileState(abs)
	if err != nil {
		return steps.Observation{}, fmt.Errorf("core: file: read %s: %w", abs, err)
	}
	return steps.Observation{Object: "file:" + abs, Value: st.observed(abs)}, nil
}

// Diff compares the observed file with the call's content and mode.
func (File) Diff(ctx context.Context, call steps.Call, obs steps.Observation) (steps.Change, error) {
	_, want, err := fileArgs(call)
	if err != nil {
		return steps.Change{}, err
	}
	ch, err := diffFile(obs, want)
	if err != nil {
		return steps.Change{}, fmt.Errorf("core: file: %w", err)
	}
	return ch, nil
}

// Apply writes or removes the file; when it is already as wanted, it
// writes nothing.
func (File) Apply(ctx context.Context, call steps.Call, change steps.Change) (steps.Result, error) {
	abs, want, err := fileArgs(call)
	if err != nil {
		return steps.Result{}, err
	}
	st, err := applyFile(abs, want)
	if err != nil {
		return steps.Result{}, fmt.Errorf("core: file: write %s: %w", abs, err)
	}
	return steps.Result{Value: st.observed(abs)}, nil
}

// Revert brings the file back to change.Before.
func (File) Revert(ctx context.Context, call steps.Call, change steps.Change) error {
	abs, err := changedPath(call, change)
	if err != nil {
		return fmt.Errorf("core: file: %s: %w", call.Address, err)
	}
	if err := revertFile(abs, change.Before); err != nil {
		return fmt.Errorf("core: file: revert %s: %w", abs, err)
	}
	return nil
}

// fileArgs decodes the call's path, content and mode.
func fileArgs(call steps.Call) (string, fileWant, error) {
	abs, err := callPath(call)
	if err != nil {
		return "", fileWant{}, fmt.Errorf("core: file: %s: %w", call.Address, err)
	}
	want := fileWant{defaultMode: fileDefaultMode}
	if content, ok := stringArg(call.Config, "content"); ok {
		want.exists, want.data = true, []byte(content)
	}
	if ms, ok := stringArg(call.Config, "mode"); ok {
		mode, err := parseMode(ms)
		if err != nil {
			return "", fileWant{}, fmt.Errorf("core: file: %s: %w", abs, err)
		}
		want.mode = &mode
	}
	return abs, want, nil
}
