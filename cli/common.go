package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/hashicorp/hcl/v2"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/rebind-dev/rebind/engine"
	"github.com/rebind-dev/rebind/engine/environment"
	"github.com/rebind-dev/rebind/engine/journal"
	"github.com/rebind-dev/rebind/engine/runbook"
	"github.com/rebind-dev/rebind/lab/control"
	"github.com/rebind-dev/rebind/termtext"
)

// varFlags are -var and -var-file.
// takesArg makes cmd take exactly one argument, the runbook, plan or run
// it acts on, which it stores in *arg before it calls run.
func takesArg(cmd *cobra.Command, arg *string, run func() error) {
	cmd.Args = cobra.ExactArgs(1)
	cmd.RunE = func(_ *cobra.Command, args []string) error {
		*arg = args[0]
		return run()
	}
}

type varFlags struct {
	vars  []string
	files []string
}

func (v *varFlags) register(fs *pflag.FlagSet) {
	fs.StringArrayVar(&v.vars, "var", nil, "set a variable: -var name=value (repeatable)")
	fs.StringArrayVar(&v.files, "var-file", nil, "read variables from an HCL or JSON file (repeatable)")
}

func (v *varFlags) inputs() (engine.Inputs, error) {
	in := engine.Inputs{Vars: map[string]string{}, Files: v.files}
	for _, kv := range v.vars {
		k, val, ok := strings.Cut(kv, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return in, usageError{fmt.Errorf("-var %q: want name=value", kv)}
		}
		in.Vars[strings.TrimSpace(k)] = val
	}
	return in, nil
}

// printDiags renders diagnostics with source snippets. File names are
// shown as the user gave the runbook's path.
func printDiags(ios *IO, rb *runbook.Runbook, diags hcl.Diagnostics) {
	if len(diags) == 0 {
		return
	}
	files := map[string]*hcl.File{}
	for name, f := range ios.extraFiles {
		files[name] = f
	}
	prefix := ""
	if rb != nil {
		switch {
		case rb.Dir != "" && rb.Dir != ".":
			prefix = rb.Dir
		case rb.Dir == "" && rb.Meta != nil && isBundled(rb.Meta.Name):
			// A runbook built into rebind: name it as `rebind runbooks` does.
			prefix = rb.Meta.Name
		}
		for name, f := range rb.Files {
			files[displayName(prefix, name)] = f
		}
	}
	shown := make(hcl.Diagnostics, 0, len(diags))
	for _, d := range diags {
		c := *d
		if c.Subject != nil && rb != nil && rb.Files[c.Subject.Filename] != nil {
			r := *c.Subject
			r.Filename = displayName(prefix, r.Filename)
			c.Subject = &r
		}
		if c.Context != nil && rb != nil && rb.Files[c.Context.Filename] != nil {
			r := *c.Context
			r.Filename = displayName(prefix, r.Filename)
			c.Context = &r
		}
		shown = append(shown, &c)
	}
	width := 0
	if f, ok := ios.Err.(*os.File); ok && ios.IsTerminal(f) {
		if w, _, err := term.GetSize(int(f.Fd())); err == nil {
			width = w
		}
	}
	// termtext writes them as hcl's writer does, with what they quote from
	// the runbook, its file names and the directories escaped and cut, and
	// at most termtext.MaxDiagnostics of them.
	_ = termtext.WriteDiagnostics(ios.Err, files, shown, termtext.DiagnosticOptions{Width: uint(width), Color: ios.Color(ios.Err)})
}

func displayName(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return filepath.ToSlash(filepath.Join(prefix, name))
}

// newEngine builds an engine over the journal in the state directory.
//
// Bound to a lab, an await passes the lab's virtual time between polls
// instead of sleeping.
//
// The engine keys the fingerprints and labels of sensitive values with the
// journal's secret key (the state directory's, or the shared database's
// with --state), so plan and apply of one plan must share a journal when the
// plan holds a secret.
func newEngine(ios *IO, g *Globals, store journal.Journal) (*engine.Engine, error) {
	key, err := g.stateKey(store)
	if err != nil {
		return nil, err
	}
	env, err := loadEnv(ios, g)
	if err != nil {
		return nil, err
	}
	e := &engine.Engine{Store: store, Log: ios.Err, WorkDir: g.workDir, Key: key, Env: env}
	if err := bindLab(context.Background(), e, g.Lab, g.StateDir); err != nil {
		return nil, err
	}
	return e, nil
}

