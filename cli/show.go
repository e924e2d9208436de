package cli

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/rebind-dev/rebind/engine/plan"
)

type showOptions struct {
	IO     *IO
	Path   string
	Format string
}

func newShowCmd(ios *IO, g *Globals) *cobra.Command {
	opts := &showOptions{IO: ios}
	cmd := &cobra.Command{
		Use:   "show PLAN [--format text|json]",
		Short: "Render a saved plan for review",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Path = args[0]
			return runShow(opts)
		},
	}
	cmd.Flags().StringVar(&opts.Format, "format", "text", "text or json")
	return cmd
}

func runShow(opts *showOptions) error {
	p, err := plan.Read(opts.Path)
	if err != nil {
		return err
	}
	switch opts.Format {
	case "text":
		return plan.RenderText(opts.IO.Out, p, plan.TextOptions{Color: opts.IO.Color(opts.IO.Out)})
	case "json":
		enc := json.NewEncoder(opts.IO.Out)
		enc.SetIndent("", "  ")
		return enc.Encode(p)
	}
	return usageError{fmt.Errorf("--format %q: want text or json", opts.Format)}
}
