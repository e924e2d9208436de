package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/rebind-dev/rebind/engine"
)

type approveStepOptions struct {
	IO    *IO
	G     *Globals
	RunID string
	Step  string
	By    string
}

func newApproveStepCmd(ios *IO, g *Globals) *cobra.Command {
	opts := &approveStepOptions{IO: ios, G: g}
	cmd := &cobra.Command{
		Use:   "approve-step RUN STEP",
		Short: "Record a person's go-ahead for a run paused at an approve step",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.RunID, opts.Step = args[0], args[1]
			return runApproveStep(opts)
		},
	}
	cmd.Flags().StringVar(&opts.By, "by", "", "who approves (default: the local user)")
	return cmd
}

func runApproveStep(opts *approveStepOptions) error {
	store, err := opts.G.store()
	if err != nil {
		return err
	}
	defer store.Close()
	by := opts.By
	if by == "" {
		by = engine.LocalUser()
	}
	e := &engine.Engine{Store: store}
	id, err := e.ApproveStep(context.Background(), opts.RunID, opts.Step, by)
	if err != nil {
		return err
	}
	fmt.Fprintf(opts.IO.Out, "Recorded %s's go-ahead for %s in run %s. Continue with: rebind resume %s\n", safe(by), safe(opts.Step), safe(id), safe(id))
	return nil
}
