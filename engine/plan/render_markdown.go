package plan

import (
	"fmt"
	"io"
	"strings"
	"unicode"

	"golang.org/x/crypto/ssh"

	"github.com/rebind-dev/rebind/internal/mapkeys"
)

// RenderOptions controls the Markdown and HTML renderings.
type RenderOptions struct {
	// Redact masks addresses and names (see Redact). The digest shown is
	// still the plan's own.
	Redact bool
	// Approval is the outcome of Verify, when the caller checked the
	// signatures against an allowed-signers file; nil shows the recorded
	// signatures as not verified.
	Approval *Approval
	// PlanFile is the plan's file name, used in the approve command shown
	// to reviewers; "" shows PLAN.
	PlanFile string
	// Full shows every value whole, and lists every instance; otherwise
	// values are cut at 200 characters around where a change differs,
	// saying what they leave out, and a large plan is summarised (see
	// MaxListed).
	Full bool
}

// The Markdown and HTML renderings share one view of the plan, built here:
// a summary, the irreversible changes with their reasons, the changes
// grouped by the object they touch (in the order the run first touches
// each object), the permissions and the approvals.

type planView struct {
	Name, Title  string
	Digest       string
	Author       string
	Created      string
	Expires      string
	Lab          string
	Environment  *Environment
	Secrets      []string
	Summary      string
	Irreversible []irreversibleView
	Groups       []groupView
	Permissions  []string
	// Modules says where each module instance begins and ends.
	Modules   []string
	Approvals approvalsView
	PlanFile  string
	// Listed says what a summarised view lists ("" when it lists every
	// instance), NotListed what it counts instead, by step, and SeeAll
	// where to see everything (see MaxListed).
	Listed    string
	NotListed []notListedView
	SeeAll    string
	// Cost is what apply will spend, a line per target (CostLines).
	Cost []string
}

type notListedView struct {
	Step, Counts string
}

type irreversibleView struct {
	Address, Action, Object, Reason string
}

type groupView struct {
	// Object is the object's name, or the step address for steps that
	// name no object.
	Object string
	Rows   []rowView
}

type rowView struct {
	Address string
	Action  string
	Label   string // the action as shown: "update", "run, await 3h"
	// Verb is the action alone ("already so" for no-op) and Await the
	// step's await duration, for renderings that show them apart.
	Verb, Await  string
	Irreversible bool
	Attrs        []attrView
	Notes        []string
}

type attrView struct {
	Name          string
	Before, After string // JSON, "" when absent
}

type approvalsView struct {
	Required int
	// Verified is set when the signatures were checked.
	Verified bool
	Count    int
	Signers  []signerView
	Note     string
}

type signerView struct {
	Name    string
	Key     string
	Created string
}

const timeLayout = "2006-01-02 15:04:05Z"

