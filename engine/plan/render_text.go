package plan

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/rebind-dev/rebind/engine/addrs"
	"github.com/rebind-dev/rebind/internal/mapkeys"
)

// TextOptions controls the terminal rendering.
type TextOptions struct {
	// Color adds ANSI colours; callers set it only on a terminal and never
	// when NO_COLOR is set.
	Color bool
	// Full shows every value whole and lists every instance (see
	// RenderOptions.Full and MaxListed).
	Full bool
	// PlanFile is the plan's file name, used where a summarised
	// rendering says how to see every instance; "" shows PLAN.
	PlanFile string
}

// symbols for each action, as terraform shows them.
var symbols = map[string]string{
	"create": "+", "update": "~", "delete": "-", "run": "!", "read": "<=",
	"no-op": " ", ActionDeferred: "?",
}

var colors = map[string]string{
	"create": "\x1b[32m", "update": "\x1b[33m", "delete": "\x1b[31m", "run": "\x1b[35m",
	ActionDeferred: "\x1b[36m",
}

const reset, bold = "\x1b[0m", "\x1b[1m"

// RenderText writes the plan for a terminal. Text that rebind did not
// write (names, notes, values) is shown with its control and bidi
// characters escaped (see visible).
func RenderText(w io.Writer, p *Plan, opt TextOptions) error {
	digest := p.Digest()
	p = visible(p, opt.Full)
	pw := &printer{w: w}
	c := func(code, s string) string {
		if !opt.Color || code == "" {
			return s
		}
		return code + s + reset
	}
	title := p.Runbook.Name
	if p.Runbook.Title != "" {
		title += ": " + p.Runbook.Title
	}
	pw.f("%s\n", c(bold, "Runbook "+title))
	pw.f("Plan digest  sha256:%s\n", digest)
	pw.f("Created      %s by %s, expires %s\n", p.Created.UTC().Format("2006-01-02 15:04:05Z"), p.Author, p.Expires.UTC().Format("2006-01-02 15:04:05Z"))
	if p.Lab != "" {
		pw.f("Targets      bound to the lab tenant at %s\n", p.Lab)
	}
	if p.Environment != nil {
		pw.f("Environment  %s (settings sha256:%s)\n", p.Environment.File, p.Environment.Digest)
	}
	if len(p.SecretInputs) > 0 {
		pw.f("Secrets      %s (not stored; give them again at apply)\n", strings.Join(p.SecretInputs, ", "))
	}
	if len(p.Inputs) > 0 {
		names := slices.Sorted(maps.Keys(p.Inputs))
		parts := make([]string, 0, len(names))
		for _, n := range names {
			parts = append(parts, n+" = "+shownValue(p.Inputs[n].Tree(), opt.Full))
		}
		pw.f("Inputs       %s\n", strings.Join(parts, ", "))
	}
	for _, t := range p.Targets {
		cfg := ""
		if m, ok := t.Config.Tree().(map[string]any); ok {
			var parts []string
			for _, k := range slices.Sorted(maps.Keys(m)) {
				if m[k] != nil {
					parts = append(parts, attrName(k)+" = "+shownValue(m[k], opt.Full))
				}
			}
			cfg = strings.Join(parts, ", ")
		}
		if cfg != "" {
			cfg = "  " + cfg
		}
		pw.f("Target       %s.%s%s\n", t.Type, t.Name, cfg)
	}
	pw.f("\n")

	var irreversible []string
	l := list(p, opt.Full)
	if l.Summarised {
		pw.f("%s\n", Summary(p))
		pw.f("Listed       %s\n\n", l.listedPhrase())
	}
	// A module's rows sit between lines saying where it begins and ends.
	var inModule addrs.Module
	moveTo := func(to addrs.Module) {
		ends, begins := moduleMoves(inModule, to)
		for _, m := range ends {
			pw.f("%s\n", c(bold, "-- end of "+m+" --"))
		}
		for _, m := range begins {
			pw.f("%s\n", c(bold, "-- "+m+" --"))
		}
		inModule = to
	}
	for _, r := range l.Rows {
		s, in := r.Step, r.In
		moveTo(moduleOf(s.Address))
		sym := symbols[in.Action]
		label := in.Action
		if s.Await != "" && in.Action != "no-op" && in.Action != "read" {
			label = "await " + s.Await
		}
		line := fmt.Sprintf("%-2s %s  (%s)", sym, in.Address, label)
		pw.f("%s", c(colors[in.Action], line))
		if in.Object != "" {
			pw.f("  %s", in.Object)
		}
		pw.f("\n")
		renderChange(pw, in, "      ", opt.Full)
		for _, n := range in.Notes {
			pw.f("      note: %s\n", n)
		}
		if in.Irreversible {
			reason := s.IrreversibleReason
			if reason == "" {
				reason = "this change cannot be undone"
			}
			irreversible = append(irreversible, fmt.Sprintf("%s: %s", in.Address, reason))
		}
	}
	moveTo(nil)
	if l.Summarised {
		pw.f("\nNot listed:\n")
		for _, n := range l.NotListed {
			pw.f("   %s: %s\n", n.Step, n)
		}
		pw.f("To see them: %s.\n", seeAll(opt.PlanFile))
	}
	if l.IrreversibleNotListed > 0 {
		irreversible = append(irreversible, fmt.Sprintf("and %s more irreversible changes not listed above", count(l.IrreversibleNotListed)))
	}
	if len(irreversible) > 0 {
		pw.f("\n%s\n", c(bold+"\x1b[31m", "Irreversible changes:"))
		for _, s := range irreversible {
			pw.f("  ! %s\n", s)
		}
	}
	if mods := p.Modules(); len(mods) > 0 {
		pw.f("\nModules:\n")
		for _, m := range mods {
			pw.f("  %s\n", m)
		}
	}
	if len(p.Permissions) > 0 {
		pw.f("\nPermissions needed:\n")
		for _, perm := range p.Permissions {
			pw.f("  - %s\n", perm)
		}
	}
	if lines := CostLines(p.Cost); len(lines) > 0 {
		pw.f("\nApply will spend:\n")
		for _, l := range lines {
			pw.f("  - %s\n", l)
		}
	}
	if n := p.RequiredApprovals(); n > 0 {
		pw.f("\nApprovals: %d required (distinct reviewers, author excluded); %d signatures attached, verified at apply\n", n, len(p.Signatures))
	}
	pw.f("\n%s\n", Summary(p))
	return pw.err
}

