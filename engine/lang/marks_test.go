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

// TestHasMarkDeepAsCty holds HasSensitive and HasPII to cty's HasMarkDeep
// on values with marks at every depth: on the value, inside lists, sets,
// maps, tuples and objects, on nulls and unknowns.
func TestHasMarkDeepAsCty(t *testing.T) {
	leaf := func(i int) cty.Value {
		v := []cty.Value{cty.StringVal("a"), cty.NullVal(cty.String), cty.UnknownVal(cty.String), cty.NumberIntVal(int64(i))}[i%4]
		switch i % 7 {
		case 1:
			return v.Mark(Sensitive)
		case 2:
			return v.Mark(PII)
		case 3:
			return v.Mark("other")
		}
		return v
	}
	var vals []cty.Value
	for i := range 60 {
		l := leaf(i)
		vals = append(vals, l,
			cty.ListVal([]cty.Value{cty.StringVal("x"), cty.StringVal("y").Mark([]valueMark{"other", Sensitive, PII}[i%3])}),
			cty.TupleVal([]cty.Value{cty.True, l}),
			cty.ObjectVal(map[string]cty.Value{"a": cty.StringVal("s"), "b": cty.ObjectVal(map[string]cty.Value{"c": l})}),
			cty.MapVal(map[string]cty.Value{"k": cty.StringVal("v"), "l": cty.StringVal("w")}),
			cty.ObjectVal(map[string]cty.Value{"list": cty.ListVal([]cty.Value{cty.ObjectVal(map[string]cty.Value{"x": l})})}).Mark([]valueMark{"", Sensitive, PII}[i%3]),
			cty.SetVal([]cty.Value{cty.StringVal("p"), cty.StringVal("q")}).Mark([]valueMark{PII, "", Sensitive}[i%3]),
			cty.UnknownVal(cty.List(cty.String)).Mark([]valueMark{Sensitive, PII, ""}[i%3]),
		)
	}
	for _, v := range vals {
		for _, m := range []valueMark{Sensitive, PII} {
			if got, want := hasMarkDeep(v, m), v.HasMarkDeep(m); got != want {
				t.Fatalf("%#v: hasMarkDeep(%s) = %v, cty says %v", v, m, got, want)
			}
		}
	}
}

// BenchmarkHasSensitive asks whether an observed user of the 100,000-user
// fan-out (README, Measurements) holds a secret: through cty.Walk, and
// through hasMarkDeep.
func BenchmarkHasSensitive(b *testing.B) {
	v := cty.ObjectVal(map[string]cty.Value{
		"id": cty.StringVal("6e7b768e-07e2-4810-8459-485f84f8f204"), "upn": cty.StringVal("user00042@contoso.com"),
		"immutable_id": cty.StringVal("jnZ7buIHEEiEWUhfhPjyBA=="), "mail": cty.StringVal("user00042@contoso.com"),
		"proxy_addresses": cty.ListVal([]cty.Value{cty.StringVal("SMTP:user00042@contoso.com")}),
		"licenses":        cty.ListValEmpty(cty.String), "sync_enabled": cty.True, "last_sync": cty.NullVal(cty.String),
		"provisioning_errors": cty.ListValEmpty(cty.Object(map[string]cty.Type{"category": cty.String})),
	})
	b.Run("cty", func(b *testing.B) {
		for range b.N {
			_ = v.HasMarkDeep(Sensitive)
		}
	})
	b.Run("hasMarkDeep", func(b *testing.B) {
		for range b.N {
			_ = HasSensitive(v)
		}
	})
}
