package core

import (
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
// exist. Observe, Diff, Apply and Revert are fileSteps'.
type File struct{ fileSteps[File] }

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

// want decodes the call's path, content and mode.
func (File) want(call steps.Call) (string, fileWant, error) {
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
