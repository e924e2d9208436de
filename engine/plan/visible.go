package plan

import "github.com/rebind-dev/rebind/termtext"

// Every rendering (text, Markdown, HTML) shows a plan through visible: a
// runbook's author wrote its name, title, addresses, notes and reasons, a
// directory named its objects, and a plan file can be edited by anyone who
// passes it on. Any of them may hold characters that act on a terminal or
// reorder a page (see package termtext); visible writes them as escapes, at
// one place, before a renderer sees the plan. Values are escaped as they are
// encoded (valueJSON), and attribute names where they are taken out of a
// value. JSON output (show --format json) is not a rendering: its encoder
// escapes control characters, and the CLI escapes the rest (termtext.JSON).

// maxText is how many characters of a name, note or reason a rendering
// shows unless asked for whole values: a plan file can be edited, and a
// 10 MB title would push the changes off a reviewer's screen.
const maxText = 5 * maxShown

// visible returns a copy of p with every string that rebind did not write
// itself made safe to show (termtext.Line), and cut at maxText characters
// unless full. The digest of the copy is not p's: renderers take the
// digest first. p is not changed.
func visible(p *Plan, full bool) *Plan {
	line := func(s string) string {
		if !full {
			s = termtext.Clip(s, maxText)
		}
		return termtext.Line(s)
	}
	lines := func(ss []string) []string { return mapNonNil(ss, line) }
	c := *p
	c.Runbook.Name = line(p.Runbook.Name)
	c.Runbook.Title = line(p.Runbook.Title)
	c.Runbook.Description = line(p.Runbook.Description)
	c.Runbook.Dir = line(p.Runbook.Dir)
	c.Inputs = make(map[string]Value, len(p.Inputs))
	for k, v := range p.Inputs {
		c.Inputs[line(k)] = v
	}
	c.SecretInputs = lines(p.SecretInputs)
	c.Lab = line(p.Lab)
	if p.Environment != nil {
		env := *p.Environment
		env.File, env.Digest = line(env.File), line(env.Digest)
		c.Environment = &env
	}
	c.Targets = make([]Target, len(p.Targets))
	for i, t := range p.Targets {
		t.Type, t.Name = line(t.Type), line(t.Name)
		c.Targets[i] = t
	}
	c.Steps = make([]Step, len(p.Steps))
	for i, s := range p.Steps {
		s.Address, s.Type, s.Await = line(s.Address), line(s.Type), line(s.Await)
		s.IrreversibleReason = line(s.IrreversibleReason)
		s.Permissions = lines(s.Permissions)
		ins := make([]Instance, len(s.Instances))
		for j, in := range s.Instances {
			in.Address, in.Key, in.Object = line(in.Address), line(in.Key), line(in.Object)
			in.Action = line(in.Action)
			in.Notes = lines(in.Notes)
			ins[j] = in
		}
		s.Instances = ins
		s.Unchanged = mapNonNil(s.Unchanged, func(u Unchanged) Unchanged {
			return Unchanged{Key: line(u.Key), Object: line(u.Object), Fingerprint: u.Fingerprint}
		})
		c.Steps[i] = s
	}
	c.Permissions = lines(p.Permissions)
	c.Author, c.AuthorKey = line(p.Author), line(p.AuthorKey)
	c.Signatures = mapNonNil(p.Signatures, func(s Signature) Signature {
		s.Signer, s.PublicKey = line(s.Signer), line(s.PublicKey)
		return s
	})
	return &c
}

// visibleApproval is a with the signers' names made safe to show (escaped
// and cut at maxText): they come from an allowed-signers file and from the
// plan.
func visibleApproval(a Approval) Approval { return mapApproval(a, attrName) }

// attrName is an attribute name taken out of a value, as renderings show
// it: escaped and cut at maxText.
func attrName(k string) string { return termtext.Line(termtext.Clip(k, maxText)) }

// mapNonNil is a new slice of f over xs; nil stays nil. Redact and visible
// copy a plan's lists through it, so that neither changes p.
func mapNonNil[T any](xs []T, f func(T) T) []T {
	if xs == nil {
		return nil
	}
	out := make([]T, len(xs))
	for i, x := range xs {
		out[i] = f(x)
	}
	return out
}

// mapApproval is a copy of a with f over every reviewer's name.
func mapApproval(a Approval, f func(string) string) Approval {
	c := a
	c.Signers = mapNonNil(a.Signers, f)
	c.Duplicates = mapNonNil(a.Duplicates, f)
	c.BySignature = mapNonNil(a.BySignature, f)
	return c
}
