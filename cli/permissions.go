package cli

import (
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"github.com/zclconf/go-cty/cty"

	"github.com/rebind-dev/rebind/engine"
	"github.com/rebind-dev/rebind/engine/environment"
	"github.com/rebind-dev/rebind/engine/runbook"
	"github.com/rebind-dev/rebind/steps"
	"github.com/rebind-dev/rebind/termtext"
)

func newPermissionsCmd(ios *IO, g *Globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "permissions RUNBOOK",
		Short: "List the Graph permissions, Exchange roles, AD rights and Connect groups a runbook needs",
		Long: `List what a runbook needs from each directory, grouped as an admin grants it:
Microsoft Graph application permissions (and those Microsoft offers only
delegated), Exchange Online's app access and RBAC roles, the AD bind account's
rights, and the Entra Connect server's groups. The list is generated from the
step types' declarations, the same ones a plan lists, so it cannot drift from
what rebind calls. With --env, entries for an adsync driver the environment
does not use are left out.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rb, diags := loadRunbook(args[0])
			if diags.HasErrors() {
				printDiags(ios, rb, diags)
				return errReported
			}
			env, err := loadEnv(ios, g)
			if err != nil {
				return err
			}
			if env != nil {
				// The environment decides which driver's entries apply:
				// one validate refuses (an unknown setting, a target the
				// runbook needs and it lacks) is reported, with its line.
				diags = (&engine.Engine{Env: env}).Validate(rb)
				printDiags(ios, rb, diags)
				if diags.HasErrors() {
					return errReported
				}
			}
			groups := permissionGroups(rb, env)
			if asJSON {
				return writeJSON(ios.Out, permissionsView{Runbook: rb.Meta.Name, Groups: groups})
			}
			writePermissions(ios.Out, rb.Meta.Name, groups)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	return cmd
}

type permissionsView struct {
	Runbook string            `json:"runbook"`
	Groups  []permissionGroup `json:"groups"`
}

type permissionGroup struct {
	// Key is stable for scripts: graph_application, graph_delegated,
	// exchange, ad, connect, or the service's name in lower case.
	Key         string           `json:"key"`
	Title       string           `json:"title"`
	Permissions []permissionItem `json:"permissions"`
}

type permissionItem struct {
	steps.Permission
	// NeededBy are the blocks whose step types declare it.
	NeededBy []string `json:"needed_by"`
	// CoveredBy names a permission in the same list that grants this one
	// too (User.ReadWrite.All covers User.Read.All).
	CoveredBy string `json:"covered_by,omitempty"`
}

// groupOf places a permission in the group an admin grants it in.
func groupOf(p steps.Permission) (key, title string) {
	switch {
	case p.Service == "Graph" && p.DelegatedOnly():
		return "graph_delegated", "Microsoft Graph: delegated only (no application permission exists; a person signs in)"
	case p.Service == "Graph":
		return "graph_application", "Microsoft Graph: application permissions (admin consent)"
	case p.Service == "Exchange" || (p.Service == "Entra" && strings.Contains(p.Name, "Exchange")):
		return "exchange", "Exchange Online: app access and role"
	case p.Service == "AD":
		return "ad", "Active Directory: rights of the bind account"
	case p.Service == "Connect server":
		return "connect", "Entra Connect server: the account the sync command runs as"
	}
	return strings.ToLower(p.Service), p.Service
}

var groupOrder = map[string]int{"graph_application": 0, "graph_delegated": 1, "exchange": 2, "ad": 3, "connect": 4}

func permissionGroups(rb *runbook.Runbook, env *environment.Environment) []permissionGroup {
	byKey := map[string]*permissionGroup{}
	items := map[string]*permissionItem{}
	var order []string
	for _, n := range engine.Needs(rb) {
		if d := n.Permission.Driver(); d != "" && env != nil {
			if got, ok := literalSetting(rb, env, n.Target, "driver"); ok && got != d {
				continue
			}
		}
		key, title := groupOf(n.Permission)
		g := byKey[key]
		if g == nil {
			g = &permissionGroup{Key: key, Title: title}
			byKey[key] = g
			order = append(order, key)
		}
		id := key + "\x00" + n.Permission.String()
		it := items[id]
		if it == nil {
			it = &permissionItem{Permission: n.Permission}
			items[id] = it
			g.Permissions = append(g.Permissions, permissionItem{})
		}
		if !slices.Contains(it.NeededBy, n.Address) {
			it.NeededBy = append(it.NeededBy, n.Address)
		}
	}
	var out []permissionGroup
	for _, key := range order {
		g := byKey[key]
		g.Permissions = g.Permissions[:0]
		for id, it := range items {
			if strings.HasPrefix(id, key+"\x00") {
				g.Permissions = append(g.Permissions, *it)
			}
		}
		sort.Slice(g.Permissions, func(i, j int) bool {
			a, b := g.Permissions[i].Permission, g.Permissions[j].Permission
			if a.Name != b.Name {
				return a.Name < b.Name
			}
			return a.Note < b.Note
		})
		if key == "graph_application" {
			for i := range g.Permissions {
				for _, other := range g.Permissions {
					if other.Name != g.Permissions[i].Name && (steps.GraphImplies(other.Name, g.Permissions[i].Name) ||
						slices.Contains(g.Permissions[i].Alternatives(), other.Name)) {
						g.Permissions[i].CoveredBy = other.Name
					}
				}
			}
		}
		out = append(out, *g)
	}
	sort.SliceStable(out, func(i, j int) bool {
		oi, iok := groupOrder[out[i].Key]
		oj, jok := groupOrder[out[j].Key]
		if !iok {
			oi = 100
		}
		if !jok {
			oj = 100
		}
		return oi < oj
	})
	return out
}

// literalSetting reads a target's string setting from the environment,
// or the runbook's block when it is a literal there.
func literalSetting(rb *runbook.Runbook, env *environment.Environment, target, name string) (string, bool) {
	typ, tname, _ := strings.Cut(target, ".")
	if env != nil {
		if et := env.Lookup(typ, tname); et != nil {
			if v, ok := et.Values[name]; ok && v.Type() == cty.String && v.IsKnown() && !v.IsNull() {
				return v.AsString(), true
			}
		}
	}
	for _, t := range rb.Targets {
		if t.Type == typ && t.Name == tname {
			attrs, _ := t.Config.JustAttributes()
			if a, ok := attrs[name]; ok {
				if v, d := a.Expr.Value(nil); !d.HasErrors() && v.Type() == cty.String && v.IsKnown() && !v.IsNull() {
					return v.AsString(), true
				}
			}
		}
	}
	return "", false
}

// writePermissions prints the groups as a checklist to paste.
func writePermissions(w io.Writer, name string, groups []permissionGroup) {
	fmt.Fprintf(w, "What the runbook %q needs, from its step types' declarations.\n", name)
	if len(groups) == 0 {
		fmt.Fprintf(w, "\nNothing: its steps need no directory permissions.\n")
		return
	}
	for _, g := range groups {
		fmt.Fprintf(w, "\n%s\n", g.Title)
		for _, p := range g.Permissions {
			line := "- [ ] " + p.Name
			if p.Note != "" {
				line += " (" + p.Note + ")"
			}
			if p.CoveredBy != "" {
				line += "; covered by " + p.CoveredBy
			}
			fmt.Fprintf(w, "%s\n      for %s\n", termtext.Line(line), termtext.Line(strings.Join(p.NeededBy, ", ")))
		}
	}
	fmt.Fprintf(w, "\nHow to grant each: docs/setup.md. `rebind doctor RUNBOOK` checks them against the credentials.\n")
}
