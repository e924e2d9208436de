package termtext

import (
	"bytes"
	"fmt"
	"io"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// Limits of what WriteDiagnostics shows of one diagnostic and of a set.
const (
	// MaxDiagnostics is how many diagnostics are written; the rest are
	// counted. A file of random bytes yields one per bad character.
	MaxDiagnostics = 10
	// maxSummary and maxDetail cut a Summary or a Detail that quotes a
	// long value.
	maxSummary = 300
	maxDetail  = 2000
	// maxSnippetLines is how many source lines a snippet shows: the lines
	// of the subject and, when they fit, of its context.
	maxSnippetLines = 10
	// maxLineBytes is how much of one source line a snippet shows, around
	// the subject: a 10 MB string on one line is not echoed whole.
	maxLineBytes = 200
	// maxQuotedValue cuts the strings a diagnostic quotes from its
	// evaluation context ("with var.x as ...").
	maxQuotedValue = 200
)

// DiagnosticOptions are hcl.NewDiagnosticTextWriter's settings.
type DiagnosticOptions struct {
	// Width wraps the detail text; 0 does not wrap.
	Width uint
	// Color adds hcl's ANSI colours to severities and the subject.
	Color bool
}

// WriteDiagnostics writes diags as hcl.NewDiagnosticTextWriter does over
// files (keyed by the Filename of the ranges), with what they quote made
// safe to show and bounded:
//
//   - Summary, Detail, file names, the block a subject is in and the values
//     quoted from the evaluation context have their control and bidi
//     characters shown as escapes (Line, Block) and are cut when long;
//   - a source snippet is taken from a copy of the lines it shows, escaped
//     the same way, each line cut to a window around the subject, with the
//     ranges moved to match, so the subject stays highlighted;
//   - at most MaxDiagnostics are written (errors before warnings), then a
//     line that counts the rest.
//
// hcl's writer reads the whole file for each snippet, so a file of random
// bytes, with a diagnostic for each bad character, took time quadratic in
// its size; here each snippet costs the length of its lines.
func WriteDiagnostics(w io.Writer, files map[string]*hcl.File, diags hcl.Diagnostics, opt DiagnosticOptions) error {
	shown, moreErrors, moreWarnings := pickDiagnostics(diags)
	for _, d := range shown {
		c, cfiles := safeDiagnostic(d, files)
		wr := hcl.NewDiagnosticTextWriter(w, cfiles, opt.Width, opt.Color)
		if err := wr.WriteDiagnostic(c); err != nil {
			return err
		}
	}
	if moreErrors+moreWarnings == 0 {
		return nil
	}
	var parts []string
	if moreErrors > 0 {
		parts = append(parts, count(moreErrors, "more error"))
	}
	if moreWarnings > 0 {
		parts = append(parts, count(moreWarnings, "more warning"))
	}
	_, err := fmt.Fprintf(w, "...and %s.\n\n", strings.Join(parts, " and "))
	return err
}

func count(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// pickDiagnostics returns the diagnostics to write, in their order: the
// first errors, then warnings, MaxDiagnostics in all; and how many of each
// are left out.
func pickDiagnostics(diags hcl.Diagnostics) (hcl.Diagnostics, int, int) {
	if len(diags) <= MaxDiagnostics {
		return diags, 0, 0
	}
	var keep []int
	for pass := 0; pass < 2 && len(keep) < MaxDiagnostics; pass++ {
		for i, d := range diags {
			if (d.Severity == hcl.DiagError) == (pass == 0) && len(keep) < MaxDiagnostics {
				keep = append(keep, i)
			}
		}
	}
	sort.Ints(keep)
	out := make(hcl.Diagnostics, 0, len(keep))
	kept := map[int]bool{}
	for _, i := range keep {
		out = append(out, diags[i])
		kept[i] = true
	}
	var errs, warns int
	for i, d := range diags {
		if kept[i] {
			continue
		}
		if d.Severity == hcl.DiagError {
			errs++
		} else {
			warns++
		}
	}
	return out, errs, warns
}

// safeDiagnostic returns a copy of d that is safe to write, and the files
// its ranges name: a snippet of d's source, never the file itself.
func safeDiagnostic(d *hcl.Diagnostic, files map[string]*hcl.File) (*hcl.Diagnostic, map[string]*hcl.File) {
	c := *d
	c.Summary = Line(Clip(d.Summary, maxSummary))
	c.Detail = Block(Clip(d.Detail, maxDetail))
	if c.Expression != nil && c.EvalContext != nil {
		c.EvalContext = quotedValues(c.Expression, c.EvalContext)
	}
	if d.Subject == nil {
		c.Context = nil
		return &c, nil
	}
	subj := *d.Subject
	var ctx *hcl.Range
	if d.Context != nil && d.Context.Filename == subj.Filename {
		r := *d.Context
		ctx = &r
	}
	name := Line(Clip(subj.Filename, maxSummary))
	f := files[subj.Filename]
	var out map[string]*hcl.File
	if f != nil && f.Bytes != nil {
		var src []byte
		src, subj, ctx = snippet(f.Bytes, subj, ctx)
		out = map[string]*hcl.File{name: {Bytes: src, Nav: blockName{nav: f.Nav, offset: d.Subject.Start.Byte}}}
	}
	subj.Filename = name
	c.Subject = &subj
	c.Context = nil
	if ctx != nil {
		ctx.Filename = name
		c.Context = ctx
	}
	return &c, out
}

// blockName gives hcl's writer the name of the block a subject is in
// ("in step "file" "x""), escaped: labels are the author's text. The
// writer asks with the offset in the snippet; the offset in the file is
// kept here.
type blockName struct {
	nav    any
	offset int
}

// ContextString is what hcl's writer calls on a file's Nav.
func (b blockName) ContextString(int) string {
	cs, ok := b.nav.(interface{ ContextString(offset int) string })
	if !ok {
		return ""
	}
	return Line(Clip(cs.ContextString(b.offset), maxSummary))
}

// snippet copies the lines of src that a diagnostic's subject (and
// context) cover into a new source, escaped and cut, and returns the ranges
// moved into it. Newlines before the first line keep the line numbers that
// hcl's writer counts.
func snippet(src []byte, subj hcl.Range, ctx *hcl.Range) ([]byte, hcl.Range, *hcl.Range) {
	clamp := func(b int) int { return max(0, min(b, len(src))) }
	start, end := clamp(subj.Start.Byte), clamp(subj.End.Byte)
	if end < start {
		end = start
	}
	if ctx != nil {
		cs, ce := clamp(ctx.Start.Byte), clamp(ctx.End.Byte)
		lines := bytes.Count(src[min(start, cs):max(end, ce)], []byte{'\n'})
		if lines < maxSnippetLines {
			start, end = min(start, cs), max(end, ce)
		} else {
			ctx = nil // too long to show: the subject alone
		}
	}
	first := bytes.LastIndexByte(src[:start], '\n') + 1
	lineNo := bytes.Count(src[:first], []byte{'\n'})

	var out bytes.Buffer
	out.WriteString(strings.Repeat("\n", lineNo))
	m := posMap{{orig: 0, new: out.Len()}}
	hiStart := clamp(subj.Start.Byte)
	ls := first
	for n := 0; n < maxSnippetLines && ls <= len(src); n++ {
		le := len(src)
		if i := bytes.IndexByte(src[ls:], '\n'); i >= 0 {
			le = ls + i
		}
		text := le
		if text > ls && src[text-1] == '\r' {
			text-- // CRLF: the writer drops the CR
		}
		m = writeLine(&out, m, src, ls, text, hiStart)
		m = append(m, posPair{orig: le, new: out.Len()})
		if le >= len(src) || le >= end {
			break
		}
		out.WriteByte('\n')
		ls = le + 1
		m = append(m, posPair{orig: ls, new: out.Len()})
	}
	m = append(m, posPair{orig: len(src) + 1, new: out.Len()})
	text := out.Bytes()
	if text == nil {
		text = []byte{} // nil would read as "source code not available"
	}
	move := func(r hcl.Range) hcl.Range {
		r.Start.Byte, r.End.Byte = m.at(clamp(r.Start.Byte)), m.at(clamp(r.End.Byte))
		return r
	}
	subj = move(subj)
	if ctx != nil {
		r := move(*ctx)
		ctx = &r
	}
	return text, subj, ctx
}

// writeLine writes src[ls:le], one source line without its newline, to
// out: escaped, and when longer than maxLineBytes, cut to a window around
// hi (the subject's start, when on this line) with "..." where it was
// cut. It records where each character of the window lands.
func writeLine(out *bytes.Buffer, m posMap, src []byte, ls, le, hi int) posMap {
	ws, we := ls, le
	if le-ls > maxLineBytes {
		ws = ls
		if hi > ls && hi <= le {
			ws = max(ls, hi-maxLineBytes/3)
		}
		we = min(le, ws+maxLineBytes)
		ws = max(ls, we-maxLineBytes)
		for ws < we && !utf8.RuneStart(src[ws]) {
			ws++
		}
		for we < le && we > ws && !utf8.RuneStart(src[we]) {
			we--
		}
	}
	if ws > ls {
		out.WriteString("...")
	}
	for i := ws; i < we; {
		m = append(m, posPair{orig: i, new: out.Len()})
		r, size := utf8.DecodeRune(src[i:we])
		switch {
		case r == '\t':
			out.WriteByte('\t')
		case r == utf8.RuneError && size == 1, Hidden(r):
			out.WriteString(Line(string(src[i : i+size])))
		default:
			out.Write(src[i : i+size])
		}
		i += size
	}
	m = append(m, posPair{orig: we, new: out.Len()})
	if we < le {
		out.WriteString("...")
	}
	return m
}

// posMap maps byte offsets in a source to offsets in its snippet: each
// pair is where an original offset landed, in increasing order; an offset
// between two pairs (in a cut part of a line) maps to the first.
type posMap []posPair

type posPair struct{ orig, new int }

func (m posMap) at(orig int) int {
	i := sort.Search(len(m), func(i int) bool { return m[i].orig > orig })
	if i == 0 {
		return m[0].new
	}
	return m[i-1].new
}

// quotedValues is the part of ctx that hcl's writer quotes for expr ("with
// var.x as ..."), with long strings cut: the writer quotes strings whole
// (escaped by %q), so a 10 MB variable would be echoed.
func quotedValues(expr hcl.Expression, ctx *hcl.EvalContext) *hcl.EvalContext {
	vars := map[string]cty.Value{}
	for _, tr := range expr.Variables() {
		root := tr.RootName()
		if _, done := vars[root]; done {
			continue
		}
		for c := ctx; c != nil; c = c.Parent() {
			if v, ok := c.Variables[root]; ok {
				vars[root] = clipStrings(v)
				break
			}
		}
	}
	return &hcl.EvalContext{Variables: vars}
}

// clipStrings cuts every long string in v, keeping its marks.
func clipStrings(v cty.Value) cty.Value {
	uv, pvm := v.UnmarkDeepWithPaths()
	out, err := cty.TransformWithTransformer(uv, clipTransformer{})
	if err != nil {
		return cty.DynamicVal
	}
	return out.MarkWithPaths(pvm)
}

type clipTransformer struct{}

func (clipTransformer) Enter(p cty.Path, v cty.Value) (cty.Value, error) { return v, nil }

func (clipTransformer) Exit(p cty.Path, v cty.Value) (cty.Value, error) {
	if v.Type() == cty.String && v.IsKnown() && !v.IsNull() && len(v.AsString()) > maxQuotedValue {
		return cty.StringVal(Clip(v.AsString(), maxQuotedValue)), nil
	}
	return v, nil
}
