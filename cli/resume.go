package cli

import (
	"context"

	"github.com/hashicorp/hcl/v2"
	"github.com/spf13/cobra"

	"github.com/rebind-dev/rebind/engine"
	"github.com/rebind-dev/rebind/engine/journal"
	"github.com/rebind-dev/rebind/engine/plan"
)

type resumeOptions struct {
	IO    *IO
	G     *Globals
	RunID string
	Vars  varFlags
	Done  []string
	Rerun []string
	// Progress: --verbose, --progress-interval (see apply).
	Progress progressFlags
}

func newResumeCmd(ios *IO, g *Globals) *cobra.Command {
	opts := &resumeOptions{IO: ios, G: g}
	cmd := &cobra.Command{
		Use:   "resume RUN [--done ADDRESS] [--rerun ADDRESS]",
		Short: "Continue a run that stopped (failure, pause or crash)",
		Long: `resume continues a run where it stopped. Completed steps are not touched
again. A step whose write was in flight when the run stopped is observed again:
if it is already so it is marked done, otherwise it is applied again. An action
that cannot be observed and is not safe to repeat stops the resume; check the
object yourself and say --done ADDRESS or --rerun ADDRESS.`,
	}
	takesArg(cmd, &opts.RunID, func() error { return runResume(opts) })
	opts.Vars.register(cmd.Flags())
	cmd.Flags().StringArrayVar(&opts.Done, "done", nil, "an in-doubt action that did complete (repeatable)")
	cmd.Flags().StringArrayVar(&opts.Rerun, "rerun", nil, "an in-doubt action to run again (repeatable)")
	opts.Progress.register(cmd.Flags())
	return cmd
}

func runResume(opts *resumeOptions) error {
	in, err := opts.Vars.inputs()
	if err != nil {
		return err
	}
	decide := map[string]string{}
	for _, a := range opts.Done {
		decide[a] = "done"
	}
	for _, a := range opts.Rerun {
		decide[a] = "rerun"
	}
	return onRun(opts.IO, opts.G, opts.RunID, opts.Progress, func(ctx context.Context, e *engine.Engine) (*engine.Report, hcl.Diagnostics) {
		return e.Resume(ctx, opts.RunID, in, engine.ResumeOptions{Decide: decide})
	})
}

// onRun opens the journal, binds the engine to the lab the run used (unless
// --lab says otherwise), does the work on the run and reports how it ended.
func onRun(ios *IO, g *Globals, runID string, pf progressFlags, work func(context.Context, *engine.Engine) (*engine.Report, hcl.Diagnostics)) error {
	store, err := g.store()
	if err != nil {
		return err
	}
	defer store.Close()
	ctx, cancel := signalContext()
	defer cancel()
	e, err := newEngine(ios, g, store)
	if err != nil {
		return err
	}
	if err := bindRunLab(ctx, e, store, runID, g.StateDir); err != nil {
		return err
	}
	return runShown(ios, e, pf, func() (*engine.Report, hcl.Diagnostics) { return work(ctx, e) })
}

// runShown runs work (an apply, resume or rollback) on e with the progress
// pf asks for, prints its diagnostics and its report, and returns how the
// run ended as the command's error.
func runShown(ios *IO, e *engine.Engine, pf progressFlags, work func() (*engine.Report, hcl.Diagnostics)) error {
	stop := pf.attach(ios, e)
	rep, diags := work()
	stop()
	printDiags(ios, nil, diags)
	if diags.HasErrors() {
		return errReported
	}
	printReport(ios, rep)
	return reportErr(rep)
}

// bindRunLab makes resume and rollback use the lab the run was planned
// against, unless --lab says otherwise.
func bindRunLab(ctx context.Context, e *engine.Engine, store journal.Journal, id, stateDir string) error {
	if e.Lab != "" {
		return nil
	}
	run, err := store.Run(ctx, id)
	if err != nil {
		return err
	}
	// A plan that cannot be read is the engine's to report, when it opens
	// the run.
	if p, err := plan.Decode(run.Plan, "run "+run.ID); err == nil && p.Lab != "" {
		return bindLab(ctx, e, p.Lab, stateDir)
	}
	return nil
}
