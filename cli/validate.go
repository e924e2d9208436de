package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/rebind-dev/rebind/engine"
	"github.com/rebind-dev/rebind/engine/environment"
)

type validateOptions struct {
	IO   *IO
	G    *Globals
	Path string
}

func newValidateCmd(ios *IO, g *Globals) *cobra.Command {
	opts := &validateOptions{IO: ios, G: g}
	return &cobra.Command{
		Use:   "validate RUNBOOK",
		Short: "Check a runbook (and the environment given with --env) without contacting any directory",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Path = args[0]
			return runValidate(opts)
		},
	}
}

func runValidate(opts *validateOptions) error {
	rb, diags := loadRunbook(opts.Path)
	var env *environment.Environment
	if !diags.HasErrors() && opts.G != nil {
		var err error
		if env, err = loadEnv(opts.IO, opts.G); err != nil {
			return err
		}
	}
	if !diags.HasErrors() {
		e := &engine.Engine{Env: env}
		if opts.G != nil {
			e.Lab = opts.G.Lab
		}
		diags = append(diags, e.Validate(rb)...)
	}
	printDiags(opts.IO, rb, diags)
	if diags.HasErrors() {
		return errReported
	}
	mods := ""
	if len(rb.Modules) > 0 {
		mods = fmt.Sprintf(", %d module calls", len(rb.Modules))
		if len(rb.Modules) == 1 {
			mods = ", 1 module call"
		}
	}
	fmt.Fprintf(opts.IO.Out, "The runbook %q is valid: %d steps, %d data blocks%s.\n", rb.Meta.Name, len(rb.Steps), len(rb.Data), mods)
	if env == nil && len(rb.Targets) > 0 && (opts.G == nil || opts.G.Lab == "") {
		fmt.Fprintf(opts.IO.Out, "Its targets were not checked against an environment: give one with --env FILE (or REBIND_ENV).\n")
	}
	return nil
}