// loadEnv reads the environment file named by --env or REBIND_ENV (nil
// when none), printing what is wrong with it. Its file is kept in ios so
// that later diagnostics quote its lines.
func loadEnv(ios *IO, g *Globals) (*environment.Environment, error) {
	if g.Env == "" {
		return nil, nil
	}
	env, diags := environment.Load(g.Env)
	if env != nil {
		if ios.extraFiles == nil {
			ios.extraFiles = map[string]*hcl.File{}
		}
		ios.extraFiles[env.Path] = env.File
	}
	if diags.HasErrors() {
		printDiags(ios, nil, diags)
		return nil, errReported
	}
	return env, nil
}

// bindLab binds every target of e to the lab tenant at u ("" unbinds) as
// an environment: the lab says where it serves Graph, Exchange and LDAP
// and hands out its CA (written under stateDir) and credentials, which
// the targets read as they read a tenant's. An await passes the lab's
// virtual time between polls instead of sleeping.
func bindLab(ctx context.Context, e *engine.Engine, u, stateDir string) error {
	e.Lab = strings.TrimRight(u, "/")
	e.Sleep, e.PollInterval, e.Bind, e.Getenv = nil, 0, nil, nil
	if e.Lab == "" {
		return nil
	}
	if e.Env != nil {
		return usageError{fmt.Errorf("--lab and --env (or REBIND_ENV) both given: a rehearsal binds every target to the lab, the environment file %s binds them elsewhere; give one", e.Env.Path)}
	}
	b, err := control.Bind(ctx, e.Lab, filepath.Join(stateDir, "lab"), nil)
	if err != nil {
		return err
	}
	e.Getenv = b.Getenv
	e.Bind = b.EnvironmentFor
	e.Sleep = control.NewSleeper(e.Lab).Sleep
	e.PollInterval = control.Poll
	return nil
}

// signalContext is cancelled by Ctrl-C, SIGTERM or SIGHUP (a closed
// terminal or SSH session), so a run stops cleanly: the command in flight
// is stopped, the journal says how the run ended (a write in flight is in
// doubt, as after a crash), and the run can be resumed. context.Cause names
// the signal.
func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
}

// confirm asks a yes/no question on a terminal.
func confirm(ios *IO, question string) (bool, error) {
	f, ok := ios.In.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return false, usageError{fmt.Errorf("%s: no terminal to ask on; pass -auto-approve to apply without asking", question)}
	}
	fmt.Fprintf(ios.Err, "%s Only 'yes' will be accepted: ", question)
	var answer string
	if _, err := fmt.Fscanln(ios.In, &answer); err != nil && err != io.EOF {
		return false, nil
	}
	return strings.TrimSpace(answer) == "yes", nil
}

