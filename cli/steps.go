package cli

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/rebind-dev/rebind/steps"
)

func newStepsCmd(ios *IO, g *Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "steps [TYPE]",
		Short: "List the step types, or describe one",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				for _, name := range steps.Types() {
					t, _ := steps.Lookup(name)
					info := t.Info()
					fmt.Fprintf(ios.Out, "%-28s %-6s %s\n", name, info.Kind, firstSentence(info.Doc))
				}
				return nil
			}
			t, ok := steps.Lookup(args[0])
			if !ok {
				return usageError{fmt.Errorf("no step type %q; `rebind steps` lists them", args[0])}
			}
			info := t.Info()
			fmt.Fprintf(ios.Out, "%s (%s, %s)\n\n%s\n\nArguments:\n", info.Name, info.Kind, info.Reversibility, info.Doc)
			names := slices.Sorted(maps.Keys(info.Schema))
			for _, n := range names {
				a := info.Schema[n]
				req := "optional"
				if a.Required {
					req = "required"
				}
				fmt.Fprintf(ios.Out, "  %-24s %-10s %-8s %s\n", n, a.Type.FriendlyName(), req, a.Doc)
			}
			if len(info.Permissions) > 0 {
				fmt.Fprintf(ios.Out, "\nPermissions: %s\n", strings.Join(info.Permissions, "; "))
			}
			return nil
		},
	}
}

func firstSentence(s string) string {
	s = strings.TrimSpace(strings.ReplaceAll(s, "\n", " "))
	if i := strings.Index(s, ". "); i > 0 {
		return s[:i+1]
	}
	return s
}
