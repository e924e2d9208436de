// Package cli is rebind's command tree. Each verb lives in its own file with
// an options struct of its dependencies and the work in a plain function
// that tests call directly.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/mattn/go-isatty"
	"github.com/spf13/cobra"

	"github.com/rebind-dev/rebind/engine/journal"

	// Step and target types register themselves.
	// The rehearsal lab's sync engine, as the adsync driver "lab".
	_ "github.com/rebind-dev/rebind/lab/labsync"
	_ "github.com/rebind-dev/rebind/steps/ad"
	_ "github.com/rebind-dev/rebind/steps/adsync"
	_ "github.com/rebind-dev/rebind/steps/core"
	_ "github.com/rebind-dev/rebind/steps/entra"
	_ "github.com/rebind-dev/rebind/steps/exo"
)

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

// Version is set at build time with -ldflags "-X .../cli.Version=...".
var Version = "dev"

// IO is where a command reads and writes.
type IO struct {
	In       io.Reader
	Out, Err io.Writer
	// extraFiles are files other than the runbook's that diagnostics
	// quote (the environment file), by the name they carry.
	extraFiles map[string]*hcl.File
}

// IsTerminal reports whether w is a terminal.
func (s *IO) IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()))
}

// Color reports whether output to w may be coloured: a terminal, and
// NO_COLOR unset.
func (s *IO) Color(w io.Writer) bool {
	if _, set := os.LookupEnv("NO_COLOR"); set {
		return false
	}
	return s.IsTerminal(w)
}

// Globals are the flags every command shares.
type Globals struct {
	StateDir string
	// State, when set, is a postgres:// URL: runs are journaled in that
	// shared database instead of the state directory.
	State string
	// stateLog is where the journal tells the person running rebind of a
	// claim taken over or a lease lost.
	stateLog io.Writer
	Lab      string
	// Env is the environment file (--env, REBIND_ENV).
	Env string
	// workDir, when set, is where relative paths in step arguments resolve
	// instead of the current directory (a rehearsal's own folder).
	workDir string
}

// store opens the journal: the shared database --state names, or the one
// in the state directory.
func (g *Globals) store() (journal.Journal, error) {
	return journal.OpenState(context.Background(), g.State, g.StateDir, g.stateLog)
}

// stateKey is the key of the journal store, or, with none open, of the
// journal --state or --state-dir names.
func (g *Globals) stateKey(store journal.Journal) ([]byte, error) {
	if store != nil {
		return store.StateKey()
	}
	if g.State == "" {
		return journal.StateKey(g.StateDir)
	}
	s, err := g.store()
	if err != nil {
		return nil, err
	}
	defer s.Close()
	return s.StateKey()
}

// usageError marks errors that should exit 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// failure is an error already reported to the user; it exits 1 quietly.
var errReported = errors.New("reported")

// Main runs the command line and returns the exit code.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	ios := &IO{In: stdin, Out: stdout, Err: stderr}
	root := newRoot(ios)
	root.SetArgs(normalizeArgs(args))
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.Execute()
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, errReported):
		return exitFailure
	}
	var ue usageError
	if errors.As(err, &ue) || isCobraUsage(err) {
		fmt.Fprintf(stderr, "rebind: %s\nRun 'rebind --help' for usage.\n", safeBlock(err.Error()))
		return exitUsage
	}
	// Errors quote paths, names and what directories answered.
	fmt.Fprintf(stderr, "rebind: %s\n", safeBlock(err.Error()))
	return exitFailure
}

func isCobraUsage(err error) bool {
	msg := err.Error()
	for _, p := range []string{"unknown command", "unknown flag", "unknown shorthand flag", "accepts ", "requires at least", "flag needs an argument", "invalid argument", "requires exactly"} {
		if strings.Contains(msg, p) {
			return true
		}
	}
	return false
}

// normalizeArgs accepts terraform-style single-dash long flags
// (-var, -var-file, -out, -auto-approve) as well as the double-dash forms.
func normalizeArgs(args []string) []string {
	long := map[string]bool{"var": true, "var-file": true, "out": true, "auto-approve": true, "json": true, "format": true, "scenario": true, "lab": true, "env": true, "state-dir": true, "state": true, "verbose": true, "progress-interval": true}
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = a
		if a == "--" {
			copy(out[i:], args[i:])
			break
		}
		if strings.HasPrefix(a, "-") && !strings.HasPrefix(a, "--") && len(a) > 2 {
			name := strings.SplitN(a[1:], "=", 2)[0]
			if long[name] {
				out[i] = "-" + a
			}
		}
	}
	return out
}

