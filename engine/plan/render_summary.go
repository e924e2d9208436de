package plan

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/rebind-dev/rebind/termtext"
)

// MaxListed is how many instances a rendering (text, Markdown, HTML) lists
// one by one unless asked for all of them (Full): a plan that fans out over
// 100,000 users would otherwise be 100,000 entries that no reviewer reads,
// and would hide the few that change something. A plan of at most
// MaxListed instances is listed whole; a larger one lists its first
// MaxListed changes in run order, and counts the rest, by step and action:
// every instance that changes nothing, and the changes after the first
// MaxListed. Every rendering then says where to see them all.
const MaxListed = 100

// listedInstance is an instance a rendering lists, with its step.
type listedInstance struct {
	Step *Step
	In   Instance
}

// notListed counts what a rendering of one step leaves out.
type notListed struct {
	Step string
	// Unchanged counts the instances that change nothing.
	Unchanged int
	// Changes counts the changes past the first MaxListed, by the label a
	// summary uses ("update", "await", ...).
	Changes map[string]int
}

// String says what was left out of the step: "99,000 already so, 12 to
// update".
func (n notListed) String() string {
	var parts []string
	if n.Unchanged > 0 {
		parts = append(parts, count(n.Unchanged)+" already so")
	}
	labels := slices.Sorted(maps.Keys(n.Changes))
	for _, l := range labels {
		parts = append(parts, count(n.Changes[l])+" "+actionPhrase(l))
	}
	return strings.Join(parts, ", ")
}

// listing is what a rendering lists and what it counts instead.
type listing struct {
	Rows []listedInstance
	// Summarised is set when not every instance is listed.
	Summarised bool
	// NotListed is per step, in run order.
	NotListed []notListed
	// Total counts every instance; ChangesListed and Changes count the
	// instances that change something or may (not no-op, not read),
	// listed and in all.
	Total, ChangesListed, Changes int
	// IrreversibleNotListed counts irreversible changes left out.
	IrreversibleNotListed int
}

// summaryLabel is the label an instance counts under in Summary.
func summaryLabel(s *Step, in Instance) string {
	if s.Await != "" && in.Action != ActionNoOp && in.Action != ActionDeferred {
		return "await"
	}
	return in.Action
}

// list decides what a rendering of p lists (see MaxListed). p is the plan
// as the rendering shows it (visible).
func list(p *Plan, full bool) listing {
	var l listing
	for i := range p.Steps {
		l.Total += p.Steps[i].Len()
	}
	l.Summarised = !full && l.Total > MaxListed
	for i := range p.Steps {
		s := &p.Steps[i]
		if !l.Summarised {
			for in := range s.All {
				l.Rows = append(l.Rows, listedInstance{s, in})
				if in.Action != ActionNoOp && in.Action != "read" {
					l.Changes++
					l.ChangesListed++
				}
			}
			continue
		}
		n := notListed{Step: s.Address, Unchanged: len(s.Unchanged), Changes: map[string]int{}}
		for _, in := range s.Instances {
			switch in.Action {
			case ActionNoOp, "read":
				// A read, or a no-op recorded whole (it has notes, or
				// its step is not fanned out), changes nothing: listed
				// while there is room, since it is worth a look.
				switch {
				case len(l.Rows) < MaxListed:
					l.Rows = append(l.Rows, listedInstance{s, in})
				case in.Action == ActionNoOp:
					n.Unchanged++
				default:
					n.Changes[in.Action]++
				}
				continue
			}
			l.Changes++
			if l.ChangesListed < MaxListed {
				l.Rows = append(l.Rows, listedInstance{s, in})
				l.ChangesListed++
				continue
			}
			n.Changes[summaryLabel(s, in)]++
			if in.Irreversible {
				l.IrreversibleNotListed++
			}
		}
		if n.Unchanged > 0 || len(n.Changes) > 0 {
			l.NotListed = append(l.NotListed, n)
		}
	}
	return l
}

// listedPhrase says what a summarised rendering lists: "the first 100 of
// 1,000 changes (100,000 instances in all)".
func (l listing) listedPhrase() string {
	if l.Changes == 0 {
		return fmt.Sprintf("no changes among %s instances; the instances already so are counted, not listed", count(l.Total))
	}
	if l.ChangesListed == l.Changes {
		return fmt.Sprintf("every change (%s) of %s instances; the instances already so are counted, not listed", count(l.Changes), count(l.Total))
	}
	return fmt.Sprintf("the first %s of %s changes; %s instances in all (the rest are counted, not listed)", count(l.ChangesListed), count(l.Changes), count(l.Total))
}

// seeAll says where to see what a summarised rendering leaves out.
func seeAll(file string) string {
	if file == "" {
		// Rendered before it was saved (plan without -out, apply of a
		// runbook).
		return "save the plan with rebind plan -out FILE; then rebind show --full FILE lists every instance, and rebind show --json FILE gives the whole plan as JSON"
	}
	file = termtext.Line(termtext.Clip(file, maxText))
	return fmt.Sprintf("rebind show --full %s lists every instance; rebind show --json %s gives the whole plan as JSON", file, file)
}

// actionPhrase is how a summary names an action: "to update".
func actionPhrase(label string) string {
	switch label {
	case "create", "update", "delete", "run", "read":
		return "to " + label
	case "await":
		return "to wait for"
	case ActionDeferred:
		return "decided at apply"
	case ActionNoOp:
		return "already so"
	}
	return label
}

// count writes n with thousands separators: 100,000.
func count(n int) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return s
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