// printReport tells how a run ended. Addresses, object names and errors
// come from the runbook and the directories: each is shown on its line
// with control and bidi characters escaped, and cut when long (safe).
func printReport(ios *IO, rep *engine.Report) {
	w := ios.Err
	if len(rep.Drift) > 0 {
		fmt.Fprintf(w, "\nApply refused: %d observed objects changed since the plan was made.\n", len(rep.Drift))
		for _, d := range rep.Drift {
			fmt.Fprintf(w, "  %s (%s)\n", safe(d.Address), safe(d.Object))
			for _, a := range d.Attributes {
				fmt.Fprintf(w, "      %s\n", safe(a))
			}
		}
		fmt.Fprintf(w, "Make a new plan and have it reviewed.\n")
		return
	}
	for _, f := range rep.Failures {
		if f.Address != "" {
			fmt.Fprintf(w, "  failed: %s: %s\n", safe(f.Address), safe(f.Err))
		} else {
			fmt.Fprintf(w, "  failed: %s\n", safe(f.Err))
		}
		// The values the failing expression used (its text says where
		// and what).
		for _, d := range f.Diagnostics {
			for _, v := range d.Values {
				fmt.Fprintf(w, "      %s\n", safe(v.Text()))
			}
		}
	}
	for _, r := range rep.Reverted {
		fmt.Fprintf(w, "  reverted: %s\n", safe(r))
	}
	for _, n := range rep.NotReverted {
		fmt.Fprintf(w, "  NOT reverted: %s: %s\n", safe(n.Address), safe(n.Err))
		// Where the step is, and the values involved (the change the
		// revert was to undo, or those of an expression that failed).
		for _, d := range n.Diagnostics {
			head := d.Summary
			if d.Range != nil {
				head = d.Range.String() + ": " + d.Summary
			}
			if d.Detail != n.Err {
				head += ": " + d.Detail
			}
			fmt.Fprintf(w, "      %s\n", safe(head))
			for _, v := range d.Values {
				fmt.Fprintf(w, "        %s\n", safe(v.Text()))
			}
		}
	}
	for _, d := range rep.InDoubt {
		fmt.Fprintf(w, "  in doubt: %s: the action may or may not have run and is not safe to repeat.\n", safe(d))
	}
	if len(rep.InDoubt) > 0 {
		fmt.Fprintf(w, "Check the object yourself, then: rebind resume %s --done ADDRESS (it ran) or --rerun ADDRESS (run it again).\n", safe(rep.RunID))
	}
	id := safe(rep.RunID)
	switch rep.Status {
	case journal.StatusSucceeded:
		fmt.Fprintf(w, "\nRun %s succeeded: %d changed, %d already so.\n", id, rep.Applied, rep.Unchanged)
	case journal.StatusPaused:
		fmt.Fprintf(w, "\nRun %s paused: %s\n", id, safe(rep.Paused))
	case journal.StatusRolledBack:
		fmt.Fprintf(w, "\nRun %s rolled back: %d reverted, %d not reverted.\n", id, len(rep.Reverted), len(rep.NotReverted))
	default:
		how := safe(string(rep.Status))
		if rep.Interrupted != "" {
			how = "interrupted (" + safe(rep.Interrupted) + ")"
		}
		if len(rep.InDoubt) > 0 {
			// A plain resume would only stop at the same action again.
			fmt.Fprintf(w, "\nRun %s %s. Settle what is in doubt as above to resume it, or undo it with `rebind rollback %s`.\n", id, how, id)
			return
		}
		fmt.Fprintf(w, "\nRun %s %s. Resume it with `rebind resume %s` or undo it with `rebind rollback %s`.\n", id, how, id, id)
	}
}

// maxErrorText is how many characters of an error, a note or a name the
// CLI prints: a 10 MB value quoted in an error is cut around the middle,
// saying how long it was.
const maxErrorText = 2000

// safe is text that rebind did not write, as the CLI prints it on one
// line: control and bidi characters shown as escapes, cut to
// maxErrorText characters.
func safe(s string) string { return termtext.Line(termtext.Clip(s, maxErrorText)) }

// safeBlock is safe for text that may span lines (an error joined from
// several): newlines and tabs are kept.
func safeBlock(s string) string { return termtext.Block(termtext.Clip(s, maxErrorText)) }

// writeJSON writes v as indented JSON with every control, bidi and
// invisible character in a string written as a \u escape: encoding/json
// escapes C0 controls itself but leaves DEL, C1 controls and bidi
// overrides raw, and JSON output is read on terminals too. The values are
// the same to any JSON reader.
func writeJSON(w io.Writer, v any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return err
	}
	_, err := w.Write(termtext.JSON(buf.Bytes()))
	return err
}

// reportErr turns a report into the command's exit status.
func reportErr(rep *engine.Report) error {
	if rep == nil {
		return errReported
	}
	// A paused run is not done: scripts must not carry on as if it were.
	if rep.Status == journal.StatusSucceeded {
		return nil
	}
	if rep.Status == journal.StatusRolledBack && len(rep.NotReverted) == 0 && len(rep.Failures) == 0 {
		return nil
	}
	return errReported
}