func newRoot(ios *IO) *cobra.Command {
	g := &Globals{stateLog: ios.Err}
	root := &cobra.Command{
		Use:   "rebind",
		Short: "Plan, review, apply and roll back hybrid identity repairs",
		Long: `rebind runs HCL runbooks that repair hybrid Microsoft 365 identities
(Active Directory synced to Entra ID, mail in Exchange Online): it plans
against the live directories, applies with a durable journal, resumes an
interrupted run and rolls completed steps back.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	stateDefault := os.Getenv("REBIND_STATE_DIR")
	if stateDefault == "" {
		stateDefault = ".rebind"
	}
	root.PersistentFlags().StringVar(&g.StateDir, "state-dir", stateDefault, "where runs are journaled (env REBIND_STATE_DIR)")
	root.PersistentFlags().StringVar(&g.Env, "env", os.Getenv("REBIND_ENV"), "the environment file holding the targets' settings (env REBIND_ENV)")
	root.PersistentFlags().StringVar(&g.State, "state", os.Getenv("REBIND_STATE"), "journal runs in this shared PostgreSQL database (postgres://...) instead of --state-dir (env REBIND_STATE)")
	root.PersistentFlags().StringVar(&g.Lab, "lab", os.Getenv("REBIND_LAB"), "bind every target to the lab tenant at this URL (env REBIND_LAB)")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(
		newValidateCmd(ios, g),
		newPlanCmd(ios, g),
		newShowCmd(ios, g),
		newApplyCmd(ios, g),
		newApproveCmd(ios, g),
		newResumeCmd(ios, g),
		newRollbackCmd(ios, g),
		newRunsCmd(ios, g),
		newApproveStepCmd(ios, g),
		newStepsCmd(ios, g),
		newLabCmd(ios, g),
		newRunbooksCmd(ios),
		newRehearseCmd(ios, g),
		newVersionCmd(ios),
		newPermissionsCmd(ios, g),
		newDoctorCmd(ios, g),
		newSnapshotCmd(ios, g),
		newDiagnoseCmd(ios, g),
	)
	return root
}

func newVersionCmd(ios *IO) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print rebind's version, the commit it was built from and when",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			v := readVersion()
			if asJSON {
				return writeJSON(ios.Out, v)
			}
			fmt.Fprint(ios.Out, v.String())
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	return cmd
}

// versionInfo is what `rebind version` reports, from the build information
// the go command embeds in the binary (runtime/debug.ReadBuildInfo): the
// main module's version ("(devel)" for a plain `go build` outside a tagged
// checkout, the module version for `go install ...@VERSION`) and, when the
// binary was built inside a git checkout, the vcs.* settings.
type versionInfo struct {
	Version   string `json:"version"`
	Module    string `json:"module,omitempty"`
	Commit    string `json:"commit,omitempty"`
	Time      string `json:"commit_time,omitempty"`
	Modified  bool   `json:"modified,omitempty"`
	GoVersion string `json:"go_version,omitempty"`
}

func readVersion() versionInfo {
	v := versionInfo{Version: Version}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return v
	}
	v.Module = bi.Main.Path
	v.GoVersion = bi.GoVersion
	// -ldflags -X cli.Version wins; otherwise the module version.
	if Version == "dev" && bi.Main.Version != "" {
		v.Version = bi.Main.Version
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			v.Commit = s.Value
		case "vcs.time":
			v.Time = s.Value
		case "vcs.modified":
			v.Modified = s.Value == "true"
		}
	}
	return v
}

func (v versionInfo) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "rebind %s\n", v.Version)
	if v.Commit != "" {
		mod := ""
		if v.Modified {
			mod = " (with uncommitted changes)"
		}
		fmt.Fprintf(&b, "commit %s%s\n", v.Commit, mod)
	}
	if v.Time != "" {
		fmt.Fprintf(&b, "committed %s\n", v.Time)
	}
	if v.GoVersion != "" {
		fmt.Fprintf(&b, "go %s\n", v.GoVersion)
	}
	return b.String()
}
