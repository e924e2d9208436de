package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/rebind-dev/rebind/engine/lang"
	"github.com/rebind-dev/rebind/engine/plan"
	"github.com/rebind-dev/rebind/steps"
)

func symbol(a steps.Action) string {
	switch a {
	case steps.Create:
		return "+"
	case steps.Update:
		return "~"
	case steps.Delete:
		return "-"
	case steps.Run:
		return "!"
	}
	return " "
}

func errDiag(summary string, err error) *hcl.Diagnostic {
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: err.Error() + ".", Extra: err}
}

// diagText flattens diagnostics to one line per error, for the journal.
func diagText(diags hcl.Diagnostics) string {
	var parts []string
	for _, d := range diags {
		if d.Severity != hcl.DiagError {
			continue
		}
		s := d.Summary
		if d.Detail != "" {
			s += ": " + d.Detail
		}
		if d.Subject != nil {
			s = fmt.Sprintf("%s:%d: %s", d.Subject.Filename, d.Subject.Start.Line, s)
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "; ")
}

// Diagnostic is an error diagnostic as apply keeps it, in its report and in
// the journal's failure record: what hcl.Diagnostic says, with its source
// range and the values the failing expression referred to, rather than a
// flattened line. Its texts and values hold no secret: sensitive values
// read "(sensitive)" and known secrets are scrubbed (keptDiags).
type Diagnostic struct {
	Summary string `json:"summary"`
	Detail  string `json:"detail,omitempty"`
	// Range is where in the runbook the diagnostic points (hcl's
	// Diagnostic.Subject); nil when it points nowhere.
	Range *SourceRange `json:"range,omitempty"`
	// Values are the values of the variables and references the failing
	// expression uses, as they were when it was evaluated.
	Values []ExprValue `json:"values,omitempty"`
}

// SourceRange is a span of a runbook file; lines and columns count from 1.
type SourceRange struct {
	Filename  string `json:"filename"`
	Line      int    `json:"line"`
	Column    int    `json:"column"`
	EndLine   int    `json:"end_line"`
	EndColumn int    `json:"end_column"`
}

// String is the range's start as file:line:col.
func (r SourceRange) String() string {
	return fmt.Sprintf("%s:%d:%d", r.Filename, r.Line, r.Column)
}

// ExprValue is one reference of a failing expression and its value.
type ExprValue struct {
	// Expr is the reference as written, e.g. `self.observed.value`; for a
	// change rollback did not revert, `change.before` (what the revert
	// was to write back) and `change.after` (what the run wrote), as the
	// journal recorded them.
	Expr string `json:"expr"`
	// Value is the value as JSON; absent when Omitted says why not.
	Value json.RawMessage `json:"value,omitempty"`
	// Omitted says why the value is not shown (too long to keep).
	Omitted string `json:"omitted,omitempty"`
}

// Text is the value as `runs show` and the apply report print it.
func (v ExprValue) Text() string {
	if v.Omitted != "" {
		return v.Expr + ": " + v.Omitted
	}
	return v.Expr + " = " + string(v.Value)
}

// String is the diagnostic on one line, `file:line: summary: detail`, as
// diagText wrote it.
func (d Diagnostic) String() string {
	s := d.Summary
	if d.Detail != "" {
		s += ": " + d.Detail
	}
	if d.Range != nil {
		s = fmt.Sprintf("%s:%d: %s", d.Range.Filename, d.Range.Line, s)
	}
	return s
}

// scrub passes every text of d through sc.
func (d *Diagnostic) scrub(sc func(string) string) {
	d.Summary, d.Detail = sc(d.Summary), sc(d.Detail)
	for i := range d.Values {
		v := &d.Values[i]
		v.Expr, v.Omitted = sc(v.Expr), sc(v.Omitted)
		if v.Value != nil {
			if t := sc(string(v.Value)); t != string(v.Value) {
				// A secret inside a JSON string: the redaction
				// marker is plain text, so the value stays JSON.
				v.Value = json.RawMessage(t)
				if !json.Valid(v.Value) {
					v.Value, v.Omitted = nil, "holds a secret, so it is not shown"
				}
			}
		}
	}
}

// maxValueText is the longest value text a diagnostic keeps: a condition
// may refer to a whole fan-out step of 100,000 instances.
const maxValueText = 2000

// diagError carries diagnostics through apply's error paths, so that a
// failure keeps them (keptDiags) and not only their text, which is
// what Error returns, as the journal and the report always showed it.
type diagError struct{ diags hcl.Diagnostics }

func (e *diagError) Error() string { return diagText(e.diags) }

// diagsError is diags as an error.
func diagsError(diags hcl.Diagnostics) error { return &diagError{diags: diags} }

// keptDiags turns the error diagnostics carried by err into Diagnostics,
// with secrets scrubbed by sc. The values a diagnostic's expression refers
// to are looked up in its EvalContext the way hcl's own text writer does
// (hcl/v2 diagnostic_text.go: Expression.Variables, Traversal.TraverseAbs,
// unknown values and failing references skipped) and redacted as the plan
// redacts them (lang.Redact: every value marked sensitive reads
// "(sensitive)"). nil when err carries none.
func keptDiags(err error, sc func(string) string) []Diagnostic {
	var de *diagError
	if !errors.As(err, &de) {
		return nil
	}
	return toDiagnostics(de.diags, sc)
}

func toDiagnostics(diags hcl.Diagnostics, sc func(string) string) []Diagnostic {
	var out []Diagnostic
	for _, d := range diags {
		if d.Severity != hcl.DiagError {
			continue
		}
		k := Diagnostic{Summary: d.Summary, Detail: d.Detail}
		if d.Subject != nil {
			k.Range = sourceRange(*d.Subject)
		}
		if d.Expression != nil && d.EvalContext != nil {
			k.Values = exprValues(d.Expression, d.EvalContext)
		}
		k.scrub(sc)
		out = append(out, k)
	}
	return out
}

func exprValues(expr hcl.Expression, ctx *hcl.EvalContext) []ExprValue {
	var out []ExprValue
	seen := map[string]bool{}
	for _, tr := range expr.Variables() {
		v, d := tr.TraverseAbs(ctx)
		if d.HasErrors() || !v.IsWhollyKnown() {
			continue
		}
		name := traversalText(tr)
		if seen[name] {
			continue
		}
		seen[name] = true
		out = append(out, exprValue(name, v))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Expr < out[j].Expr })
	return out
}

