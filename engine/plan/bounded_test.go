package plan

import (
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"
)

// redactedForTest is how the engine's redaction shows a value marked
// "secret" in these tests.
func redactedForTest(marks cty.ValueMarks) (string, bool) {
	if _, ok := marks["secret"]; ok {
		return "(sensitive)", true
	}
	return "", false
}

// redactForTest replaces values marked "secret" the way lang.Redact does,
// by rebuilding the value, for EncodeValue to compare with.
func redactForTest(v cty.Value) cty.Value {
	out, _ := cty.Transform(v, func(_ cty.Path, x cty.Value) (cty.Value, error) {
		if x.HasMark("secret") {
			return cty.StringVal("(sensitive)"), nil
		}
		return x, nil
	})
	return out
}

// TestEncodeValueWithinIsEncodeValue: within its limit EncodeValueWithin
// gives EncodeValue's bytes (of the value redacted), whatever the value
// holds; past it, nothing, and the length EncodeValue's bytes have.
func TestEncodeValueWithinIsEncodeValue(t *testing.T) {
	big := make([]cty.Value, 500)
	for i := range big {
		big[i] = cty.ObjectVal(map[string]cty.Value{"upn": cty.StringVal(strings.Repeat("u", i%7) + "@contoso.example"), "n": cty.NumberIntVal(int64(i))})
	}
	cases := map[string]cty.Value{
		"null":             cty.NullVal(cty.DynamicPseudoType),
		"unknown":          cty.UnknownVal(cty.String),
		"escapes":          cty.StringVal("<a href=\"x\">&amp;</a>\u2028\x01\xffé"),
		"numbers":          cty.TupleVal([]cty.Value{cty.NumberIntVal(-12), cty.NumberFloatVal(1.25), cty.NumberFloatVal(1e300), cty.PositiveInfinity}),
		"empty":            cty.ObjectVal(map[string]cty.Value{"l": cty.ListValEmpty(cty.String), "m": cty.MapValEmpty(cty.Bool), "o": cty.EmptyObjectVal}),
		"sets and maps":    cty.ObjectVal(map[string]cty.Value{"s": cty.SetVal([]cty.Value{cty.StringVal("b"), cty.StringVal("a")}), "m": cty.MapVal(map[string]cty.Value{"z": cty.True, "<k>": cty.False})}),
		"secret":           cty.ObjectVal(map[string]cty.Value{"password": cty.StringVal("pw").Mark("secret"), "user": cty.StringVal("u")}),
		"secret in a list": cty.ListVal([]cty.Value{cty.StringVal("a"), cty.StringVal("pw")}).Mark("other"),
		"nested secret":    cty.MapVal(map[string]cty.Value{"a": cty.ObjectVal(map[string]cty.Value{"x": cty.NullVal(cty.String).Mark("secret")})}),
		"other marks":      cty.ObjectVal(map[string]cty.Value{"upn": cty.StringVal("u@x").Mark("pii")}),
		"rows":             cty.ListVal(big),
		"mixed rows":       cty.TupleVal([]cty.Value{cty.EmptyObjectVal, cty.ObjectVal(map[string]cty.Value{"b": cty.True, "a": cty.StringVal("x")}), cty.ObjectVal(map[string]cty.Value{"a": cty.False})}),
	}
	for name, v := range cases {
		want := EncodeValue(redactForTest(v))
		for _, limit := range []int{len(want), len(want) - 1, len(want) / 2, 0, 1 << 20} {
			got, n := EncodeValueWithin(v, limit, redactedForTest)
			if n != len(want) {
				t.Errorf("%s, limit %d: length %d, want %d", name, limit, n, len(want))
			}
			switch {
			case limit >= len(want) && string(got) != string(want):
				t.Errorf("%s, limit %d:\n got %s\nwant %s", name, limit, got, want)
			case limit < len(want) && got != nil:
				t.Errorf("%s, limit %d: got %d bytes past the limit", name, limit, len(got))
			}
		}
	}
}
