package core

import (
	"context"
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
// Relative paths resolve against the directory the run was started in (the
// run's directory, kept in the journal so that resume and rollback use the
// same one), not the runbook's folder; the plan names the file by its
// resolved path. Writes are atomic and durable (a temporary file in the
// same directory, synced, renamed over the path, then the directory
// synced), so a crash leaves the old file or the new one. Without `mode`,
// an existing file keeps its mode and a new one gets 0644. Revert restores
// the recorded content and mode, or removes the file when it did not
// exist.
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
				Doc: "The file's path; a relative path is resolved against the directory the run was started in, and the plan shows it resolved."},
			"content": {Type: cty.String, Required: true, Nullable: true, Reflects: []string{"sha256"},
				Doc: "The file's whole content; null means the file must not exist."},
			"mode": {Type: cty.String,
				Doc: "Octal permissions such as \"0600\"; without it a new file gets \"0644\" and an existing one keeps its mode."},
		},
		Reversibility: steps.Reversible,
		RepeatSafe:    true,
	}
}

// fileStep is what file shares with export.
var fileStep = fileSteps{name: "file", want: fileArgs}

// Observe reads the file: its existence, content, SHA-256 and mode.
func (File) Observe(ctx context.Context, call steps.Call) (steps.Observation, error) {
	return fileStep.observe(call)
}

// Diff compares the observed file with the call's content and mode. When
// the content is a secret, the engine hides the content and its SHA-256
// wherever they appear (Reflects).
func (File) Diff(ctx context.Context, call steps.Call, obs steps.Observation) (steps.Change, error) {
	return fileStep.diff(call, obs)
}

// Apply writes or removes the file; when it is already as wanted, it
// writes nothing. Its result is {path, exists, sha256}.
func (File) Apply(ctx context.Context, call steps.Call, change steps.Change) (steps.Result, error) {
	return fileStep.apply(call)
}

// Revert brings the file back to change.Before.
func (File) Revert(ctx context.Context, call steps.Call, change steps.Change) error {
	return fileStep.revert(call, change)
}

// fileArgs decodes the call's path, content and mode.
func fileArgs(call steps.Call) (string, fileWant, error) {
	abs, err := callPath(call)
	if err != nil {
		return "", fileWant{}, err
	}
	want := fileWant{defaultMode: fileDefaultMode}
	if content, ok := steps.String(call.Config, "content"); ok {
		want.exists, want.data = true, []byte(content)
	}
	if ms, ok := steps.String(call.Config, "mode"); ok {
		mode, err := parseMode(ms)
		if err != nil {
			return "", fileWant{}, err
		}
		want.mode = &mode
	}
	return abs, want, nil
}