func buildView(p *Plan, opt RenderOptions) planView {
	digest := p.Digest()
	ap := opt.Approval
	if opt.Redact {
		p = Redact(p)
		if ap != nil {
			r := RedactApproval(*ap)
			ap = &r
		}
	}
	p = visible(p, opt.Full)
	if ap != nil {
		a := visibleApproval(*ap)
		ap = &a
	}
	v := planView{
		Name:        p.Runbook.Name,
		Title:       p.Runbook.Title,
		Digest:      digest,
		Author:      p.Author,
		Created:     p.Created.UTC().Format(timeLayout),
		Expires:     p.Expires.UTC().Format(timeLayout),
		Lab:         p.Lab,
		Environment: p.Environment,
		Secrets:     p.SecretInputs,
		Summary:     Summary(p),
		Permissions: p.Permissions,
		Cost:        CostLines(p.Cost),
		Modules:     moduleLines(p),
		PlanFile:    opt.PlanFile,
	}
	// The file name goes into a shell command in a code block: keep it on
	// one line and out of the block's fence.
	v.PlanFile = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '`' {
			return -1
		}
		return r
	}, v.PlanFile)
	if v.PlanFile == "" {
		v.PlanFile = "PLAN"
	}
	index := map[string]int{}
	l := list(p, opt.Full)
	if l.Summarised {
		v.Listed = "Listed: " + l.listedPhrase() + "."
		for _, n := range l.NotListed {
			v.NotListed = append(v.NotListed, notListedView{Step: n.Step, Counts: n.String()})
		}
		v.SeeAll = seeAll(v.PlanFile)
	}
	for _, lr := range l.Rows {
		s, in := lr.Step, lr.In
		{
			verb, await := in.Action, ""
			if in.Action == "no-op" {
				verb = "already so"
			}
			label := verb
			if s.Await != "" && in.Action != "no-op" && in.Action != "read" {
				await = s.Await
				label += ", await " + await
			}
			r := rowView{Address: in.Address, Action: in.Action, Label: label, Verb: verb, Await: await, Irreversible: in.Irreversible, Attrs: changeAttrs(in, opt.Full), Notes: in.Notes}
			obj := in.Object
			if obj == "" {
				obj = in.Address
			}
			i, ok := index[obj]
			if !ok {
				i = len(v.Groups)
				index[obj] = i
				v.Groups = append(v.Groups, groupView{Object: obj})
			}
			v.Groups[i].Rows = append(v.Groups[i].Rows, r)
			if in.Irreversible {
				reason := s.IrreversibleReason
				if reason == "" {
					reason = "This change cannot be undone."
				}
				v.Irreversible = append(v.Irreversible, irreversibleView{Address: in.Address, Action: label, Object: in.Object, Reason: reason})
			}
		}
	}
	if l.IrreversibleNotListed > 0 {
		v.Irreversible = append(v.Irreversible, irreversibleView{Address: fmt.Sprintf("%s more", count(l.IrreversibleNotListed)), Action: "not listed", Reason: "See them with --full."})
	}
	v.Approvals = buildApprovals(p, ap)
	return v
}

func buildApprovals(p *Plan, ap *Approval) approvalsView {
	av := approvalsView{Required: p.RequiredApprovals(), Count: len(p.Signatures)}
	for i, s := range p.Signatures {
		// The signer's name in the plan file is not signed; show it as
		// a claim unless verification named the signer.
		sv := signerView{Name: s.Signer, Key: s.PublicKey}
		switch {
		case ap != nil && i < len(ap.BySignature) && ap.BySignature[i] != "":
			sv.Name = ap.BySignature[i]
		case ap != nil:
			sv.Name = "does not hold"
		case s.Signer != "":
			sv.Name = s.Signer + " (not verified)"
		}
		if k, err := parseAuthorizedKey(s.PublicKey); err == nil {
			sv.Key = ssh.FingerprintSHA256(k)
		}
		if !s.Created.IsZero() {
			sv.Created = s.Created.UTC().Format(timeLayout)
		}
		av.Signers = append(av.Signers, sv)
	}
	switch {
	case ap != nil:
		av.Verified = true
		av.Count = len(ap.Signers)
		av.Note = fmt.Sprintf("Verified against the allowed signers: %d of %d", len(ap.Signers), av.Required)
		if len(ap.Signers) > 0 {
			av.Note += " (" + strings.Join(ap.Signers, ", ") + ")"
		}
		av.Note += "."
	case len(p.Signatures) > 0:
		av.Note = fmt.Sprintf("%d signature%s recorded, not verified here: rebind apply verifies them against the allowed signers.", len(p.Signatures), plural(len(p.Signatures)))
	default:
		av.Note = "No approvals yet."
	}
	return av
}

