package lang

import (
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
)

// valueMark is the type of rebind's value marks; a named type of its own
// keeps them apart from any other package's marks.
type valueMark string

const (
	// Sensitive marks a secret (a password, a client secret). A sensitive
	// value is never written to a plan, the journal or a log, and never
	// shown.
	Sensitive = valueMark("sensitive")
	// PII marks personal data (a UPN, an address). It is shown to the
	// operator but masked by --redact renderings.
	PII = valueMark("pii")
)

// String returns the mark's name.
func (m valueMark) String() string { return string(m) }

// Rendered placeholders for marked values.
const (
	SensitivePlaceholder = "(sensitive)"
	PIIPlaceholder       = "(pii)"
)

// MarkSensitive returns v marked as a secret.
func MarkSensitive(v cty.Value) cty.Value { return v.Mark(Sensitive) }

// MarkPII returns v marked as personal data.
func MarkPII(v cty.Value) cty.Value { return v.Mark(PII) }

// HasSensitive reports whether v or anything inside it is sensitive.
func HasSensitive(v cty.Value) bool { return hasMarkDeep(v, Sensitive) }

// HasPII reports whether v or anything inside it is personal data.
func HasPII(v cty.Value) bool { return hasMarkDeep(v, PII) }

// hasMarkDeep is cty's Value.HasMarkDeep without the path cty.Walk builds
// for every value it visits: it visits the same values (a marked value's
// elements after its own marks, nothing inside an unknown or null one),
// and a fan-out of 100,000 instances asks it of each one's observation.
func hasMarkDeep(v cty.Value, mark valueMark) bool {
	if v.IsMarked() {
		if v.HasMark(mark) {
			return true
		}
		v, _ = v.Unmark()
	}
	if v.IsNull() || !v.IsKnown() {
		return false
	}
	ty := v.Type()
	switch {
	case ty.IsObjectType():
		for name := range ty.AttributeTypes() {
			if hasMarkDeep(v.GetAttr(name), mark) {
				return true
			}
		}
	case v.CanIterateElements():
		for it := v.ElementIterator(); it.Next(); {
			if _, e := it.Element(); hasMarkDeep(e, mark) {
				return true
			}
		}
	}
	return false
}

// MarksInside reports whether v or anything inside it carries a mark, and
// whether one of them is Sensitive, in one walk that visits what
// hasMarkDeep visits and stops at the first sensitive value.
func MarksInside(v cty.Value) (marked, sensitive bool) {
	if v.IsMarked() {
		if v.HasMark(Sensitive) {
			return true, true
		}
		marked = true
		v, _ = v.Unmark()
	}
	if v.IsNull() || !v.IsKnown() {
		return marked, false
	}
	ty := v.Type()
	switch {
	case ty.IsObjectType():
		for name := range ty.AttributeTypes() {
			m, s := MarksInside(v.GetAttr(name))
			if s {
				return true, true
			}
			marked = marked || m
		}
	case v.CanIterateElements():
		for it := v.ElementIterator(); it.Next(); {
			_, e := it.Element()
			m, s := MarksInside(e)
			if s {
				return true, true
			}
			marked = marked || m
		}
	}
	return marked, false
}

// Unmark returns v without any mark, at any depth, and where each mark was,
// so that Remark can put them back after v has been stored or sent.
func Unmark(v cty.Value) (cty.Value, []cty.PathValueMarks) {
	return v.UnmarkDeepWithPaths()
}

// Remark puts back the marks Unmark took off.
func Remark(v cty.Value, marks []cty.PathValueMarks) cty.Value {
	return v.MarkWithPaths(marks)
}

// Redact returns v for display: every sensitive value, at any depth, is
// replaced by the string "(sensitive)", and when redactPII is set every
// personal value by "(pii)". The result carries no marks at all, so
// renderers can read it freely.
//
// A collection whose elements no longer share one type after replacement
// (a list of numbers with one sensitive number) becomes a tuple, a map an
// object, and a set a tuple in the set's order.
func Redact(v cty.Value, redactPII bool) cty.Value {
	out, _ := redact(v, redactPII)
	return out
}

// redact returns the redacted value and whether anything was replaced.
func redact(v cty.Value, redactPII bool) (cty.Value, bool) {
	v, marks := v.Unmark()
	if _, ok := marks[Sensitive]; ok {
		return cty.StringVal(SensitivePlaceholder), true
	}
	if _, ok := marks[PII]; ok && redactPII {
		return cty.StringVal(PIIPlaceholder), true
	}
	if !v.ContainsMarked() {
		return v, false
	}
	// Only a known, non-null collection or structure can contain marks
	// below its own.
	ty := v.Type()
	switch {
	case ty.IsListType() || ty.IsSetType() || ty.IsTupleType():
		elems := make([]cty.Value, 0, v.LengthInt())
		changed := false
		for it := v.ElementIterator(); it.Next(); {
			_, e := it.Element()
			e, c := redact(e, redactPII)
			changed = changed || c
			elems = append(elems, e)
		}
		switch {
		case ty.IsTupleType() || changed:
			return cty.TupleVal(elems), changed
		case ty.IsListType():
			return cty.ListVal(elems), false
		default:
			return cty.SetVal(elems), false
		}
	case ty.IsMapType() || ty.IsObjectType():
		attrs := make(map[string]cty.Value, v.LengthInt())
		changed := false
		for it := v.ElementIterator(); it.Next(); {
			k, e := it.Element()
			e, c := redact(e, redactPII)
			changed = changed || c
			attrs[k.AsString()] = e
		}
		if ty.IsMapType() && !changed {
			return cty.MapVal(attrs), false
		}
		return cty.ObjectVal(attrs), changed
	}
	unmarked, _ := v.UnmarkDeep()
	return unmarked, false
}

// SensitiveFunc is sensitive(value): value marked as a secret, for a
// secret the runbook reads from somewhere unmarked (a file).
var SensitiveFunc = markFunc(Sensitive, "Marks a value as a secret: it is never stored or shown.")

// PIIFunc is pii(value): value marked as personal data, for data the
// runbook reads from somewhere unmarked, such as UPNs from a CSV file, so
// that --redact renderings mask it.
var PIIFunc = markFunc(PII, "Marks a value as personal data: --redact renderings mask it.")

func markFunc(m valueMark, desc string) function.Function {
	return function.New(&function.Spec{
		Description: desc,
		Params: []function.Parameter{{
			Name: "value", Type: cty.DynamicPseudoType,
			AllowMarked: true, AllowUnknown: true, AllowNull: true, AllowDynamicType: true,
		}},
		Type: func(args []cty.Value) (cty.Type, error) { return args[0].Type(), nil },
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			return args[0].Mark(m), nil
		},
	})
}
