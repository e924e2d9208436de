package plan

import (
	"bytes"
	"regexp"
	"strings"
	"testing"

	"github.com/rebind-dev/rebind/termtext"
)

// hostile is text an author or a directory could put into a plan: ESC
// sequences that move the cursor up and erase (hiding the lines a reviewer
// was reading), a carriage return, a C1 CSI, DEL, and bidi overrides and
// isolates that reorder what follows them (CVE-2021-42574).
const hostile = "x\x1b[8A\x1b[J\r\u009b2K\x7f\u202egnp.exe\u2066\u2069\u200b\ufeff"

// controlPlan is samplePlan with hostile text in every string a plan
// carries that rebind did not write itself.
func controlPlan() *Plan {
	p := samplePlan()
	v := func(s string) Value {
		var out Value
		if err := out.UnmarshalJSON([]byte(s)); err != nil {
			panic(err)
		}
		return out
	}
	h := hostile
	p.Runbook.Name = "rb" + h
	p.Runbook.Title = "title" + h
	p.Author = "author" + h
	p.Lab = "http://127.0.0.1:1/" + h
	p.SecretInputs = []string{"secret" + h}
	p.Inputs["name"+h] = v(`"value\u001b[8A\u202e\u0085\u007f"`)
	p.Targets = append(p.Targets, Target{Type: "ad" + h, Name: "corp" + h, Config: v(`{"url` + "\u202e" + `":"ldap://x\u001b[J\u202e"}`)})
	p.Permissions = append(p.Permissions, "perm"+h)
	for i := range p.Steps {
		s := &p.Steps[i]
		s.IrreversibleReason += h
		s.Await += h
		for j := range s.Instances {
			in := &s.Instances[j]
			in.Address += `["key` + h + `"]`
			in.Object += h
			in.Notes = append(in.Notes, "note"+h)
			if in.Action == "update" {
				in.Before = v(`{"attr` + "\u202e\u007f" + `":"before\u001b[8A\u202e", "same": 1}`)
				in.After = v(`{"attr` + "\u202e\u007f" + `":"after\u009b\u2066", "same": 1}`)
			}
		}
	}
	p.Signatures = []Signature{{Signer: "signer" + h, PublicKey: "ssh-ed25519 AAAA" + h}}
	return p
}

// ownColours are the SGR sequences the text renderer writes itself when
// colour is on.
var ownColours = regexp.MustCompile(`\x1b\[(?:0|1|31|32|33|35|36)m`)

// assertNoHiddenText fails when out holds a character that acts on a
// terminal or hides text, other than newlines and tabs.
func assertNoHiddenText(t *testing.T, format, out string) {
	t.Helper()
	if !termtext.IsSafe(out) {
		for _, line := range strings.Split(out, "\n") {
			if !termtext.IsSafe(line) {
				t.Errorf("%s: a line holds hidden characters: %q", format, line)
			}
		}
	}
}

func TestRenderersShowHostileTextEscaped(t *testing.T) {
	p := controlPlan()
	digest := p.Digest()
	for _, tt := range []struct {
		format string
		render func(*bytes.Buffer) error
	}{
		{"text", func(b *bytes.Buffer) error { return RenderText(b, p, TextOptions{}) }},
		{"text --full", func(b *bytes.Buffer) error { return RenderText(b, p, TextOptions{Full: true}) }},
		{"markdown", func(b *bytes.Buffer) error { return RenderMarkdown(b, p, RenderOptions{}) }},
		{"markdown --redact", func(b *bytes.Buffer) error { return RenderMarkdown(b, p, RenderOptions{Redact: true}) }},
		{"html", func(b *bytes.Buffer) error { return RenderHTML(b, p, RenderOptions{}) }},
		{"html verified", func(b *bytes.Buffer) error {
			return RenderHTML(b, p, RenderOptions{Approval: &Approval{Signers: []string{"who" + hostile}, BySignature: []string{"who" + hostile}}})
		}},
	} {
		t.Run(tt.format, func(t *testing.T) {
			var buf bytes.Buffer
			if err := tt.render(&buf); err != nil {
				t.Fatal(err)
			}
			out := buf.String()
			assertNoHiddenText(t, tt.format, out)
			if !strings.Contains(out, digest) {
				t.Error("the rendering does not show the plan's own digest")
			}
			// The escapes are visible, so a reviewer sees something is there.
			for _, want := range []string{`x1b[8A`, `u202e`} {
				if !strings.Contains(out, want) {
					t.Errorf("the rendering does not show %s", want)
				}
			}
		})
	}
}

func TestRenderTextKeepsItsOwnColours(t *testing.T) {
	var buf bytes.Buffer
	if err := RenderText(&buf, controlPlan(), TextOptions{Color: true}); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if !strings.Contains(out, "\x1b[33m") || !strings.Contains(out, "\x1b[0m") {
		t.Fatal("colour is on but the rendering has no colour")
	}
	assertNoHiddenText(t, "text in colour", ownColours.ReplaceAllString(out, ""))
}

// TestRenderersCutLongText: a plan file can be edited, and a 10 MB title
// or note would push the changes off a reviewer's screen. Names, notes
// and reasons are cut like values, and shown whole with --full.
func TestRenderersCutLongText(t *testing.T) {
	p := samplePlan()
	long := strings.Repeat("t", 10<<20)
	p.Runbook.Title = long
	p.Steps[2].Instances[0].Notes = []string{long}
	p.Steps[2].Instances[0].Object = long
	for _, tt := range []struct {
		format string
		render func(*bytes.Buffer, bool) error
	}{
		{"text", func(b *bytes.Buffer, full bool) error { return RenderText(b, p, TextOptions{Full: full}) }},
		{"markdown", func(b *bytes.Buffer, full bool) error { return RenderMarkdown(b, p, RenderOptions{Full: full}) }},
		{"html", func(b *bytes.Buffer, full bool) error { return RenderHTML(b, p, RenderOptions{Full: full}) }},
	} {
		var cut, whole bytes.Buffer
		if err := tt.render(&cut, false); err != nil {
			t.Fatal(err)
		}
		if err := tt.render(&whole, true); err != nil {
			t.Fatal(err)
		}
		if cut.Len() > 100<<10 || !strings.Contains(cut.String(), "10485760 characters in all; cut") {
			t.Errorf("%s: %d bytes, and no note of the cut", tt.format, cut.Len())
		}
		if whole.Len() < 3*len(long) {
			t.Errorf("%s --full: %d bytes", tt.format, whole.Len())
		}
	}
}
