package lang

import (
	"testing"

	"github.com/zclconf/go-cty/cty"
)

func TestRedact(t *testing.T) {
	upn := MarkPII(cty.StringVal("alice@contoso.com"))
	secret := MarkSensitive(cty.StringVal("hunter2"))
	tests := []struct {
		name      string
		in        cty.Value
		redactPII bool
		want      cty.Value
	}{
		{"plain", cty.StringVal("x"), true, cty.StringVal("x")},
		{"sensitive", secret, false, cty.StringVal("(sensitive)")},
		{"pii shown", upn, false, cty.StringVal("alice@contoso.com")},
		{"pii redacted", upn, true, cty.StringVal("(pii)")},
		{"both marks, sensitive wins", MarkPII(secret), true, cty.StringVal("(sensitive)")},
		{"sensitive unknown", MarkSensitive(cty.UnknownVal(cty.String)), false, cty.StringVal("(sensitive)")},
		{"pii unknown kept unknown", MarkPII(cty.UnknownVal(cty.String)), false, cty.UnknownVal(cty.String)},
		{
			"object attribute",
			cty.ObjectVal(map[string]cty.Value{"upn": upn, "password": secret, "n": cty.NumberIntVal(1)}), true,
			cty.ObjectVal(map[string]cty.Value{"upn": cty.StringVal("(pii)"), "password": cty.StringVal("(sensitive)"), "n": cty.NumberIntVal(1)}),
		},
		{
			"list of numbers with one secret becomes a tuple",
			cty.ListVal([]cty.Value{cty.NumberIntVal(1), MarkSensitive(cty.NumberIntVal(2))}), false,
			cty.TupleVal([]cty.Value{cty.NumberIntVal(1), cty.StringVal("(sensitive)")}),
		},
		{
			"list of strings keeps its type when only unmarked",
			cty.ListVal([]cty.Value{cty.StringVal("a"), upn}), false,
			cty.ListVal([]cty.Value{cty.StringVal("a"), cty.StringVal("alice@contoso.com")}),
		},
		{
			"map becomes an object when a value is replaced",
			cty.MapVal(map[string]cty.Value{"a": cty.NumberIntVal(1), "b": MarkSensitive(cty.NumberIntVal(2))}), false,
			cty.ObjectVal(map[string]cty.Value{"a": cty.NumberIntVal(1), "b": cty.StringVal("(sensitive)")}),
		},
		{
			"map keeps its type",
			cty.MapVal(map[string]cty.Value{"a": upn}), false,
			cty.MapVal(map[string]cty.Value{"a": cty.StringVal("alice@contoso.com")}),
		},
		{
			"nested",
			cty.ObjectVal(map[string]cty.Value{"users": cty.TupleVal([]cty.Value{cty.ObjectVal(map[string]cty.Value{"upn": upn})})}), true,
			cty.ObjectVal(map[string]cty.Value{"users": cty.TupleVal([]cty.Value{cty.ObjectVal(map[string]cty.Value{"upn": cty.StringVal("(pii)")})})}),
		},
		{"null", cty.NullVal(cty.String), true, cty.NullVal(cty.String)},
	}
	for _, tc := range tests {
		got := Redact(tc.in, tc.redactPII)
		if got.ContainsMarked() {
			t.Errorf("%s: result still marked: %#v", tc.name, got)
			continue
		}
		if !got.RawEquals(tc.want) {
			t.Errorf("%s: Redact = %#v, want %#v", tc.name, got, tc.want)
		}
	}
}

func TestMarks(t *testing.T) {
	v := cty.ObjectVal(map[string]cty.Value{
		"upn":      MarkPII(cty.StringVal("a@x")),
		"password": MarkSensitive(cty.StringVal("p")),
	})
	if !HasSensitive(v) || !HasPII(v) {
		t.Errorf("HasSensitive/HasPII do not see nested marks")
	}
	if HasSensitive(MarkPII(cty.StringVal("a"))) || HasPII(MarkSensitive(cty.StringVal("a"))) {
		t.Errorf("one mark is taken for the other")
	}
	plain, marks := Unmark(v)
	if plain.ContainsMarked() || len(marks) != 2 {
		t.Fatalf("Unmark = %#v, %v", plain, marks)
	}
	back := Remark(plain, marks)
	if !back.RawEquals(v) {
		t.Errorf("Remark(Unmark(v)) = %#v, want %#v", back, v)
	}
}