// changeAttrs lists an instance's change attribute by attribute, as the
// terminal rendering does: every attribute of a create or delete, the
// changed ones of an update.
func changeAttrs(in Instance, full bool) []attrView {
	if in.Action == "no-op" || in.Action == "read" {
		return nil
	}
	before, bok := in.Before.Tree().(map[string]any)
	after, aok := in.After.Tree().(map[string]any)
	if !bok && !aok {
		var bs, as string
		if !in.Before.IsZero() && in.Before.String() != "null" {
			bs = valueJSON(in.Before.Tree())
		}
		if !in.After.IsZero() && in.After.String() != "null" {
			as = valueJSON(in.After.Tree())
		}
		if bs == "" && as == "" {
			return nil
		}
		var a attrView
		a.Before, a.After = shownPair(bs, as, full)
		return []attrView{a}
	}
	names := mapkeys.Union(before, after)
	var out []attrView
	for _, k := range names {
		b, inB := before[k]
		a, inA := after[k]
		var bs, as string
		if inB && bok {
			bs = valueJSON(b)
		}
		if inA && aok {
			as = valueJSON(a)
		}
		switch {
		case in.Action == "create" || !bok:
			bs = ""
			if !inA {
				continue
			}
		case in.Action == "delete" || !aok:
			as = ""
			if !inB {
				continue
			}
		case bs == as:
			continue
		}
		av := attrView{Name: attrName(k)}
		av.Before, av.After = shownPair(bs, as, full)
		out = append(out, av)
	}
	return out
}

// RenderMarkdown writes the plan as GitHub-flavoured Markdown that fits a
// pull-request comment: a summary line, the irreversible changes with
// their reasons, a table per object, the permissions needed and the
// approvals so far. Every piece of plan text is escaped, so a value cannot
// add links, HTML or formatting to the comment.
func RenderMarkdown(w io.Writer, p *Plan, opt RenderOptions) error {
	v := buildView(p, opt)
	pw := &printer{w: w}
	title := mdText(v.Name)
	if v.Title != "" {
		title += ": " + mdText(v.Title)
	}
	pw.f("### rebind plan %s\n\n", title)
	pw.f("**%s**\n\n", mdText(v.Summary))
	pw.f("| | |\n|---|---|\n")
	pw.f("| Digest | %s |\n", mdCode("sha256:"+v.Digest))
	pw.f("| Author | %s |\n", mdText(v.Author))
	pw.f("| Created | %s |\n", v.Created)
	pw.f("| Expires | %s |\n", v.Expires)
	if v.Lab != "" {
		pw.f("| Targets | the lab tenant at %s |\n", mdCode(v.Lab))
	}
	if v.Environment != nil {
		pw.f("| Environment | %s (settings %s) |\n", mdCode(v.Environment.File), mdCode("sha256:"+v.Environment.Digest))
	}
	if len(v.Secrets) > 0 {
		pw.f("| Secrets | %s (not stored; given again at apply) |\n", mdText(strings.Join(v.Secrets, ", ")))
	}
	pw.f("| Approvals | %d of %d required (distinct reviewers, author excluded) |\n", v.Approvals.Count, v.Approvals.Required)

	if len(v.Irreversible) > 0 {
		pw.f("\n#### Irreversible changes\n\n")
		for _, ir := range v.Irreversible {
			pw.f("- :warning: %s (%s)", mdCode(ir.Address), mdText(ir.Action))
			if ir.Object != "" {
				pw.f(" on %s", mdCode(ir.Object))
			}
			pw.f(": %s\n", mdText(ir.Reason))
		}
	}

	if v.Listed != "" {
		pw.f("\n%s\n", mdText(v.Listed))
	}
	pw.f("\n#### Changes by object\n")
	for _, g := range v.Groups {
		pw.f("\n##### %s\n\n", mdCode(g.Object))
		pw.f("| Step | Action | Attribute | Before | After |\n|---|---|---|---|---|\n")
		var notes []string
		for _, r := range g.Rows {
			action := mdText(r.Label)
			if r.Irreversible {
				action = "**" + action + "** :warning:"
			}
			attrs := r.Attrs
			if len(attrs) == 0 {
				attrs = []attrView{{}}
			}
			for i, a := range attrs {
				addr, act := "", ""
				if i == 0 {
					addr, act = mdCode(r.Address), action
				}
				pw.f("| %s | %s | %s | %s | %s |\n", addr, act, mdCodeOr(a.Name), mdCodeOr(a.Before), mdCodeOr(a.After))
			}
			for _, n := range r.Notes {
				notes = append(notes, mdCode(r.Address)+": "+mdText(n))
			}
		}
		if len(notes) > 0 {
			pw.f("\n")
			for _, n := range notes {
				pw.f("> **Note** %s\n", n)
			}
		}
	}

	if v.Listed != "" {
		pw.f("\n#### Not listed\n\n| Step | Instances |\n|---|---|\n")
		for _, n := range v.NotListed {
			pw.f("| %s | %s |\n", mdCode(n.Step), mdText(n.Counts))
		}
		pw.f("\nTo see them: %s.\n", mdText(v.SeeAll))
	}

	if len(v.Modules) > 0 {
		pw.f("\n#### Modules\n\n")
		for _, m := range v.Modules {
			pw.f("- %s\n", mdText(m))
		}
	}

	if len(v.Permissions) > 0 {
		pw.f("\n#### Permissions needed\n\n")
		for _, perm := range v.Permissions {
			pw.f("- %s\n", mdText(perm))
		}
	}

	if len(v.Cost) > 0 {
		pw.f("\n#### Apply will spend\n\n")
		for _, l := range v.Cost {
			pw.f("- %s\n", mdText(l))
		}
	}

	pw.f("\n#### Approvals\n\n")
	if len(v.Approvals.Signers) > 0 {
		pw.f("| Reviewer | Key | Signed |\n|---|---|---|\n")
		for _, s := range v.Approvals.Signers {
			pw.f("| %s | %s | %s |\n", mdTextOr(s.Name), mdCode(s.Key), mdTextOr(s.Created))
		}
		pw.f("\n")
	}
	pw.f("%s\n\n", mdText(v.Approvals.Note))
	pw.f("To approve, check the digest above, then sign it with rebind or with ssh-keygen:\n\n")
	pw.f("```\nrebind approve %s --key ~/.ssh/id_ed25519\n", v.PlanFile)
	pw.f("printf %%s %s | ssh-keygen -Y sign -n %s -f ~/.ssh/id_ed25519 > plan.sig && rebind approve %s --signature plan.sig\n```\n", v.Digest, Namespace, v.PlanFile)
	return pw.err
}

