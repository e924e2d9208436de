package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/rebind-dev/rebind/engine"
)

type validateOptions struct {
	IO   *IO
	Path string
}

func newValidateCmd(ios *IO, g *Globals) *cobra.Command {
	opts := &validateOptions{IO: ios}
	return &cobra.Command{
		Use:   "validate RUNBOOK",
		Short: "Check a runbook without contacting any directory",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Path = args[0]
			return runValidate(opts)
		},
	}
}

func runValidate(opts *validateOptions) error {
	rb, diags := loadRunbook(opts.Path)
	if !diags.HasErrors() {
		diags = append(diags, (&engine.Engine{}).Validate(rb)...)
	}
	printDiags(opts.IO, rb, diags)
	if diags.HasErrors() {
		return errReported
	}
	fmt.Fprintf(opts.IO.Out, "The runbook %q is valid: %d steps, %d data blocks.\n", rb.Meta.Name, len(rb.Steps), len(rb.Data))
	return nil
}
