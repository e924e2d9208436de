package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/spf13/cobra"

	"github.com/rebind-dev/rebind/engine"
	"github.com/rebind-dev/rebind/engine/approval"
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
	// Policy is the applier's approval policy file (env REBIND_POLICY).
	Policy string
	Now    func() time.Time
	// Progress is how the run shows its progress (--verbose,
	// --progress-interval).
	Progress progressFlags
}

func newApplyCmd(ios *IO, g *Globals) *cobra.Command {
	opts := &applyOptions{IO: ios, G: g, Now: time.Now}
	cmd := &cobra.Command{
		Use:   "apply (PLAN | RUNBOOK) [-auto-approve] [-var name=value]",
		Short: "Apply a reviewed plan, or plan and apply a runbook in one go",
		Long: `apply PLAN checks the plan against its own runbook sources and rebind's
step types, its expiry and its approvals, observes every object again and
refuses if any changed, then runs it with a durable journal.

The approvals a plan needs are recomputed, never taken from the plan file:
the runbook's approvals and irreversible_approvals from the sources the plan
carries, raised to the floors of your policy file (--policy or REBIND_POLICY):

  approvals              = 1                  # every plan needs at least this many reviewers
  irreversible_approvals = 2                  # and this many when a change cannot be undone
  allowed_signers        = "allowed_signers"  # whose signatures count (relative to the policy file)

A plan whose file disagrees with its sources or step types is refused as
altered, naming the field.

apply RUNBOOK plans, shows the plan and asks for 'yes' on a terminal (or goes
ahead with -auto-approve). A runbook (or policy) that asks for approvals can
only be applied from an approved plan.

A run holds the objects it touches until it succeeds or is rolled back. An
apply that finds one held by another run writes nothing and creates no run:
apply again once that run has ended.

A fan-out (a step with for_each) shows one line of progress while it runs:
done / total, rate, ETA, failed and throttled instances; live on a terminal,
and otherwise printed every --progress-interval (10s) and when it ends.
Its instances print a line each only with --verbose.

Ctrl-C, SIGTERM and SIGHUP stop a run cleanly: the command in flight is
stopped, and a write that was in flight is left in doubt for resume to
settle, as after a crash.`,
	}
	takesArg(cmd, &opts.Target, func() error { return runApply(opts) })
	opts.Vars.register(cmd.Flags())
	cmd.Flags().BoolVar(&opts.AutoApprove, "auto-approve", false, "apply a runbook without asking")
	cmd.Flags().StringVar(&opts.Author, "author", "", "who applies (default: the local user)")
	cmd.Flags().StringVar(&opts.AllowedSigners, "allowed-signers", "", "verify the plan's approvals against this allowed-signers file (env REBIND_ALLOWED_SIGNERS)")
	cmd.Flags().StringVar(&opts.Policy, "policy", "", "the applier's approval policy file (env REBIND_POLICY)")
	opts.Progress.register(cmd.Flags())
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
	pol, err := loadPolicy(opts.Policy, opts.AllowedSigners)
	if err != nil {
		return err
	}
	var p *plan.Plan
	saved := !isRunbookPath(opts.Target)
	if !saved {
		p, err = makePlan(ios, opts.G, opts.Target, opts.Vars, engine.PlanOptions{Author: opts.Author})
		if err != nil {
			return err
		}
		if r, err := approval.Check(p, pol, opts.Now()); err != nil && r != nil && r.Required > 0 {
			return fmt.Errorf("the runbook %q needs %d approval%s under %s: save a plan with `rebind plan -out FILE`, have it approved, then `rebind apply FILE`", p.Runbook.Name, r.Required, plural(r.Required), pol.Name())
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
		p, err = plan.Read(opts.Target)
		if err != nil {
			return err
		}
		if pol.Source == "" {
			fmt.Fprintf(ios.Err, "No approval policy (--policy or %s): the runbook's own approval counts apply.\n", approval.EnvPolicy)
		}
	}
	in, err := opts.Vars.inputs()
	if err != nil {
		return err
	}
	// A plan's lab field never binds an apply to a lab by itself: the
	// operator says where it runs.
	if lab := strings.TrimRight(opts.G.Lab, "/"); lab != strings.TrimRight(p.Lab, "/") {
		if p.Lab != "" {
			return fmt.Errorf("the plan was made against the lab at %s; to apply it there, say so: rebind --lab %s apply %s", p.Lab, p.Lab, opts.Target)
		}
		return fmt.Errorf("the plan was made against the real directories, not the lab at %s; apply it without --lab", lab)
	}
	e, err := newEngine(ios, opts.G, nil)
	if err != nil {
		return err
	}
	store, err := opts.G.store()
	if err != nil {
		return err
	}
	defer store.Close()
	e.Store = store
	ctx, cancel := signalContext()
	defer cancel()
	return runShown(ios, e, opts.Progress, func() (*engine.Report, hcl.Diagnostics) {
		return e.Apply(ctx, p, in, engine.ApplyOptions{Saved: saved, Author: opts.Author, Policy: pol})
	})
}

// loadPolicy reads the applier's approval policy from path, or
// REBIND_POLICY when path is empty (the default policy when neither is
// set), with the allowed signers of --allowed-signers or
// REBIND_ALLOWED_SIGNERS when the policy names none.
func loadPolicy(path, allowedSignersPath string) (*approval.Policy, error) {
	if path == "" {
		path = os.Getenv(approval.EnvPolicy)
	}
	pol := approval.Default()
	if path != "" {
		var err error
		if pol, err = approval.Load(path); err != nil {
			return nil, err
		}
	}
	as, err := loadAllowedSigners(allowedSignersPath)
	if err != nil {
		return nil, err
	}
	if as != nil {
		if pol.AllowedSigners != nil {
			return nil, usageError{fmt.Errorf("both %s (allowed_signers = %s) and --allowed-signers / REBIND_ALLOWED_SIGNERS (%s) say whose approvals count; keep one", pol.Source, pol.AllowedSignersPath, as.Name)}
		}
		pol.AllowedSigners, pol.AllowedSignersPath = as, as.Name
	}
	return pol, nil
}
