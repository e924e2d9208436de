package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/rebind-dev/rebind/engine/plan"
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
	ctx := context.Background()
	run, err := store.Run(ctx, opts.RunID)
	if err != nil {
		return err
	}
	if err := checkApproveStep(run.Plan, run.ID, opts.Step); err != nil {
		return err
	}
	by := opts.By
	if by == "" {
		by = currentUser()
	}
	if err := store.ApproveStep(ctx, run.ID, opts.Step, by); err != nil {
		return err
	}
	fmt.Fprintf(opts.IO.Out, "Recorded %s's go-ahead for %s in run %s. Continue with: rebind resume %s\n", safe(by), safe(opts.Step), safe(run.ID), safe(run.ID))
	return nil
}

// checkApproveStep refuses a go-ahead for a step the run does not have, or
// that is not an approve step: a mistyped address would otherwise be
// recorded, and the run would stay paused with no word of why.
func checkApproveStep(planBytes []byte, runID, addr string) error {
	p, err := plan.Decode(planBytes, "run "+runID)
	if err != nil {
		return err
	}
	base := addr
	if i := strings.IndexByte(addr, '['); i >= 0 {
		base = addr[:i]
	}
	var gates []string
	for _, st := range p.Steps {
		if st.Type != "approve" || st.Mode == "data" {
			continue
		}
		var instances []string
		for _, in := range st.Instances {
			if in.Address == addr || in.Action == plan.ActionDeferred {
				return nil // that gate, or a fan-out whose keys were decided at apply
			}
			instances = append(instances, in.Address)
		}
		gates = append(gates, instances...)
		if st.Address == base && len(instances) == 0 {
			return nil
		}
	}
	if len(gates) == 0 {
		return fmt.Errorf("run %s has no approve step; %s is not one", runID, addr)
	}
	return fmt.Errorf("run %s has no approve step %s; its approve steps are %s", runID, addr, strings.Join(gates, ", "))
}
