package cli

import (
	"context"

	"github.com/hashicorp/hcl/v2"
	"github.com/spf13/cobra"

	"github.com/rebind-dev/rebind/engine"
)

type rollbackOptions struct {
	IO    *IO
	G     *Globals
	RunID string
	Vars  varFlags
	// Progress: --verbose, --progress-interval (see apply).
	Progress progressFlags
}

func newRollbackCmd(ios *IO, g *Globals) *cobra.Command {
	opts := &rollbackOptions{IO: ios, G: g}
	cmd := &cobra.Command{
		Use:   "rollback RUN",
		Short: "Revert the completed steps of a run, newest first",
		Long: `rollback brings every object a run changed back to its recorded
before-value, newest change first. Changes that cannot be undone (a purge, a
tenant sync switch inside its 72-hour window) are reported, not pretended away.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.RunID = args[0]
			return runRollback(opts)
		},
	}
	opts.Vars.register(cmd.Flags())
	opts.Progress.register(cmd.Flags())
	return cmd
}

func runRollback(opts *rollbackOptions) error {
	in, err := opts.Vars.inputs()
	if err != nil {
		return err
	}
	return onRun(opts.IO, opts.G, opts.RunID, opts.Progress, func(ctx context.Context, e *engine.Engine) (*engine.Report, hcl.Diagnostics) {
		return e.Rollback(ctx, opts.RunID, in)
	})
}