// Summary is the one-line count of planned changes.
func Summary(p *Plan) string {
	ch := p.Changes()
	parts := []string{
		fmt.Sprintf("%d to create", ch["create"]),
		fmt.Sprintf("%d to update", ch["update"]),
		fmt.Sprintf("%d to delete", ch["delete"]),
		fmt.Sprintf("%d to run", ch["run"]),
		fmt.Sprintf("%d already so", ch["no-op"]),
	}
	if ch["await"] > 0 {
		parts = append(parts, fmt.Sprintf("%d to wait for", ch["await"]))
	}
	if ch[ActionDeferred] > 0 {
		parts = append(parts, fmt.Sprintf("%d decided at apply", ch[ActionDeferred]))
	}
	return "Plan: " + strings.Join(parts, ", ") + "."
}

// renderChange prints before -> after attribute by attribute.
func renderChange(pw *printer, in Instance, indent string, full bool) {
	if in.Action == "no-op" || in.Action == "read" {
		return
	}
	before, _ := in.Before.Tree().(map[string]any)
	after, _ := in.After.Tree().(map[string]any)
	if before == nil && after == nil {
		if !in.After.IsZero() && in.After.String() != "null" {
			pw.f("%s%s\n", indent, shownValue(in.After.Tree(), full))
		}
		return
	}
	names := mapkeys.Union(before, after)
	for _, k := range names {
		b, inB := before[k]
		a, inA := after[k]
		bj, aj := valueJSON(b), valueJSON(a)
		name := attrName(k)
		switch {
		case in.Action == "create" || before == nil:
			if inA {
				pw.f("%s%s = %s\n", indent, name, shownValue(a, full))
			}
		case in.Action == "delete" || after == nil:
			if inB {
				pw.f("%s%s = %s\n", indent, name, shownValue(b, full))
			}
		case bj != aj:
			bs, as := shownPair(bj, aj, full)
			pw.f("%s%s: %s -> %s\n", indent, name, bs, as)
		}
	}
}

type printer struct {
	w   io.Writer
	err error
}

func (p *printer) f(format string, args ...any) {
	if p.err != nil {
		return
	}
	_, p.err = fmt.Fprintf(p.w, format, args...)
}
