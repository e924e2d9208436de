package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/rebind-dev/rebind/engine"
	"github.com/rebind-dev/rebind/engine/plan"
)

type applyOptions struct {
	IO          *IO
	G           *Globals
	Target      string
	AutoApprove bool
	Vars        varFlags
	Author      string
	// AllowedSigners verifies a plan's approvals (env REBIND_ALLOWED_SIGNERS).
	AllowedSigners string
	Now            func() time.Time
}

func newApplyCmd(ios *IO, g *Globals) *cobra.Command {
	opts := &applyOptions{IO: ios, G: g, Now: time.Now}
	cmd := &cobra.Command{
		Use:   "apply (PLAN | RUNBOOK) [-auto-approve] [-var name=value]",
		Short: "Apply a reviewed plan, or plan and apply a runbook in one go",
		Long: `apply PLAN checks the plan's digest, approvals and expiry, observes every
object again and refuses if any changed, then runs it with a durable journal.

apply RUNBOOK plans, shows the plan and asks for 'yes' on a terminal (or goes
ahead with -auto-approve). A runbook that asks for approvals can only be
applied from an approved plan.

A run holds the objects it touches until it succeeds or is rolled back. An
apply that finds one held by another run writes nothing and creates no run:
apply again once that run has ended.

Ctrl-C, SIGTERM and SIGHUP stop a run cleanly: the command in flight is
stopped, and a write that was in flight is left in doubt for resume to
settle, as after a crash.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Target = args[0]
			return runApply(opts)
		},
	}
	opts.Vars.register(cmd.Flags())
	cmd.Flags().BoolVar(&opts.AutoApprove, "auto-approve", false, "apply a runbook without asking")
	cmd.Flags().StringVar(&opts.Author, "author", "", "who applies (default: the local user)")
	cmd.Flags().StringVar(&opts.AllowedSigners, "allowed-signers", "", "verify the plan's approvals against this allowed-signers file (env REBIND_ALLOWED_SIGNERS)")
	return cmd
}

// isRunbookPath tells a runbook (a folder or an .hcl file) from a plan file.
func isRunbookPath(p string) bool {
	if st, err := os.Stat(p); err == nil && st.IsDir() {
		return true
	}
	return strings.EqualFold(filepath.Ext(p), ".hcl")
}

func runApply(opts *applyOptions) error {
	ios := opts.IO
	var p *plan.Plan
	digest := ""
	if isRunbookPath(opts.Target) {
		var err error
		p, err = makePlan(ios, opts.G, opts.Target, opts.Vars, engine.PlanOptions{Author: opts.Author})
		if err != nil {
			return err
		}
		if n := p.RequiredApprovals(); n > 0 {
			return fmt.Errorf("the runbook %q needs %d approvals: save a plan with `rebind plan -out FILE`, have it approved, then `rebind apply FILE`", p.Runbook.Name, n)
		}
		if err := plan.RenderText(ios.Err, p, plan.TextOptions{Color: ios.Color(ios.Err)}); err != nil {
			return err
		}
		if !opts.AutoApprove {
			ok, err := confirm(ios, "\nApply these changes?")
			if err != nil {
				return err
			}
			if !ok {
				fmt.Fprintln(ios.Err, "Apply cancelled.")
				return errReported
			}
		}
	} else {
		var err error
		p, err = plan.Read(opts.Target)
		if err != nil {
			return err
		}
		if err := checkPlan(p, opts.Now(), opts.AllowedSigners); err != nil {
			return err
		}
		digest = p.Digest()
	}
	in, err := opts.Vars.inputs()
	if err != nil {
		return err
	}
	store, err := opts.G.store()
	if err != nil {
		return err
	}
	defer store.Close()
	ctx, cancel := signalContext()
	defer cancel()
	e := newEngine(ios, opts.G, store)
	if p.Lab != "" && e.Lab == "" {
		bindLab(e, p.Lab)
	}
	if e.Lab != p.Lab {
		return fmt.Errorf("the plan was made against %s; apply it against the same targets (--lab %q)", labName(p.Lab), p.Lab)
	}
	rep, diags := e.Apply(ctx, p, in, engine.ApplyOptions{PlanDigest: digest, Author: opts.Author})
	printDiags(ios, nil, diags)
	if diags.HasErrors() {
		return errReported
	}
	printReport(ios, rep)
	return reportErr(rep)
}

func labName(u string) string {
	if u == "" {
		return "the real directories"
	}
	return "the lab at " + u
}
