package cli

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/rebind-dev/rebind/engine"
	"github.com/rebind-dev/rebind/engine/journal"
	"github.com/rebind-dev/rebind/engine/plan"
)

type planOptions struct {
	IO     *IO
	G      *Globals
	Path   string
	Out    string
	JSON   bool
	Vars   varFlags
	TTL    time.Duration
	Author string
	Key    string
}

func newPlanCmd(ios *IO, g *Globals) *cobra.Command {
	opts := &planOptions{IO: ios, G: g}
	cmd := &cobra.Command{
		Use:   "plan RUNBOOK [-var name=value] [-var-file FILE] [-out PLAN]",
		Short: "Observe the directories and show what a runbook would change",
		Long: `plan observes every object the runbook touches and shows each change
(before -> after). Nothing is written. With -out it saves the plan for review
(rebind show, rebind approve) and a later 'rebind apply PLAN'.`,
	}
	takesArg(cmd, &opts.Path, func() error { return runPlan(opts) })
	opts.Vars.register(cmd.Flags())
	cmd.Flags().StringVar(&opts.Out, "out", "", "save the plan to this file")
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print the plan as JSON")
	cmd.Flags().DurationVar(&opts.TTL, "ttl", 24*time.Hour, "how long the saved plan stays valid")
	cmd.Flags().StringVar(&opts.Author, "author", "", "who makes the plan (default: the local user)")
	cmd.Flags().StringVar(&opts.Key, "key", "", "the author's SSH key (private, or .pub held by ssh-agent): recorded so that the author's own signature never counts as an approval")
	return cmd
}

// makePlan loads and plans a runbook, printing diagnostics.
func makePlan(ios *IO, g *Globals, path string, vars varFlags, popt engine.PlanOptions) (*plan.Plan, error) {
	in, err := vars.inputs()
	if err != nil {
		return nil, err
	}
	rb, diags := loadRunbook(path)
	if diags.HasErrors() {
		printDiags(ios, rb, diags)
		return nil, errReported
	}
	ctx, cancel := signalContext()
	defer cancel()
	// A shared journal (--state) is read at plan time: a plan that would
	// write an object another machine's run holds is refused there.
	var store journal.Journal
	if g.State != "" {
		if store, err = g.store(); err != nil {
			return nil, err
		}
		defer store.Close()
		popt.RefuseLocked = true
	}
	e, err := newEngine(ios, g, store)
	if err != nil {
		return nil, err
	}
	p, d := e.Plan(ctx, rb, in, popt)
	diags = append(diags, d...)
	printDiags(ios, rb, diags)
	if diags.HasErrors() {
		return nil, errReported
	}
	return p, nil
}

func runPlan(opts *planOptions) error {
	p, err := makePlan(opts.IO, opts.G, opts.Path, opts.Vars, engine.PlanOptions{Author: opts.Author, TTL: opts.TTL})
	if err != nil {
		return err
	}
	// The author's key is part of what the digest covers: record it before
	// the plan is shown, so that the digest the author reads is the one
	// saved and signed.
	if opts.Key != "" {
		signer, err := loadSigner(opts.IO, opts.Key, nil)
		if err != nil {
			return fmt.Errorf("--key %s: %w", opts.Key, err)
		}
		p.AuthorKey = plan.AuthorizedKey(signer.PublicKey())
	}
	if opts.JSON {
		if err := writeJSON(opts.IO.Out, p); err != nil {
			return err
		}
	} else if err := plan.RenderText(opts.IO.Out, p, plan.TextOptions{Color: opts.IO.Color(opts.IO.Out), PlanFile: opts.Out}); err != nil {
		return err
	}
	if opts.Out != "" {
		if err := p.Write(opts.Out); err != nil {
			return err
		}
		fmt.Fprintf(opts.IO.Err, "Plan saved to %s (sha256:%s).\n", safe(opts.Out), p.Digest())
	}
	return nil
}
