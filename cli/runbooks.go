package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/spf13/cobra"

	"github.com/rebind-dev/rebind"
	"github.com/rebind-dev/rebind/engine/runbook"
)

// bundledDir is where the documented runbooks live in rebind.Runbooks.
const bundledDir = "runbooks"

// A module block's bare source names a bundled module (runbooks/modules/NAME)
// or runbook.
func init() {
	runbook.Bundled, _ = fs.Sub(rebind.Runbooks, bundledDir)
}

// bundled lists the names of the runbooks built into rebind (a module's
// folder, under runbooks/modules/, is not one).
func bundled() []string {
	ents, err := fs.ReadDir(rebind.Runbooks, bundledDir)
	if err != nil {
		return nil
	}
	var names []string
	for _, e := range ents {
		if e.IsDir() {
			if _, err := fs.Stat(rebind.Runbooks, path.Join(bundledDir, e.Name(), "main.hcl")); err == nil {
				names = append(names, e.Name())
			}
		}
	}
	sort.Strings(names)
	return names
}

// isBundled reports whether name is a built-in runbook, and the name is not
// shadowed by a file or folder of that name.
func isBundled(name string) bool {
	if _, err := os.Stat(name); err == nil {
		return false
	}
	for _, n := range bundled() {
		if n == name {
			return true
		}
	}
	return false
}

// loadRunbook reads a runbook from a path, or by name from the runbooks
// built into rebind. A built-in runbook's relative paths (file()) resolve
// from the current directory, where the admin keeps its input files.
func loadRunbook(p string) (*runbook.Runbook, hcl.Diagnostics) {
	if isBundled(p) {
		rb, diags := runbook.LoadFS(rebind.Runbooks, path.Join(bundledDir, p))
		rb.Dir = ""
		return rb, diags
	}
	if _, err := os.Stat(p); errors.Is(err, fs.ErrNotExist) && !strings.ContainsAny(p, `/\.`) {
		return &runbook.Runbook{}, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "No such runbook",
			Detail: fmt.Sprintf("%q is neither a file or folder nor a runbook built into rebind (%s).", p, strings.Join(bundled(), ", "))}}
	}
	return runbook.Load(p)
}

// rehearsal is a runbook's rehearsal.json: the lab scenario that reproduces
// the problem it fixes, and inputs that fit that scenario.
type rehearsal struct {
	Scenario string            `json:"scenario"`
	Vars     map[string]string `json:"vars"`
}

// readRehearsal reads the rehearsal settings of a built-in runbook or of a
// runbook folder on disk; a runbook without them gets zero values.
func readRehearsal(p string) (rehearsal, error) {
	var r rehearsal
	var b []byte
	var err error
	if isBundled(p) {
		b, err = fs.ReadFile(rebind.Runbooks, path.Join(bundledDir, p, "rehearsal.json"))
	} else {
		dir := p
		if st, serr := os.Stat(p); serr == nil && !st.IsDir() {
			dir = filepath.Dir(p)
		}
		b, err = os.ReadFile(filepath.Join(dir, "rehearsal.json"))
	}
	if errors.Is(err, fs.ErrNotExist) {
		return r, nil
	}
	if err != nil {
		return r, err
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return r, fmt.Errorf("%s: rehearsal.json: %w", p, err)
	}
	return r, nil
}

func newRunbooksCmd(ios *IO) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "runbooks",
		Short: "List the documented runbooks built into rebind",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			names := bundled()
			width := 0
			for _, n := range names {
				width = max(width, len(n))
			}
			for _, n := range names {
				rb, _ := loadRunbook(n)
				title := ""
				if rb.Meta != nil {
					title = rb.Meta.Title
				}
				fmt.Fprintf(ios.Out, "%-*s  %s\n", width, n, title)
			}
			fmt.Fprintln(ios.Out, "\nMore: rebind runbooks show NAME. Try one against the lab: rebind rehearse NAME.")
			return nil
		},
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "show NAME",
		Short: "Show a runbook's documentation: when to use it, what it changes, what it needs",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !isBundled(args[0]) {
				return usageError{fmt.Errorf("no built-in runbook %q; `rebind runbooks` lists them", args[0])}
			}
			doc, err := fs.ReadFile(rebind.Runbooks, path.Join(bundledDir, args[0], "README.md"))
			if err != nil {
				return fmt.Errorf("runbook %s has no documentation yet", args[0])
			}
			_, err = ios.Out.Write(doc)
			return err
		},
	})
	return cmd
}