// exprValue is v as a diagnostic keeps it under name: redacted as the
// plan redacts it (lang.Redact), or omitted when longer than maxValueText.
func exprValue(name string, v cty.Value) ExprValue {
	text := plan.EncodeValue(lang.Redact(v, false))
	ev := ExprValue{Expr: name}
	if len(text) > maxValueText {
		ev.Omitted = fmt.Sprintf("a value of %d bytes, too long to keep", len(text))
	} else {
		ev.Value = json.RawMessage(text)
	}
	return ev
}

// sourceRange is r as a diagnostic keeps it.
func sourceRange(r hcl.Range) *SourceRange {
	return &SourceRange{Filename: r.Filename, Line: r.Start.Line, Column: r.Start.Column,
		EndLine: r.End.Line, EndColumn: r.End.Column}
}

// traversalText writes a reference as the runbook would: var.x,
// self.observed["k"], step.a.b[0].
func traversalText(tr hcl.Traversal) string {
	var b strings.Builder
	for _, step := range tr {
		switch s := step.(type) {
		case hcl.TraverseRoot:
			b.WriteString(s.Name)
		case hcl.TraverseAttr:
			b.WriteString("." + s.Name)
		case hcl.TraverseIndex:
			k, _ := s.Key.Unmark()
			switch {
			case !k.IsKnown() || k.IsNull():
				b.WriteString("[?]")
			case k.Type() == cty.String:
				fmt.Fprintf(&b, "[%q]", k.AsString())
			case k.Type() == cty.Number:
				b.WriteString("[" + k.AsBigFloat().Text('f', -1) + "]")
			default:
				b.WriteString("[?]")
			}
		case hcl.TraverseSplat:
			b.WriteString("[*]")
		}
	}
	return b.String()
}