// mdSpecial are the characters mdText escapes: those that open emphasis,
// code, links, HTML, entities, table cells, strikethrough, math, headings'
// closing sequences, and GitHub @mentions (so that a plan never pings
// anyone).
const mdSpecial = "\\`*_[]<>#|~&@$"

// mdText escapes s as Markdown text: every character that Markdown could
// read as markup is backslash-escaped, and line breaks become spaces so
// that s stays in its table cell or list item.
func mdText(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\n' || r == '\r':
			b.WriteByte(' ')
		case strings.ContainsRune(mdSpecial, r):
			b.WriteByte('\\')
			b.WriteRune(r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func mdTextOr(s string) string {
	if s == "" {
		return "—"
	}
	return mdText(s)
}

// mdCode writes s as a code span that survives a table cell: the span's
// backtick fence is longer than any run of backticks in s, and '|' is
// escaped, which GitHub's table parser removes before it reads the span.
func mdCode(s string) string {
	s = mdCodeInner(s)
	longest, run := 0, 0
	for _, r := range s {
		if r == '`' {
			run++
			if run > longest {
				longest = run
			}
		} else {
			run = 0
		}
	}
	fence := strings.Repeat("`", longest+1)
	if longest > 0 || strings.HasPrefix(s, " ") || strings.HasSuffix(s, " ") {
		return fence + " " + s + " " + fence
	}
	return fence + s + fence
}

// mdCodeInner prepares s for a code span in a table.
func mdCodeInner(s string) string {
	s = strings.NewReplacer("\r", " ", "\n", " ", "|", `\|`).Replace(s)
	return s
}

func mdCodeOr(s string) string {
	if s == "" {
		return "—"
	}
	return mdCode(s)
}
